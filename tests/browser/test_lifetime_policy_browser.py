"""KEY_MAX_LIFETIME_DAYS in the panel (SPEC §15): older keys over it are flagged and filtered, not
switched off, and the create form offers no "Never", at 1280 and 390 px."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from app.keys.inputs import EXPIRY_NEVER
from tests.browser.conftest import Console, open_panel

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_server_env() -> dict[str, str]:
    """The served panel runs under a 30-day policy; its demo keys were made before it (no expiry)."""
    return {"KEY_MAX_LIFETIME_DAYS": "30"}


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_keys_over_the_lifetime_policy_are_flagged_and_the_form_offers_no_never(
    page_and_console: tuple[Any, Console], width: int, height: int
) -> None:
    page, console = page_and_console
    page.set_viewport_size({"width": width, "height": height})
    open_panel(page)
    page.get_by_label("Status").select_option("over_lifetime")
    expect(page).to_have_url(re.compile(r"status=over_lifetime"))
    rows = page.locator("#key-rows tr")
    expect(rows.first).to_contain_text("Over lifetime policy")
    expect(rows.filter(has_text="Active")).not_to_have_count(0)  # flagged, still working
    page.get_by_role("link", name="Create API Key").click()
    form = page.locator("#key-form")
    expect(form.get_by_role("radio", name="In 30 days")).to_be_visible()
    expect(form.locator(f'input[type="radio"][value="{EXPIRY_NEVER}"]')).to_have_count(0)
    expect(form.get_by_role("radio", name="In 90 days")).to_have_count(0)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    assert console.csp_violations() == []
