"""The admin's story in Chromium: sign in, search, create, copy once, deactivate, revoke."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.catalogue import ALL_ABILITIES
from app.extensions import db
from app.models.api_keys import ApiKey
from tests.browser.conftest import SCREENSHOTS, Console, LiveServer, open_panel, ready, sign_in
from tests.browser.row_menu import open_row_menu, row_action

pytestmark = pytest.mark.browser

KEY_PATTERN = re.compile(r"^sgk_[0-9A-Za-z]{8}_[0-9A-Za-z]{38}$")


def _rows(page: Any) -> Any:
    return page.locator("#key-rows tr")


def _storage_dump(page: Any) -> str:
    return page.evaluate(
        "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )


def test_admin_creates_copies_deactivates_and_revokes_a_key_without_page_loads(
    signed_out_page_and_console: tuple[Any, Console], live_server: LiveServer
) -> None:
    page, console = signed_out_page_and_console
    sign_in(page)  # through the form: the other browser tests start from the state it leaves

    # Open API Keys from the sidebar.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API Keys").click()
    expect(page).to_have_url(re.compile(r"/settings/api-keys$"))
    ready(page)
    headers = page.locator("table.keys thead th")
    expect(headers).to_have_text(
        ["Name", "Key Prefix", "Owner", "Status", "Rate Limit", "Expires At", "Last Used At", "Actions"]
    )
    expect(_rows(page)).to_have_count(6)  # every seeded key; none is revoked
    # A marker on window survives only if no full page load happens.
    page.evaluate("() => { window.__noReload = true; }")

    # Live search: rows filter as the admin types, and the query lands in the URL.
    search = page.get_by_label("Search")
    search.press_sequentially("shop", delay=30)
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).first).to_contain_text("Shopify storefront")
    expect(page).to_have_url(re.compile(r"[?&]q=shop"))
    search.fill("sync@stockgate")
    expect(_rows(page)).to_have_count(3)
    search.fill("")
    expect(_rows(page)).to_have_count(6)
    assert page.evaluate("() => window.__noReload") is True

    # Create API Key opens inline; an empty submit shows errors next to the fields.
    page.get_by_role("link", name="Create API Key").click()
    form = page.locator("#key-form")
    expect(form.get_by_role("heading", name="Create API Key")).to_be_visible()
    expect(form.get_by_label("Rate Limit (requests/min)")).to_have_value("60")
    form.get_by_role("button", name="Submit").click()
    expect(page.locator("#name-error")).to_have_text("Name is required.")
    expect(page.locator("#abilities-error")).to_have_text("Choose at least one ability.")
    expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")
    assert page.evaluate("() => window.__noReload") is True

    # Fill it in, Select All, create.
    form = page.locator("#key-form")
    form.get_by_label("Name", exact=True).fill("Browser story key")
    form.get_by_label("Owner").select_option(label="Grace Hopper (grace@example.com)")
    form.get_by_label("Select All").check()
    boxes = form.locator('input[name="abilities"]')
    expect(boxes).to_have_count(len(ALL_ABILITIES))
    for index in range(len(ALL_ABILITIES)):
        expect(boxes.nth(index)).to_be_checked()
    form.get_by_label("Rate Limit (requests/min)").fill("120")
    form.get_by_role("button", name="Submit").click()

    # The key is shown once, with a warning, and copies to the clipboard.
    revealed = page.locator("#new-key")
    expect(revealed).to_have_value(KEY_PATTERN)
    raw_key = revealed.input_value()
    expect(page.get_by_text("It will not be shown again")).to_be_visible()
    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == raw_key
    new_row = page.locator("#key-rows tr", has_text="Browser story key")
    expect(new_row).to_have_count(1)
    expect(new_row).to_contain_text("120/min")
    assert page.evaluate("() => window.__noReload") is True

    # A pushed search would snapshot the page into htmx's history cache: it must not.
    page.get_by_label("Search").fill("Browser story")
    expect(_rows(page)).to_have_count(1)
    assert raw_key not in _storage_dump(page)

    # Reload: the key is gone from the page and from browser storage.
    page.reload()
    expect(page.locator("#key-rows tr", has_text="Browser story key")).to_have_count(1)
    expect(page.locator("#new-key")).to_have_count(0)
    assert raw_key not in page.content()
    assert raw_key not in _storage_dump(page)
    prefix = raw_key[:12]
    with live_server.app.app_context():
        stored = db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        assert stored is not None
        assert raw_key not in json.dumps([stored.key_hash, stored.name, stored.prefix])

    # Deactivate, then revoke with the confirmation.
    row = page.locator(f"#key-{prefix}")
    row_action(row, "Deactivate").click()
    expect(row.locator(".badge")).to_have_text("Inactive")
    expect(open_row_menu(row).get_by_role("button", name="Activate")).to_be_visible()
    dialogs: list[str] = []

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    row.get_by_role("button", name="Revoke").click()  # the menu is still open
    expect(page.locator(f"#key-{prefix}")).to_have_count(0)
    assert dialogs and "cannot be undone" in dialogs[0]
    with live_server.app.app_context():
        assert db.session.scalar(select(ApiKey.status).where(ApiKey.prefix == prefix)).value == "revoked"

    # View API Documentation opens /api/docs (its content belongs to the docs suite).
    docs_links = page.get_by_role("link", name="View API Documentation")
    for index in range(docs_links.count()):
        expect(docs_links.nth(index)).to_have_attribute("href", "/api/docs")
    docs_links.first.click()
    expect(page).to_have_url(re.compile(r"/api/docs$"))

    assert console.csp_violations() == []


def test_admin_edits_a_key_inline(page_and_console: tuple[Any, Console]) -> None:
    page, console = page_and_console
    open_panel(page)
    row = page.locator("#key-rows tr", has_text="Warehouse scanner")
    row_action(row, "Edit").click()
    editor = page.locator("tr.key-row--editing")
    expect(editor).to_be_visible()
    editor.get_by_label("Rate Limit (requests/min)").fill("0")
    editor.get_by_role("button", name="Save").click()
    expect(page.locator("tr.key-row--editing .field__error")).to_have_text(
        "Rate limit must be between 1 and 100,000 requests/min."
    )
    editor = page.locator("tr.key-row--editing")
    # htmx has processed the swapped editor once it focused the invalid field (autofocus): a
    # click before that would reach a button htmx has not wired yet.
    expect(editor.get_by_label("Rate Limit (requests/min)")).to_be_focused()
    editor.get_by_label("Rate Limit (requests/min)").fill("250")
    editor.get_by_label("Name", exact=True).fill("Warehouse scanner v2")
    editor.get_by_role("button", name="Save").click()
    row = page.locator("#key-rows tr", has_text="Warehouse scanner v2")
    expect(row).to_contain_text("250/min")
    expect(page.locator("tr.key-row--editing")).to_have_count(0)
    assert console.csp_violations() == []


def test_sorting_and_status_filter_compose_in_the_url(page_and_console: tuple[Any, Console]) -> None:
    page, console = page_and_console
    open_panel(page)
    page.get_by_label("Status").select_option("inactive")
    expect(page).to_have_url(re.compile(r"status=inactive"))
    expect(_rows(page)).to_have_count(1)
    page.get_by_label("Status").select_option("working")  # the default: "All working"
    expect(page).not_to_have_url(re.compile(r"status="))
    expect(_rows(page).filter(has_text="Inactive")).to_have_count(1)
    page.get_by_role("link", name="Name", exact=True).click()
    expect(page).to_have_url(re.compile(r"sort=name&dir=asc"))
    expect(page.locator("th[aria-sort='ascending']")).to_have_text("Name")
    names = page.locator("#key-rows td.key-name").all_inner_texts()
    assert names == sorted(names, key=str.lower)
    page.get_by_label("Search").fill("e")
    expect(page).to_have_url(re.compile(r"q=e.*sort=name|sort=name.*q=e"))
    assert console.csp_violations() == []


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_api_keys_page_screenshots(page_and_console: tuple[Any, Console], width: int, height: int) -> None:
    page, console = page_and_console
    page.set_viewport_size({"width": width, "height": height})
    open_panel(page)
    expect(_rows(page).first).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"api-keys-{width}x{height}.png"))
    page.get_by_role("link", name="Create API Key").click()
    expect(page.locator("#key-form")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / f"api-keys-create-{width}x{height}.png"), full_page=True)
    # Nothing overflows sideways at phone width.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    assert console.csp_violations() == []


def test_a_stale_csrf_token_tells_the_user_instead_of_failing_silently(
    page_and_console: tuple[Any, Console],
) -> None:
    page, console = page_and_console
    open_panel(page)
    # As if the session behind the page had changed: htmx now sends a token that fails.
    page.evaluate("""() => document.body.setAttribute("hx-headers", '{"X-CSRFToken": "stale"}')""")
    row = page.locator("#key-rows tr", has_text="Shopify storefront")
    row_action(row, "Deactivate").click()
    # The refusal is an HTML fragment the server retargets to the alert area (no script).
    flash = page.get_by_role("alert").filter(has_text="Reload the page")
    expect(flash).to_be_visible()
    expect(flash).to_contain_text("session has expired")
    expect(row.locator(".badge")).to_have_text("Active")
    assert console.csp_violations() == []
