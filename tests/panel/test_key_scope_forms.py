"""Warehouses, Marketplaces and Hide fields on the create and edit forms (SPEC §16): saved as
chosen, errors inline next to their fields, shown on the key's page, audited old → new."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.api_keys import ApiKey
from app.models.audit import AuditEvent
from app.models.users import User
from tests.panel.conftest import PanelClient
from tests.panel.form_helpers import create_form_data, error_for

KEY_IN_PAGE = re.compile(r'id="new-key"[^>]*value="(sgk_[0-9A-Za-z]{8})', re.S)


@pytest.fixture
def owner(make_user: Any, make_warehouse: Any) -> User:
    """A person who owns keys, and two warehouses a scope can name."""
    make_warehouse("RNO4", "Reno 3PL")
    make_warehouse("PHX7", "Phoenix FBA")
    return make_user(email="grace@example.com", name="Grace Hopper")


def _create_data(owner: User, **changes: Any) -> dict[str, Any]:
    return create_form_data(owner, name="3PL feed", abilities=["inventory:list"], expiry="30", **changes)


def test_create_form_offers_the_scope_fieldsets(signed_in: PanelClient, owner: User) -> None:
    """Warehouses by code and name, the marketplaces and the field groups, each All by default."""
    page = signed_in.get("/settings/api-keys/new", htmx=True).text
    for legend in ("Warehouses", "Marketplaces", "Hide fields"):
        assert f"<legend>{legend}</legend>" in page
    assert re.search(r'name="warehouses" value="PHX7"[^>]*>\s*<code>PHX7</code> Phoenix FBA', page)
    assert 'name="marketplaces" value="Amazon.ca"' in page
    assert re.search(r'name="hidden_fields" value="buyer-details"[^>]*>\s*Buyer details', page)
    assert re.search(r'name="warehouses_mode"[^>]*value="all"[^>]*checked|checked[^>]*value="all"', page)


def test_create_with_a_scope_stores_it_and_the_key_page_shows_it(
    signed_in: PanelClient, owner: User, load_key: Any
) -> None:
    data = _create_data(
        owner,
        warehouses_mode="chosen",
        warehouses=["RNO4", "PHX7"],
        marketplaces_mode="chosen",
        marketplaces=["Amazon.ca"],
        hidden_fields=["costs", "contact-details"],
    )
    response = signed_in.post("/settings/api-keys", data)
    assert response.status_code == 200, response.text
    prefix = KEY_IN_PAGE.search(response.text).group(1)
    stored = load_key(prefix)
    assert (stored.warehouses, stored.marketplaces, stored.hidden_fields) == (
        ["PHX7", "RNO4"],
        ["Amazon.ca"],
        ["contact-details", "costs"],
    )
    details = signed_in.get(f"/settings/api-keys/{prefix}").text
    assert re.search(r"<dt>Warehouses</dt><dd><code>PHX7</code>, <code>RNO4</code></dd>", details)
    assert "<dt>Marketplaces</dt><dd>Amazon.ca</dd>" in details
    assert "<dt>Hidden Fields</dt><dd>Contact details, Costs</dd>" in details


def test_all_ignores_the_ticked_boxes(signed_in: PanelClient, owner: User, load_key: Any) -> None:
    """Without JavaScript the hidden boxes are still sent: All means no narrowing, whatever is ticked."""
    data = _create_data(owner, warehouses_mode="all", warehouses=["RNO4"], marketplaces_mode="all")
    response = signed_in.post("/settings/api-keys", data)
    stored = load_key(KEY_IN_PAGE.search(response.text).group(1))
    assert (stored.warehouses, stored.marketplaces, stored.hidden_fields) == ([], [], [])


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"warehouses_mode": "chosen", "warehouses": ["RNO4", "GONE1"]},
            "warehouses",
            "Unknown warehouse code: GONE1.",
        ),
        (
            {"marketplaces_mode": "chosen", "marketplaces": ["Amazon.moon"]},
            "marketplaces",
            "Unknown marketplace",
        ),
        ({"hidden_fields": ["costs", "salaries"]}, "hidden_fields", "Unknown field group: salaries."),
        ({"warehouses_mode": "chosen"}, "warehouses", "Tick at least one warehouse, or choose All."),
        ({"marketplaces_mode": "chosen"}, "marketplaces", "Tick at least one marketplace, or choose All."),
    ],
)
def test_a_bad_scope_is_an_error_next_to_its_field_and_saves_nothing(
    signed_in: PanelClient, owner: User, count_keys: Any, changes: dict[str, Any], field: str, message: str
) -> None:
    response = signed_in.post("/settings/api-keys", _create_data(owner, **changes))
    assert response.status_code == 422
    assert message in error_for(response.text, field)
    assert count_keys() == 0


@pytest.fixture
def key(owner: User, make_key: Any) -> ApiKey:
    """A key limited to one warehouse."""
    return make_key(name="Scanner", owner=owner, abilities=["inventory:list"], warehouses=["RNO4"]).key


def _edit_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Scanner",
        "abilities": ["inventory:list"],
        "rate_limit": "60",
        "expiry": "never",
        "warehouses_mode": "chosen",
        "warehouses": ["RNO4"],
    }
    data.update(changes)
    return data


def test_editor_opens_on_the_keys_scope(signed_in: PanelClient, key: ApiKey) -> None:
    page = signed_in.get(f"/settings/api-keys/{key.prefix}/edit", htmx=True).text
    assert re.search(r'name="warehouses" value="RNO4"[^>]*checked', page)
    assert not re.search(r'name="warehouses" value="PHX7"[^>]*checked', page)
    assert re.search(
        r'id="edit-warehouses_mode-1"[^>]*checked|checked[^>]*id="edit-[^"]*warehouses_mode-1"', page
    )


def test_edit_changes_the_scope_and_the_audit_log_shows_old_to_new(
    app: Any, signed_in: PanelClient, key: ApiKey, load_key: Any
) -> None:
    response = signed_in.post(
        f"/settings/api-keys/{key.prefix}",
        _edit_data(warehouses=["PHX7"], hidden_fields=["buyer-details"]),
    )
    assert response.status_code == 200, response.text
    stored = load_key(key.prefix)
    assert (stored.warehouses, stored.hidden_fields) == (["PHX7"], ["buyer-details"])
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "key.updated")).one()
        assert event.details["changes"] == {
            "warehouses": {"old": ["RNO4"], "new": ["PHX7"]},
            "hidden_fields": {"old": [], "new": ["buyer-details"]},
        }
    log = html.unescape(signed_in.get(f"/settings/audit-log?q={key.prefix}", htmx=True).text)
    assert "Warehouses" in log and "PHX7" in log and "RNO4" in log
    assert "Hidden Fields" in log and "buyer-details" in log


def test_edit_with_an_unknown_warehouse_shows_the_error_and_changes_nothing(
    signed_in: PanelClient, key: ApiKey, load_key: Any
) -> None:
    response = signed_in.post(
        f"/settings/api-keys/{key.prefix}", _edit_data(name="Renamed", warehouses=["RNO4", "NOPE"])
    )
    assert response.status_code == 422
    assert "Unknown warehouse code: NOPE." in error_for(response.text, f"edit-{key.prefix}-warehouses")
    stored = load_key(key.prefix)
    assert (stored.name, stored.warehouses) == ("Scanner", ["RNO4"])


def test_edit_back_to_all_clears_the_scope(signed_in: PanelClient, key: ApiKey, load_key: Any) -> None:
    response = signed_in.post(f"/settings/api-keys/{key.prefix}", _edit_data(warehouses_mode="all"))
    assert response.status_code == 200, response.text
    assert load_key(key.prefix).warehouses == []
