"""The docs on a desktop and a phone: no sideways scroll at 1280 or 390 px (issue 26).

At 390 px the one-column grid was ``1fr``, whose minimum is its content's width: the widest
table or ``pre`` pushed the page to 961 px. ``minmax(0, 1fr)`` lets them scroll inside.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.models.api_keys import ApiKey
from tests.browser.conftest import Console, LiveServer, open_panel

pytestmark = pytest.mark.browser

WIDTHS = (1280, 390)


def _page_width(page: Any) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth")


def test_public_and_one_keys_docs_fit_a_desktop_and_a_phone(
    page_and_console: tuple[Any, Console], live_server: LiveServer, tmp_path: Path
) -> None:
    page, console = page_and_console
    with live_server.app.app_context():
        prefix = db.session.scalar(select(ApiKey.prefix).where(ApiKey.name == "Shopify storefront"))
    open_panel(page)
    for name, path in (("public", "/api/docs"), ("key", f"/settings/api-keys/{prefix}/docs")):
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(path)
            expect(page.locator("h1")).to_be_visible()
            page.screenshot(path=str(tmp_path / f"docs-{name}-{width}.png"))
            assert _page_width(page) <= width, (path, width, _page_width(page))
    assert console.csp_violations() == []
