"""The access preview in Chromium: ticking abilities lists what the key will reach, live, under the CSP."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import delete, select

from app.catalogue import ALL_ABILITIES
from app.extensions import db
from app.models.api_keys import ApiKey
from app.models.products import Brand
from tests.browser.conftest import SCREENSHOTS, Console, LiveServer, open_panel, ready
from tests.browser.row_menu import row_action

pytestmark = pytest.mark.browser


@pytest.fixture
def two_brands(live_server: LiveServer) -> Any:
    """Two brands in the live server's database, so a list has records to count."""
    with live_server.app.app_context():
        db.session.add_all([Brand(name="Lumen & Co", country="GB"), Brand(name="Northwind", country="US")])
        db.session.commit()
    yield
    with live_server.app.app_context():
        db.session.execute(delete(Brand))
        db.session.commit()


def _no_sideways_scroll(page: Any) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_ticking_abilities_previews_the_endpoints_and_select_all_shows_them_all(
    page_and_console: tuple[Any, Console], two_brands: None
) -> None:
    page, console = page_and_console
    open_panel(page)
    page.get_by_role("link", name="Create API Key").click()
    form = page.locator("#key-form")
    preview = form.locator(".access-preview")
    expect(preview).to_contain_text("tick abilities to see the endpoints")

    form.locator('input[value="brands:list"]').check()
    brands = preview.locator('li[data-ability="brands:list"]')
    expect(brands).to_contain_text("GET /api/v1/brands")
    expect(brands).to_contain_text("2 records now")
    expect(preview.locator("li")).to_have_count(2)  # and GET /api/v1/key, which every key may call
    expect(preview.locator("li").last).to_contain_text("GET /api/v1/key")

    form.locator('input[value="brands:show"]').check()
    expect(preview.locator('li[data-ability="brands:show"]')).to_contain_text("GET /api/v1/brands/{id}")
    form.locator('input[value="brands:list"]').uncheck()
    expect(preview.locator('li[data-ability="brands:list"]')).to_have_count(0)

    page.get_by_label("Select All").check()
    expect(preview.locator("li[data-ability]")).to_have_count(len(ALL_ABILITIES) + 1)
    expect(preview).to_contain_text(f"this key will reach {len(ALL_ABILITIES) + 1} endpoints")
    for width, height in ((1280, 800), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"access-preview-{width}x{height}.png"), full_page=True)
        assert _no_sideways_scroll(page), width
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_label("Select All").uncheck()
    expect(preview).to_contain_text("tick abilities to see the endpoints")

    assert console.csp_violations() == []
    assert not [m for m in console.messages if m.startswith(("pageerror", "error"))]


def test_edit_form_previews_the_keys_abilities_and_updates_its_own_preview(
    page_and_console: tuple[Any, Console], live_server: LiveServer
) -> None:
    page, console = page_and_console
    with live_server.app.app_context():
        prefix = db.session.scalar(select(ApiKey.prefix).where(ApiKey.name == "Warehouse scanner"))
    open_panel(page)
    row_action(page.locator(f"#key-{prefix}"), "Edit Warehouse scanner").click()
    editor = page.locator(f"#key-{prefix}")
    preview = editor.locator(".access-preview")
    expect(preview.locator("li code")).to_have_text(
        ["GET /api/v1/inventory", "GET /api/v1/warehouses", "GET /api/v1/key"]
    )
    editor.locator('input[value="customers:show"]').check()
    expect(preview.locator('li[data-ability="customers:show"]')).to_contain_text("one record by id")
    # The editor keeps its place: the preview swapped inside it, not over the row.
    expect(editor.get_by_role("button", name="Save")).to_be_visible()
    assert console.csp_violations() == []
    assert not [m for m in console.messages if m.startswith(("pageerror", "error"))]


def test_key_page_opens_the_documentation_for_that_key(
    page_and_console: tuple[Any, Console], live_server: LiveServer
) -> None:
    page, console = page_and_console
    with live_server.app.app_context():
        prefix = db.session.scalar(select(ApiKey.prefix).where(ApiKey.name == "Warehouse scanner"))
    open_panel(page)
    page.goto(f"/settings/api-keys/{prefix}")
    ready(page)
    page.get_by_role("link", name="Documentation for this key").click()
    expect(page).to_have_url(re.compile(rf"/settings/api-keys/{prefix}/docs$"))
    expect(page.get_by_role("heading", name="Documentation for this key")).to_be_visible()
    titles = page.locator("h4.endpoint-title code")
    expect(titles).to_have_text(["/api/v1/inventory", "/api/v1/warehouses", "/api/v1/key"])
    expect(page.locator("pre.curl").first).to_contain_text("$STOCKGATE_API_KEY")
    expect(page.locator("pre.curl").first).not_to_contain_text("<your secret>")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "key-docs-1280x800.png"))
    assert console.csp_violations() == []
    assert not [m for m in console.messages if m.startswith(("pageerror", "error"))]
