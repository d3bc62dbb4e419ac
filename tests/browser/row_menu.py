"""Reaching a key's row actions in the browser: they sit in the row's "⋯" menu."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect


def open_row_menu(row: Any) -> Any:
    """Open ``row``'s "⋯" menu and return it (a popover, so it is checked to be shown)."""
    row.get_by_role("button", name="Actions for").click()
    menu = row.locator(".row-menu")
    expect(menu).to_be_visible()
    return menu


def row_action(row: Any, name: str) -> Any:
    """The button ``name`` (e.g. "Deactivate") of ``row``, its menu opened first."""
    return open_row_menu(row).get_by_role("button", name=name)
