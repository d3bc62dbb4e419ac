"""Settings -> Audit Log: filters by action and date range in the URL, and "Export CSV" of
exactly the filtered events (streamed, spreadsheet-safe)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import audit
from app.audit.display import COLUMNS
from app.extensions import db
from app.models.audit import ACTIONS
from tests.audit_helpers import event_count
from tests.panel.conftest import PanelClient
from tests.panel.refusals import assert_refused

# Both databases: the filters' SQL and the export's batched read (a server-side cursor on PostgreSQL).
pytestmark = pytest.mark.both_databases

URL = "/settings/audit-log"
EXPORT = f"{URL}/export.csv"


def _rows(html: str) -> list[str]:
    """The key prefix of each event row, top to bottom."""
    return re.findall(r'<tr class="audit-event".*?<code>(sgk_\w+)</code>', html, re.S)


def _at(app: Flask, prefix: str, when: str, action: str = "key.activated", **kwargs: Any) -> None:
    """Store one event at ``when`` (ISO 8601, UTC)."""
    with app.app_context():
        event = audit.record(action, actor=kwargs.pop("actor", "cli"), key_prefix=prefix, **kwargs)
        event.created_at = datetime.fromisoformat(when).replace(tzinfo=UTC)
        db.session.commit()


@pytest.fixture
def march(app: Flask) -> None:
    """Events around 2 and 3 March 2026: just outside, at the edges, and inside."""
    _at(app, "sgk_FEB28LAT", "2026-03-01T23:59:59")
    _at(app, "sgk_MAR02STA", "2026-03-02T00:00:00", action="key.revoked")
    _at(app, "sgk_MAR02MID", "2026-03-02T12:00:00")
    _at(app, "sgk_MAR03END", "2026-03-03T23:59:59", action="key.revoked")
    _at(app, "sgk_MAR04STA", "2026-03-04T00:00:00", action="key.revoked")


def test_action_select_offers_every_event_name(signed_in: PanelClient) -> None:
    html = signed_in.get(URL).text
    select = re.search(r'<select id="audit-action".*?</select>', html, re.S)
    assert select is not None
    assert re.findall(r'<option value="([^"]*)"', select.group(0)) == ["", *ACTIONS]
    assert '<label for="audit-from">From (UTC)</label>' in html and 'type="date" name="to"' in html


def test_action_filter_shows_only_that_action_and_is_in_the_url(signed_in: PanelClient, march: None) -> None:
    response = signed_in.get(f"{URL}?action=key.revoked", htmx=True)
    assert response.status_code == 200
    assert _rows(response.text) == ["sgk_MAR04STA", "sgk_MAR03END", "sgk_MAR02STA"]
    assert response.headers["HX-Push-Url"] == f"{URL}?action=key.revoked"
    page = signed_in.get(f"{URL}?action=key.revoked").text  # the pushed URL opened directly
    assert '<option value="key.revoked" selected>' in page
    assert _rows(page) == ["sgk_MAR04STA", "sgk_MAR03END", "sgk_MAR02STA"]


def test_date_range_includes_both_days_whole(signed_in: PanelClient, march: None) -> None:
    response = signed_in.get(f"{URL}?from=2026-03-02&to=2026-03-03", htmx=True)
    assert _rows(response.text) == ["sgk_MAR03END", "sgk_MAR02MID", "sgk_MAR02STA"]
    assert response.headers["HX-Push-Url"] == f"{URL}?from=2026-03-02&to=2026-03-03"
    both = signed_in.get(f"{URL}?action=key.revoked&from=2026-03-02T06:00:00Z&to=2026-03-03", htmx=True)
    assert _rows(both.text) == ["sgk_MAR03END"]
    page = signed_in.get(f"{URL}?from=2026-03-02&to=2026-03-03").text
    assert 'name="from" value="2026-03-02"' in page and 'name="to" value="2026-03-03"' in page


def test_from_after_to_is_a_400_with_a_clear_message(signed_in: PanelClient, march: None) -> None:
    query = "from=2026-03-04&to=2026-03-02"
    fragment = signed_in.get(f"{URL}?{query}", htmx=True)
    message = "From (2026-03-04) is after To (2026-03-02): choose a From on or before the To."
    assert assert_refused(fragment, 400) == message
    page = signed_in.get(f"{URL}?{query}")
    assert page.status_code == 400
    assert message in page.text and _rows(page.text) == []
    export = signed_in.get(f"{EXPORT}?{query}")
    assert export.status_code == 400 and message in export.text  # the error page, not a CSV


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("action=key.deleted", "Action: Unknown value &#39;key.deleted&#39;; choose one from the list."),
        ("from=yesterday", "From: Not a valid ISO 8601 date and time"),
        ("to=2026-02-30", "To: Not a valid ISO 8601 date and time"),
    ],
)
def test_unreadable_filters_are_refused_and_nothing_is_listed(
    signed_in: PanelClient, march: None, query: str, needle: str
) -> None:
    response = signed_in.get(f"{URL}?{query}", htmx=True)
    assert response.status_code == 422
    assert needle in response.text and _rows(response.text) == []
    assert response.headers["HX-Push-Url"] == "false"
    assert signed_in.get(f"{EXPORT}?{query}").status_code == 422


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_export_downloads_exactly_the_filtered_events_newest_first(
    app: Flask, signed_in: PanelClient, march: None
) -> None:
    _at(app, "sgk_MAR02DET", "2026-03-02T08:00:00", action="key.revoked", details={"reason": "leak"},
        address="203.0.113.9")  # fmt: skip
    response = signed_in.get(f"{EXPORT}?action=key.revoked&from=2026-03-02&to=2026-03-03")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert re.fullmatch(
        r'attachment; filename="audit-log-\d{8}T\d{6}Z\.csv"', response.headers["Content-Disposition"]
    )
    assert response.headers["Cache-Control"] == "no-store"
    rows = _csv(response.text)
    assert rows[0] == list(COLUMNS.values())
    assert rows[1:] == [
        ["2026-03-03T23:59:59Z", "cli", "key.revoked", "sgk_MAR03END", "{}", ""],
        ["2026-03-02T08:00:00Z", "cli", "key.revoked", "sgk_MAR02DET", '{"reason":"leak"}', "203.0.113.9"],
        ["2026-03-02T00:00:00Z", "cli", "key.revoked", "sgk_MAR02STA", "{}", ""],
    ]
    assert json.loads(rows[2][4]) == {"reason": "leak"}


def test_export_is_every_matching_event_not_one_page(app: Flask, signed_in: PanelClient) -> None:
    with app.app_context():
        for n in range(120):
            audit.record("key.activated", actor="cli", key_prefix=f"sgk_EV{n:06d}")
        db.session.commit()
    rows = _csv(signed_in.get(f"{EXPORT}?action=key.activated").text)
    assert len(rows) == 1 + 120


def test_export_cells_are_safe_to_open_in_a_spreadsheet(app: Flask, signed_in: PanelClient) -> None:
    for n, actor in enumerate(['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "ok@example.com"]):
        _at(app, f"sgk_FORMULA{n}", f"2026-03-02T00:00:0{n}", actor=actor)
    rows = _csv(signed_in.get(f"{EXPORT}?q=sgk_FORMULA").text)
    assert [row[1] for row in rows[1:]] == [
        "ok@example.com", "'@SUM(A1)", "'-2+3", "'+1", "'=HYPERLINK(\"http://x\")"
    ]  # fmt: skip


def test_export_link_follows_the_filters(signed_in: PanelClient) -> None:
    page = signed_in.get(URL).text
    assert re.search(rf'<a id="audit-export" class="button" href="{EXPORT}" download>Export CSV</a>', page)
    fragment = signed_in.get(f"{URL}?q=ada&action=key.created&from=2026-03-02", htmx=True).text
    href = re.escape(f"{EXPORT}?q=ada&amp;action=key.created&amp;from=2026-03-02")
    assert re.search(
        rf'<template>\s*<a id="audit-export" class="button" href="{href}" download hx-swap-oob="true">',
        fragment,
    )


def test_export_is_for_admins_only_and_writes_nothing(app: Flask, client: FlaskClient) -> None:
    before = event_count(app)
    response = client.get(EXPORT)
    assert response.status_code in (302, 401, 403)
    assert "text/csv" not in response.headers.get("Content-Type", "")
    assert event_count(app) == before
