"""The key form in Chromium, under the CSP: Expires At presets, and errors that go once fixed."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS, Console, open_panel

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_expiry_presets_warn_for_never_and_errors_clear_once_their_field_is_fixed(
    page_and_console: tuple[Any, Console], width: int, height: int
) -> None:
    page, console = page_and_console
    page.set_viewport_size({"width": width, "height": height})
    open_panel(page)
    page.get_by_role("link", name="Create API Key").click()
    form = page.locator("#key-form")
    expiry = form.get_by_role("group", name="Expires At")
    date = form.get_by_label("Date and time (UTC)")
    warning = form.locator(".expiry__never")

    # 90 days is chosen at first: no date to fill, no warning.
    expect(expiry.get_by_label("In 90 days")).to_be_checked()
    expect(date).to_be_hidden()
    expect(date).to_be_disabled()
    expect(warning).to_be_hidden()

    expiry.get_by_label("Never").check()
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("stays valid until someone revokes it")
    expect(expiry.get_by_label("Never")).to_have_attribute("aria-describedby", "expiry-never-warning")

    expiry.get_by_label("On a date and time").check()
    expect(warning).to_be_hidden()
    expect(date).to_be_visible()
    expect(date).to_be_enabled()

    # Submit with the date empty and no name: both errors are shown, nothing is created.
    form.get_by_role("button", name="Submit").click()
    name_error = form.locator("#name-error")
    date_error = form.locator("#expires_at-error")
    expect(name_error).to_have_text("Name is required.")
    expect(date_error).to_have_text("Choose the date and time the key expires.")
    expect(form.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"key-form-errors-{width}x{height}.png"), full_page=True)

    # The date stays chosen and enabled after the swap; fixing a field takes its error away at once.
    date = form.get_by_label("Date and time (UTC)")
    expect(date).to_be_enabled()
    form.get_by_label("Name").fill("Browser form")
    expect(name_error).to_have_count(0)
    expect(form.get_by_label("Name")).not_to_have_attribute("aria-invalid", "true")
    expect(date_error).to_be_visible()  # another field's error stays until that field changes
    date.fill("2031-05-01T12:30")
    expect(date_error).to_have_count(0)
    expect(date).not_to_have_attribute("aria-invalid", "true")

    # Back to a preset: the date is hidden and disabled again, so it is not sent.
    form.get_by_role("group", name="Expires At").get_by_label("In 30 days").check()
    expect(date).to_be_hidden()
    expect(date).to_be_disabled()
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), width

    assert console.csp_violations() == []
    # Chromium logs each 422 (the refused submit) as a failed resource; nothing else may fail.
    refused = "the server responded with a status of 422"
    assert not [m for m in console.messages if m.startswith(("pageerror", "error")) and refused not in m]
