"""Settings -> Audit Log: every recorded change, newest first, with live search and pages.

Built like the API Keys list: a request from htmx gets the rows fragment, the same URL opened
directly gets the whole page. Read-only: no route here (or anywhere) edits or deletes events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, make_response, render_template, request, url_for
from flask_wtf.csrf import CSRFError

from app import audit
from app.panel import guards, session_lifetime
from app.panel.htmx import htmx, no_store, vary_on_htmx
from app.panel.list_params import ListQuery, param

bp = Blueprint("audit_log", __name__, url_prefix="/settings/audit-log")
# The session's age first: an expired session must not pass as signed in.
bp.before_request(session_lifetime.check_session)
bp.before_request(guards.require_admin)
bp.after_request(no_store)
bp.register_error_handler(CSRFError, guards.csrf_failed)
bp.register_error_handler(403, guards.forbidden)

PER_PAGE = 50
# The log's columns: key -> header (and each cell's label).
COLUMNS = {
    "time": "Time",
    "actor": "Actor",
    "action": "Action",
    "key_prefix": "Key Prefix",
    "details": "Details",
    "address": "Address",
}

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
class LogParams(ListQuery):
    """What the log shows: search text and page."""

    q: str = param("", "Search")
    page: int = param(1, "Page")


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


# Template globals, so any page can include panel/audit_log/_event.html (a key's own history).
bp.add_app_template_global(describe, "describe_audit_details")
bp.add_app_template_global(COLUMNS, "audit_columns")


def _render(template: str, status: int, **context: Any) -> Response:
    return make_response(render_template(template, **context), status)


@bp.get("")
def index() -> Response:
    """The Audit Log page, or just its rows when htmx asks (search, page)."""
    params = LogParams.from_args(request.args)
    errors = LogParams.argument_errors(request.args)
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
