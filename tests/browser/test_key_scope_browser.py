"""The key form's data scope in Chromium (SPEC §16): Warehouses, Marketplaces and Hide fields
show at 1280 and 390 px, their lists open with "Chosen ones", and the chosen scope is saved."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.models.api_keys import ApiKey
from app.models.products import Warehouse, WarehouseKind
from tests.browser.conftest import SCREENSHOTS, Console, LiveServer, open_panel

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def warehouses(live_server: LiveServer) -> None:
    """Two warehouses in the served database, for the form to offer."""
    with live_server.app.app_context():
        for code, name in (("RNO4", "Reno 3PL"), ("PHX7", "Phoenix FBA")):
            db.session.add(Warehouse(code=code, name=name, kind=WarehouseKind.OWN, city="Reno", country="US"))
        db.session.commit()


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_scope_fieldsets_show_and_a_chosen_scope_is_saved(
    page_and_console: tuple[Any, Console], live_server: LiveServer, warehouses: None, width: int, height: int
) -> None:
    page, console = page_and_console
    page.set_viewport_size({"width": width, "height": height})
    open_panel(page)
    page.get_by_role("link", name="Create API Key").click()
    form = page.locator("#key-form")
    stock = form.get_by_role("group", name="Warehouses", exact=True)
    markets = form.get_by_role("group", name="Marketplaces", exact=True)
    hide = form.get_by_role("group", name="Hide fields", exact=True)
    for group in (stock, markets, hide):
        expect(group).to_be_visible()

    # All at first: the lists stay closed until "Chosen ones".
    expect(stock.get_by_label("All", exact=True)).to_be_checked()
    expect(stock.get_by_label("RNO4 Reno 3PL")).to_be_hidden()
    stock.get_by_label("Chosen ones").check()
    expect(stock.get_by_label("RNO4 Reno 3PL")).to_be_visible()
    stock.get_by_label("RNO4 Reno 3PL").check()
    markets.get_by_label("Chosen ones").check()
    markets.get_by_label("Amazon.ca", exact=True).check()
    hide.get_by_label("Costs").check()
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), width
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"key-form-scope-{width}x{height}.png"), full_page=True)

    name = f"Scoped feed {width}"
    form.get_by_label("Name", exact=True).fill(name)
    form.get_by_label("Owner").select_option(label="Grace Hopper (grace@example.com)")
    form.locator('input[name="abilities"][value="inventory:list"]').check()
    form.get_by_role("button", name="Submit").click()
    expect(page.locator("#new-key")).to_be_visible()
    with live_server.app.app_context():
        key = db.session.scalars(select(ApiKey).where(ApiKey.name == name)).one()
        assert (key.warehouses, key.marketplaces, key.hidden_fields) == (["RNO4"], ["Amazon.ca"], ["costs"])

    assert console.csp_violations() == []
    assert not [m for m in console.messages if m.startswith(("pageerror", "error"))]
