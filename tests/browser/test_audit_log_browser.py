"""The audit log in Chromium: a change in the panel shows up in Settings -> Audit Log, and the
search filters the rows live, without a page load, with the query in the URL."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ADMIN_EMAIL, Console, LiveServer, open_panel, ready
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
