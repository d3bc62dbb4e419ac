"""A key's Usage section in Chromium: the chart under the strict CSP on a desktop and a phone,
and "Remove unused abilities" through its confirmation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.models.api_keys import ApiKey
from tests.browser.conftest import SCREENSHOTS, Console, LiveServer, open_panel, ready
from tests.usage.usage_rows import add_usage

pytestmark = pytest.mark.browser

KEY_NAME = "Shopify storefront"  # seeded with products:list, products:show, inventory:list


def _prefix(live_server: LiveServer) -> str:
    with live_server.app.app_context():
        return db.session.scalar(select(ApiKey.prefix).where(ApiKey.name == KEY_NAME))


def _abilities(live_server: LiveServer, prefix: str) -> list[str]:
    with live_server.app.app_context():
        db.session.remove()  # read what the server wrote, not this session's copy
        return list(db.session.scalar(select(ApiKey.abilities).where(ApiKey.prefix == prefix)))


def _seed_usage(live_server: LiveServer, prefix: str) -> None:
    """Three weeks of product lists and shows, some limited and some refused customer lists."""
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
