"""Settings -> Audit Log: every recorded change, newest first, with live search and pages.

Built like the API Keys list: a request from htmx gets the rows fragment, the same URL opened
directly gets the whole page. Read-only: no route here (or anywhere) edits or deletes events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, make_response, render_template, request, url_for
from flask_wtf.csrf import CSRFError

from app import audit, audit_display
from app.audit_display import COLUMNS
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


@dataclass(frozen=True)
class LogParams(ListQuery):
    """What the log shows: search text and page."""

    q: str = param("", "Search")
    page: int = param(1, "Page")


def _render(template: str, status: int, page: audit.EventPage, **context: Any) -> Response:
    # Each event as people read it (app.audit_display), under the log's columns.
    events = [audit_display.shown(event) for event in page.events]
    html = render_template(template, page=page, events=events, columns=COLUMNS, **context)
    return make_response(html, status)


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
