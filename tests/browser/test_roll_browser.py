"""Rolling a key in Chromium: the Roll form opens inline, the new key is shown once, the old
row reads Rolling, and "End grace now" (after its confirmation) cuts it over."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.keys.verification import verify
from app.models.api_keys import ApiKey
from tests.browser.conftest import Console, LiveServer, open_panel
from tests.browser.row_menu import open_row_menu, row_action

pytestmark = pytest.mark.browser

KEY_PATTERN = re.compile(r"^sgk_[0-9A-Za-z]{8}_[0-9A-Za-z]{38}$")


def test_admin_rolls_a_key_sees_the_new_key_once_and_ends_the_grace_period(
    page_and_console: tuple[Any, Console], live_server: LiveServer
) -> None:
    page, console = page_and_console
    open_panel(page)
    page.evaluate("() => { window.__noReload = true; }")
    old_row = page.locator("#key-rows tr", has_text="Shopify storefront")
    with live_server.app.app_context():
        old_prefix = db.session.scalar(select(ApiKey.prefix).where(ApiKey.name == "Shopify storefront"))
    # Keys that cannot roll offer no Roll action.
    for name in ("Old reporting job", "Replenishment planner"):
        expect(
            page.locator("#key-rows tr", has_text=name).get_by_role(
                "button", name=f"Roll {name}", include_hidden=True
            )
        ).to_have_count(0)

    row_action(old_row, "Roll Shopify storefront").click()
    form = page.locator("#roll-form")
    expect(form.get_by_role("group", name="Old key stops working")).to_be_visible()
    expect(form.get_by_label("In 24 hours")).to_be_checked()
    # A date and time chosen but left empty: an inline error, nothing rolled.
    form.get_by_label("At a date and time").check()
    form.get_by_role("button", name="Roll key").click()
    expect(page.locator("#roll-form .field__error")).to_contain_text("Choose the date and time")
    page.locator("#roll-form").get_by_label("In 1 hour").check()
    page.locator("#roll-form").get_by_role("button", name="Roll key").click()

    created = page.locator("#key-created")
    expect(created.get_by_role("heading", name="API key rolled")).to_be_visible()
    expect(created).to_contain_text("will not be shown again")
    raw_key = created.locator("#new-key").input_value()
    assert KEY_PATTERN.match(raw_key)
    expect(page.locator(f"#key-{raw_key[:12]}")).to_contain_text("Active")
    old_row = page.locator(f"#key-{old_prefix}")
    expect(old_row.locator(".badge")).to_have_text("Rolling")
    expect(old_row).to_contain_text("stops in 59 minutes")
    expect(old_row.locator('td[data-label="Last Used At"]')).to_have_text("5 minutes ago")
    with live_server.app.app_context():
        assert verify(raw_key).ok

    # The key is shown once: after Done and a reload it is nowhere on the page.
    created.get_by_role("button", name="Done").click()
    expect(page.locator("#key-created")).to_have_count(0)
    assert page.evaluate("() => window.__noReload") is True
    page.reload()
    assert raw_key not in page.content()

    # End grace now, after the confirmation dialog.
    old_row = page.locator(f"#key-{old_prefix}")
    page.once("dialog", lambda dialog: dialog.accept())
    row_action(old_row, "End grace now for Shopify storefront").click()
    expect(old_row.locator(".badge")).to_have_text("Rolled")
    # A dead key: Revoke only, and the row names the key that replaced it.
    expect(open_row_menu(old_row).get_by_role("button")).to_have_text(["Revoke"])
    expect(old_row.get_by_role("link", name=re.compile(r"^replaced by sgk_"))).to_have_attribute(
        "href", f"/settings/api-keys/{raw_key[:12]}"
    )
    with live_server.app.app_context():
        stored = db.session.scalar(select(ApiKey).where(ApiKey.prefix == old_prefix))
        assert stored.display_status() == "Rolled"
        db.session.remove()
    assert console.csp_violations() == []
    assert not [m for m in console.messages if m.startswith("pageerror")]
