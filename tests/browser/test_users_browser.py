"""Settings -> Users in Chromium at 1280 and 390 px: add an account and see its password once,
offboard a person whose key moves to a system account, reactivate her; no page loads, no CSP
violation, no sideways scrolling on a phone."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS, Console, LiveServer, open_panel, ready

pytestmark = pytest.mark.browser


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide"


def test_admin_adds_a_user_and_offboards_another_without_leaving_a_key_behind(
    page_and_console: tuple[Any, Console], live_server: LiveServer
) -> None:
    page, console = page_and_console
    open_panel(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(page).to_have_url(re.compile(r"/settings/users$"))
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    ready(page)
    expect(page.locator("table.users thead th")).to_have_text(
        ["Name", "Email", "Kind", "Status", "Working Keys", "Last Sign-in", "Actions"]
    )
    grace = page.locator("#user-rows tr", has_text="Grace Hopper")
    # Shopify storefront works; Old reporting job has expired, so it does not count.
    expect(grace.get_by_role("link", name="1 working keys of Grace Hopper")).to_have_attribute(
        "href", "/settings/api-keys?q=grace@example.com"
    )
    page.evaluate("() => { window.__noReload = true; }")
    _no_sideways_scroll(page)

    # Add user: a person gets a password, shown once, in a monospace field with Copy.
    page.get_by_role("link", name="Add user").click()
    page.get_by_label("Name").fill("Olive Ops")
    page.get_by_label("Email").fill("olive@example.com")
    page.get_by_label("Admin (signs in to this panel)").check()
    page.get_by_role("button", name="Add user").click()
    created = page.locator("#user-created")
    expect(created).to_contain_text("Olive Ops (olive@example.com) is a new admin account.")
    expect(created.get_by_label("Their password")).to_have_value(re.compile(r"^\S{12,}$"))
    expect(created).to_have_attribute("hx-history", "false")
    expect(page.locator("#user-rows tr", has_text="Olive Ops")).to_contain_text("Admin")
    page.screenshot(path=str(SCREENSHOTS / "users-added-1280.png"), full_page=True)
    created.get_by_role("button", name="Done").click()
    expect(created).to_have_count(0)

    # Deactivate Grace: the confirmation lists her working key and asks where it goes.
    grace.get_by_role("button", name="Deactivate Grace Hopper").click()
    confirm = page.locator("#deactivate-form")
    expect(confirm.get_by_test_id("working-keys")).to_have_text(re.compile(r"Shopify storefront\s+sgk_"))
    expect(confirm).not_to_contain_text("Old reporting job")
    confirm.get_by_role("button", name="Deactivate").click()
    expect(confirm).to_contain_text("Choose what becomes of the keys")  # 422, inline
    confirm.get_by_label("Move them to another active owner").check()
    confirm.get_by_label("New owner").select_option(
        label="Nightly inventory sync (sync@stockgate.internal) · System"
    )
    page.screenshot(path=str(SCREENSHOTS / "users-deactivate-1280.png"), full_page=True)
    confirm.get_by_role("button", name="Deactivate").click()
    expect(page.locator("#user-deactivated")).to_contain_text(
        "1 working key(s) moved to sync@stockgate.internal"
    )
    expect(grace).to_contain_text("Deactivated")
    expect(grace.get_by_role("link", name="0 working keys of Grace Hopper")).to_be_visible()
    sync = page.locator("#user-rows tr", has_text="Nightly inventory sync")
    expect(sync.get_by_role("link", name=re.compile(r"working keys"))).to_have_text("3")

    # Reactivate: the account, not its keys.
    grace.get_by_role("button", name="Reactivate Grace Hopper").click()
    expect(grace).to_contain_text("Active")
    assert page.evaluate("() => window.__noReload") is True
    assert console.csp_violations() == []


def test_users_page_fits_a_phone(page_and_console: tuple[Any, Console], live_server: LiveServer) -> None:
    page, console = page_and_console
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/settings/users")
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    ready(page)
    expect(page.locator("#user-rows tr").first.locator("td[data-label='Email']")).to_be_visible()
    _no_sideways_scroll(page)
    page.get_by_role("link", name="Add user").click()
    expect(page.get_by_label("Email")).to_be_visible()
    _no_sideways_scroll(page)
    page.screenshot(path=str(SCREENSHOTS / "users-390.png"), full_page=True)
    assert console.csp_violations() == []
