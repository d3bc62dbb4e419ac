"""Settings -> Audit Log: every recorded change, newest first, with live search and pages.

Built like the API Keys list: a request from htmx gets the rows fragment, the same URL opened
directly gets the whole page. Read-only: no route here (or anywhere) edits or deletes events.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from flask import Blueprint, Response, make_response, render_template, request, url_for
from flask_wtf.csrf import CSRFError

from app import audit, untrusted
from app.panel import guards, session_lifetime
from app.panel.htmx import htmx, no_store, vary_on_htmx
from app.panel.listing import MAX_PAGE, argument_errors

bp = Blueprint("audit_log", __name__, url_prefix="/settings/audit-log")
# The session's age first: an expired session must not pass as signed in.
bp.before_request(session_lifetime.check_session)
bp.before_request(guards.require_admin)
bp.after_request(no_store)
bp.register_error_handler(CSRFError, guards.csrf_failed)
bp.register_error_handler(403, guards.forbidden)

PER_PAGE = 50

# How the fields of an event's details are named on the page.
FIELD_LABELS = {
    "name": "Name",
    "owner": "Owner",
    "abilities": "Abilities",
    "rate_limit": "Rate limit",
    "expires_at": "Expires at",
    "allowed_ips": "Allowed IPs",
    "description": "Description",
    "email": "Email",
    "kind": "Kind",
}


@dataclass(frozen=True)
class LogParams:
    """What the log shows: search text and page."""

    q: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Any) -> LogParams:
        """Read the params from a query string (hostile values are refused by ``argument_errors``)."""
        try:
            page = min(max(untrusted.parse_whole_number(args.get("page", "1")), 1), MAX_PAGE)
        except ValueError:
            page = 1
        q = args.get("q", "")
        return cls(q="" if untrusted.control_character_error(q) else q, page=page)

    def query_args(self, **changes: Any) -> dict[str, Any]:
        """URL arguments for these params with ``changes``, leaving defaults out of the URL."""
        params = replace(self, **changes)
        args: dict[str, Any] = {}
        if params.q:
            args["q"] = params.q
        if params.page != 1:
            args["page"] = params.page
        return args


@dataclass(frozen=True)
class DetailLine:
    """One line of an event's details: a field, and its value or its change old -> new."""

    label: str
    value: str
    old: str | None = None
    changed: bool = False


def _text(value: Any) -> str:
    if value is None or value == [] or value == "":
        return "(none)"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def describe(details: dict[str, Any]) -> list[DetailLine]:
    """An event's details as readable lines; a change reads old -> new."""
    lines: list[DetailLine] = []
    changes = details.get("changes")
    if isinstance(changes, dict):
        for name, change in changes.items():
            old = change.get("old") if isinstance(change, dict) else None
            new = change.get("new") if isinstance(change, dict) else change
            lines.append(DetailLine(FIELD_LABELS.get(name, name), _text(new), _text(old), changed=True))
    for name, value in details.items():
        # A new key's unset fields (no expiry, no description) would only add noise.
        if name != "changes" and value not in (None, [], ""):
            lines.append(DetailLine(FIELD_LABELS.get(name, name), _text(value)))
    return lines


# A template global, so any page can include panel/audit_log/_event.html (a key's own history).
bp.add_app_template_global(describe, "describe_audit_details")


def _render(template: str, status: int, **context: Any) -> Response:
    return make_response(render_template(template, **context), status)


@bp.get("")
def index() -> Response:
    """The Audit Log page, or just its rows when htmx asks (search, page)."""
    params = LogParams.from_args(request.args)
    errors = argument_errors(request.args)
    if errors:
        # A refused query is never run; htmx swaps the 422 with the message in the table.
        page, status = audit.EventPage(events=[], page=params.page, has_next=False), 422
    else:
        page, status = audit.search_events(params.q, params.page, PER_PAGE), 200
    if htmx().wants_fragment:
        response = _render("panel/audit_log/_rows.html", status, page=page, params=params, errors=errors)
        # Push the canonical URL (defaults left out); a refused query is not pushed at all.
        url = url_for("audit_log.index", **params.query_args())
        response.headers["HX-Push-Url"] = "false" if errors else url
    else:
        response = _render("panel/audit_log/index.html", status, page=page, params=params, errors=errors)
    return vary_on_htmx(response)
