"""A key's page in Chromium: opened from the list by its Name, readable on a desktop and a phone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app import audit
from app.extensions import db
from app.models.api_keys import ApiKey
from tests.browser.conftest import Console, LiveServer, open_panel, ready

pytestmark = pytest.mark.browser


def _no_sideways_scroll(page: Any) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_admin_opens_a_key_page_from_its_name_and_switches_it_off_and_on(
    page_and_console: tuple[Any, Console], live_server: LiveServer, tmp_path: Path
) -> None:
    page, console = page_and_console
    with live_server.app.app_context():
        prefix = db.session.scalar(select(ApiKey.prefix).where(ApiKey.name == "Warehouse scanner"))
        changes = {"rate_limit": {"old": 30, "new": 60}, "description": {"old": None, "new": "Scans pallets"}}
        audit.record("key.updated", actor="ada@example.com", key_prefix=prefix, details={"changes": changes})
        db.session.commit()
    open_panel(page)

    row = page.locator("#key-rows tr", has_text="Warehouse scanner")
    row.get_by_role("link", name="Warehouse scanner").click()
    expect(page).to_have_url(re.compile(rf"/settings/api-keys/{prefix}$"))
    ready(page)
    expect(page.get_by_role("heading", name="Warehouse scanner", level=1)).to_be_visible()
    details = page.locator("#key-details")
    expect(details).to_contain_text(prefix)
    expect(details).to_contain_text("Nightly inventory sync")
    expect(details).to_contain_text("Any address")
    grid = page.get_by_role("table", name="Abilities of Warehouse scanner")
    expect(grid.get_by_text("List: granted")).to_have_count(2)  # inventory and warehouses
    expect(grid.get_by_text("Show: not granted")).to_have_count(15)
    history = page.get_by_role("table", name="Audit events of Warehouse scanner, newest first")
    expect(history).to_contain_text(re.compile(r"Rate Limit:\s*30\s*→\s*changed to\s*60"))
    expect(page.locator("#key-usage")).to_contain_text("No requests in the last 30 days.")

    page.screenshot(path=str(tmp_path / "key-page-1280.png"), full_page=True)
    assert _no_sideways_scroll(page)
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.get_by_role("button", name="Deactivate Warehouse scanner")).to_be_visible()
    page.screenshot(path=str(tmp_path / "key-page-390.png"), full_page=True)
    assert _no_sideways_scroll(page)
    assert (tmp_path / "key-page-1280.png").stat().st_size > 0
    assert (tmp_path / "key-page-390.png").stat().st_size > 0

    # The actions reuse the list's endpoints; the page reloads itself with the new state.
    page.get_by_role("button", name="Deactivate Warehouse scanner").click()
    expect(page.locator("#key-details .badge")).to_have_text("Inactive")
    page.get_by_role("button", name="Activate Warehouse scanner").click()
    expect(page.locator("#key-details .badge")).to_have_text("Active")

    # Edit leads to the list, narrowed to this key.
    page.get_by_role("link", name="Edit Warehouse scanner in the key list").click()
    expect(page.locator("#key-rows tr")).to_have_count(1)
    expect(page.locator(f"#key-{prefix}")).to_be_visible()

    assert console.csp_violations() == []
    assert not [m for m in console.messages if m.startswith(("pageerror", "error"))]
