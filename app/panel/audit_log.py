"""Settings -> Audit Log: every recorded change, newest first, with live search, filters by
action and date range, pages, and "Export CSV" of exactly the filtered events.

Built like the API Keys list: a request from htmx gets the rows fragment, the same URL opened
directly gets the whole page. Every filter is a parameter of the URL (``LogParams``, read by
``app.panel.list_params``). A value that cannot be read (an unknown action, a date that is no
date, a control character) is a 422 with the message in the table, like the list's other
parameters; a ``from`` after its ``to`` reads fine but asks for nothing, and is a 400 saying
so. Either way no query runs. Read-only: no route here (or anywhere) edits or deletes events.

``from`` and ``to`` are ISO 8601 dates or times (no zone: UTC), both included; a ``to`` given as
a date (what the page's date inputs send) runs to the end of that day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from flask import (
    Response,
    make_response,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from app import audit
from app.audit import display as audit_display
from app.audit import export as audit_export
from app.audit.display import COLUMNS
from app.models.audit import ACTIONS
from app.models.types import utcnow
from app.panel import guards
from app.panel.htmx import htmx, vary_on_htmx
from app.panel.list_params import ListQuery, param

bp = guards.admin_blueprint("audit_log", __name__, url_prefix="/settings/audit-log")

PER_PAGE = 50
_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class LogParams(ListQuery):
    """What the log shows: search text, action, date range (from, to; both included) and page."""

    q: str = param("", "Search")
    action: str = param("", "Action", choices=ACTIONS, strict=True)
    since: str = param("", "From", arg="from", instant=True)
    until: str = param("", "To", arg="to", instant=True)
    page: int = param(1, "Page")

    def filters(self) -> dict[str, Any]:
        """The filters as ``audit.event_query`` takes them (the search text included)."""
        until = self.instant("until")
        if until is not None and _DATE_ONLY.fullmatch(self.until):
            until = datetime.combine(until.date(), time.max, tzinfo=until.tzinfo)
        return {"q": self.q, "action": self.action or None, "since": self.instant("since"), "until": until}

    def range_error(self) -> str | None:
        """The message for a ``from`` later than its ``to``, or None."""
        filters = self.filters()
        if (
            filters["since"] is not None
            and filters["until"] is not None
            and filters["since"] > filters["until"]
        ):
            return f"From ({self.since}) is after To ({self.until}): choose a From on or before the To."
        return None


def _render(template: str, status: int, page: audit.EventPage, **context: Any) -> Response:
    # Each event as people read it (app.audit.display), under the log's columns.
    events = [audit_display.shown(event) for event in page.events]
    html = render_template(template, page=page, events=events, columns=COLUMNS, actions=ACTIONS, **context)
    return make_response(html, status)


def _refusal(params: LogParams) -> tuple[list[str], int]:
    """What is wrong with the request's parameters and its status (422 or 400); ([], 200) when fine."""
    errors = LogParams.argument_errors(request.args)
    if errors:
        return errors, 422
    problem = params.range_error()
    return ([problem], 400) if problem else ([], 200)


@bp.get("")
def index() -> Response:
    """The Audit Log page, or just its rows when htmx asks (search, filters, page)."""
    params = LogParams.from_args(request.args)
    errors, status = _refusal(params)
    if errors:
        # A refused query is never run; htmx swaps the 422 with the message in the table.
        page = audit.EventPage(events=[], page=params.page, has_next=False)
    else:
        page = audit.search_events(page=params.page, per_page=PER_PAGE, **params.filters())
    if htmx().wants_fragment:
        if status == 400:
            # Not swapped by htmx (only 422 is): the panel's script shows the line.
            return vary_on_htmx(guards.error_response(errors[0], 400))
        response = _render(
            "panel/audit_log/_rows.html", status, page=page, params=params, errors=errors, oob_export=True
        )
        # Push the canonical URL (defaults left out); a refused query is not pushed at all.
        url = url_for("audit_log.index", **params.query_args())
        response.headers["HX-Push-Url"] = "false" if errors else url
    else:
        response = _render("panel/audit_log/index.html", status, page=page, params=params, errors=errors)
    return vary_on_htmx(response)


@bp.get("/export.csv")
def export() -> Response:
    """Every event the log's filters select (not just a page), as CSV, streamed a batch at a time."""
    params = LogParams.from_args(request.args)
    errors, status = _refusal(params)
    if errors:
        return guards.error_response(" ".join(errors), status)
    rows = audit.stream_events(**params.filters())
    response = Response(stream_with_context(audit_export.csv_lines(rows)), mimetype="text/csv")
    name = f"audit-log-{utcnow():%Y%m%dT%H%M%SZ}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
