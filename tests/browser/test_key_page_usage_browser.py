"""A key's Usage section in Chromium: the chart under the strict CSP on a desktop and a phone,
"Remove unused abilities" through its confirmation, and a rolling key's page telling the old
and the new key's requests apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.keys import rolling
from app.models.api_keys import ApiKey
from tests.browser.conftest import SCREENSHOTS, Console, LiveServer, open_panel, ready
from tests.usage.usage_rows import add_usage, created_days_ago

pytestmark = pytest.mark.browser

KEY_NAME = "Shopify storefront"  # seeded with products:list, products:show, inventory:list


def _prefix(live_server: LiveServer, name: str = KEY_NAME) -> str:
    with live_server.app.app_context():
        return db.session.scalar(
            select(ApiKey.prefix).where(ApiKey.name == name, ApiKey.successor_id.is_(None))
        )


def _abilities(live_server: LiveServer, prefix: str) -> list[str]:
    with live_server.app.app_context():
        db.session.remove()  # read what the server wrote, not this session's copy
        return list(db.session.scalar(select(ApiKey.abilities).where(ApiKey.prefix == prefix)))


def _seed_usage(live_server: LiveServer, prefix: str) -> None:
    """Three weeks of product lists and shows, some limited and some refused customer lists, for a
    key created 45 days ago (older than the 30-day window, so its abilities are judged)."""
    created_days_ago(live_server.app, prefix, 45)
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = []
    for day in range(1, 22):  # noon of each of the 21 days before today: one bar each
        moment = midnight - timedelta(days=day) + timedelta(hours=12)
        rows.append((moment, "products:list", 200, 40 + 7 * (day % 5)))
        rows.append((moment - timedelta(hours=1), "products:show", 200, 12 + day))
        if day % 3 == 0:
            rows.append((moment - timedelta(hours=2), "products:list", 429, 6))
        if day % 4 == 0:
            rows.append((moment - timedelta(hours=3), "customers:list", 403, 3))
            rows.append((moment - timedelta(hours=4), "products:show", 404, 2))
    add_usage(live_server.app, prefix, *rows)


def _sideways(page: Any) -> list[str]:
    """Elements sticking out of the viewport on the right (none: no sideways scroll)."""
    return page.evaluate(
        """() => document.documentElement.scrollWidth <= window.innerWidth ? [] :
        Array.from(document.querySelectorAll("body *"))
          .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
          .map((el) => el.tagName + "." + el.className + "#" + el.id).slice(0, 10)"""
    )


def test_usage_chart_and_remove_unused_abilities(
    page_and_console: tuple[Any, Console], live_server: LiveServer
) -> None:
    page, console = page_and_console
    prefix = _prefix(live_server)
    _seed_usage(live_server, prefix)
    open_panel(page)
    page.goto(f"/settings/api-keys/{prefix}")
    ready(page)

    usage = page.locator("#key-usage")
    chart = usage.get_by_role("img", name="Requests per day, last 30 days")
    expect(chart).to_be_visible()
    assert chart.bounding_box()["height"] > 100
    expect(usage.locator(".usage-bar--succeeded")).to_have_count(21)
    expect(usage.locator("#usage-operations")).to_contain_text("customers:list")
    expect(usage.locator("li[data-ability='inventory:list']")).to_contain_text("Unused")
    # The data table opens beside the chart, with the same totals.
    usage.get_by_text("Requests per day as a table").click()
    expect(usage.locator("#usage-days tfoot")).to_be_visible()

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "key-usage-1280.png"), full_page=True)
    assert _sideways(page) == []
    page.set_viewport_size({"width": 390, "height": 844})
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box["width"] <= 390 and box["height"] > 100
    page.screenshot(path=str(SCREENSHOTS / "key-usage-390.png"), full_page=True)
    assert _sideways(page) == []
    page.set_viewport_size({"width": 1280, "height": 800})

    # Remove unused abilities: the confirmation names what goes; accepting it removes it.
    questions: list[str] = []

    def accept(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    usage.get_by_role("button", name="Remove unused abilities").click()
    expect(page.locator(".notice--info")).to_have_text("Removed 1 unused ability: inventory:list.")
    assert questions and "inventory:list" in questions[0]
    expect(page.locator("#key-usage li[data-ability='inventory:list']")).to_have_count(0)
    expect(page.locator("#key-usage").get_by_role("button", name="Remove unused abilities")).to_have_count(0)
    assert _abilities(live_server, prefix) == ["products:list", "products:show"]
    expect(page.locator("#key-history")).to_contain_text("Removed unused abilities")

    # Grant the refused ability through its button and confirmation.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#key-usage").get_by_role("button", name="Grant customers:list").click()
    expect(page.locator(".notice--info")).to_have_text("Granted customers:list.")
    assert _abilities(live_server, prefix) == ["products:list", "products:show", "customers:list"]

    assert console.csp_violations() == []
    assert not [m for m in console.messages if m.startswith(("pageerror", "error"))]


def test_a_rolling_keys_usage_tells_the_old_and_the_new_key_apart(
    page_and_console: tuple[Any, Console], live_server: LiveServer
) -> None:
    """Mid-grace, the new key's page shows the whole chain with the old key's share apart (faded
    in the bars, a row of its own), on a desktop and on a phone."""
    page, console = page_and_console
    old = _prefix(live_server, "Amazon SP-API bridge")
    created_days_ago(live_server.app, old, 60)
    # Two weeks of ledger lists by the old key, then the new key's first days beside it; the old
    # key is still called today (minutes ago), which is what the admin needs to see.
    now = datetime.now(UTC)
    ledger = [
        (now - timedelta(days=day, hours=2), "amazon-ledger:list", 200, 90 + 5 * (day % 4))
        for day in range(1, 15)
    ]
    add_usage(live_server.app, old, *ledger, (now - timedelta(days=3), "sales-orders:list", 429, 12))
    with live_server.app.app_context():
        new = rolling.roll_key(old, actor="tests", grace="7d").key.prefix
    firsts = [
        (now - timedelta(days=day, minutes=30), "amazon-ledger:list", 200, 30 + 10 * day) for day in range(3)
    ]
    add_usage(live_server.app, new, *firsts, (now - timedelta(minutes=20), "sales-orders:list", 200, 14))
    add_usage(live_server.app, old, (now - timedelta(minutes=10), "amazon-ledger:list", 200, 25))
    open_panel(page)
    page.goto(f"/settings/api-keys/{new}")
    ready(page)

    usage = page.locator("#key-usage")
    keys = usage.locator("#usage-keys")
    expect(keys.locator(f"tr[data-key='{new}']")).to_contain_text("this key")
    expect(keys.locator(f"tr[data-key='{old}']")).to_contain_text("old key, rolling: stops in 6 days")
    expect(usage.locator(f".usage-bar--older[data-key='{old}']").first).to_be_visible()
    expect(
        usage.locator(f"#usage-operations tr[data-operation='amazon-ledger:list'] li[data-key='{old}']")
    ).to_be_visible()

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    usage.screenshot(path=str(SCREENSHOTS / "key-usage-rolling-1280.png"))
    assert _sideways(page) == []
    page.set_viewport_size({"width": 390, "height": 844})
    expect(keys.locator(f"tr[data-key='{old}']")).to_be_visible()
    assert usage.bounding_box()["width"] <= 390
    usage.screenshot(path=str(SCREENSHOTS / "key-usage-rolling-390.png"))
    assert _sideways(page) == []

    # The old key's own page: its requests only, pointing at the new key for the whole chain.
    page.goto(f"/settings/api-keys/{old}")
    ready(page)
    expect(page.locator("#key-usage")).to_contain_text("this key's own requests only")
    expect(page.locator("#usage-keys")).to_have_count(0)
    assert console.csp_violations() == []
    assert not [m for m in console.messages if m.startswith(("pageerror", "error"))]
