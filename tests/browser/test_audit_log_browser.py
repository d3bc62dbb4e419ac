"""The audit log in Chromium: a change in the panel shows up in Settings -> Audit Log, the
search and the filters (action, from, to) change the rows live, without a page load, with the
query in the URL, and Export CSV downloads exactly what they select."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from app.models.types import utcnow
from tests.browser.conftest import ADMIN_EMAIL, SCREENSHOTS, Console, LiveServer, open_panel, ready
from tests.browser.row_menu import row_action

pytestmark = pytest.mark.browser


def _rows(page: Any) -> Any:
    return page.locator("#audit-rows tr.audit-event")


def test_admin_changes_a_key_and_finds_it_in_the_audit_log_by_live_search(
    page_and_console: tuple[Any, Console], live_server: LiveServer
) -> None:
    page, console = page_and_console
    open_panel(page)

    # A change in the panel: deactivate one key from its row.
    row = page.locator("#key-rows tr", has_text="Shopify storefront")
    prefix = row.locator("code").first.inner_text()
    row_action(row, "Deactivate Shopify storefront").click()
    expect(page.locator("#key-rows tr", has_text="Shopify storefront")).to_contain_text("Inactive")

    # Sidebar -> Settings -> Audit Log: newest first, the change on top with the admin's email.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit Log").click()
    expect(page).to_have_url(re.compile(r"/settings/audit-log$"))
    expect(page.get_by_role("heading", name="Audit Log", exact=True)).to_be_visible()
    ready(page)
    expect(page.locator("table.audit thead th")).to_have_text(
        ["Time", "Actor", "Action", "Key Prefix", "Details", "Address"]
    )
    newest = _rows(page).first
    expect(newest).to_contain_text("key.deactivated")
    # The panel's one time format: words, the exact UTC time to the second on hover.
    when = newest.locator("time")
    expect(when).to_have_text("just now")
    expect(when).to_have_attribute("title", re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
    expect(newest).to_contain_text(ADMIN_EMAIL)
    expect(newest).to_contain_text(prefix)
    expect(newest.get_by_role("link", name=prefix)).to_have_attribute("href", f"/settings/api-keys/{prefix}")
    # The seed's users and keys, the seed's deactivation, the sign-in and this change.
    expect(_rows(page)).to_have_count(12)

    # Live search: the rows filter as the admin types, no page load, the query in the URL.
    page.evaluate("() => { window.__noReload = true; }")
    search = page.get_by_label("Search")
    search.press_sequentially("deactivated", delay=30)
    expect(_rows(page)).to_have_count(2)
    expect(page).to_have_url(re.compile(r"/settings/audit-log\?q=deactivated$"))
    search.fill(ADMIN_EMAIL.upper())
    expect(_rows(page)).to_have_count(2)  # the sign-in and the deactivation
    expect(_rows(page).nth(1)).to_contain_text("session.signed_in")
    search.fill(prefix)
    expect(_rows(page)).to_have_count(2)  # its creation and its deactivation
    search.fill("no such event")
    expect(_rows(page)).to_have_count(0)
    expect(page.locator("#audit-rows")).to_contain_text("No events match this search.")
    search.fill("")
    expect(_rows(page)).to_have_count(12)
    expect(page).to_have_url(re.compile(r"/settings/audit-log$"))
    assert page.evaluate("() => window.__noReload") is True

    # The pushed URL opened directly is the whole page with the same rows.
    page.goto("/settings/audit-log?q=deactivated")
    expect(page.get_by_role("heading", name="Audit Log", exact=True)).to_be_visible()
    expect(page.get_by_label("Search")).to_have_value("deactivated")
    expect(_rows(page)).to_have_count(2)
    assert console.csp_violations() == []


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_filters_by_action_and_dates_and_exports_what_they_show(
    page_and_console: tuple[Any, Console], width: int, height: int
) -> None:
    page, console = page_and_console
    page.set_viewport_size({"width": width, "height": height})
    page.goto("/settings/audit-log")
    ready(page)
    page.evaluate("() => { window.__noReload = true; }")

    # Action: a select of the event names; the seed created six keys.
    page.get_by_label("Action").select_option("key.created")
    expect(_rows(page)).to_have_count(6)
    expect(page).to_have_url(re.compile(r"/settings/audit-log\?action=key\.created$"))
    export = page.get_by_role("link", name="Export CSV")
    expect(export).to_have_attribute("href", "/settings/audit-log/export.csv?action=key.created")

    # Dates (UTC): today keeps them, a range that ended yesterday has none.
    today = utcnow().date()
    page.get_by_label("From (UTC)").fill(today.isoformat())
    expect(page).to_have_url(re.compile(rf"action=key\.created&from={today}$"))
    expect(_rows(page)).to_have_count(6)
    page.get_by_label("From (UTC)").fill("")
    page.get_by_label("To (UTC)").fill((today - timedelta(days=1)).isoformat())
    expect(_rows(page)).to_have_count(0)
    expect(page.locator("#audit-rows")).to_contain_text("No events match this search.")

    # From after To: a clear message, and the rows stay as they were.
    page.get_by_label("From (UTC)").fill(today.isoformat())
    expect(page.locator("#flash")).to_contain_text("is after To")
    expect(page).to_have_url(re.compile(r"to=\d{4}-\d\d-\d\d$"))  # not pushed: still without from
    page.get_by_label("To (UTC)").fill(today.isoformat())
    expect(_rows(page)).to_have_count(6)
    assert page.evaluate("() => window.__noReload") is True
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"audit-log-filters-{width}x{height}.png"), full_page=True)

    # Export CSV: exactly the filtered events, newest first, with a header row.
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert rows[0] == ["Time", "Actor", "Action", "Key Prefix", "Details", "Address"]
    assert [row[2] for row in rows[1:]] == ["key.created"] * 6
    assert [row[0] for row in rows[1:]] == sorted((row[0] for row in rows[1:]), reverse=True)

    # The URL opened directly shows the same filters and rows.
    page.goto(page.url)
    expect(page.get_by_label("Action")).to_have_value("key.created")
    expect(page.get_by_label("From (UTC)")).to_have_value(today.isoformat())
    expect(_rows(page)).to_have_count(6)
    assert console.csp_violations() == []
