"""The key service's rules for a key's data scope (SPEC §16): warehouses, marketplaces and
hidden field groups, for every caller (panel, CLI, tests)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.keys import rolling, service
from app.models.api_keys import ApiKey
from app.models.audit import AuditEvent
from tests.keys.key_helpers import assert_create_and_edit_refuse


def _count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ApiKey)) or 0


@pytest.mark.both_databases
def test_a_scope_is_stored_sorted_without_repeats(app: Flask, make_key: Any, make_warehouse: Any) -> None:
    make_warehouse("PHX7")
    make_warehouse("WH-NJ1")
    created = make_key(
        warehouses=["WH-NJ1", "PHX7", "WH-NJ1"],
        marketplaces=["amazon.com.mx", "Amazon.ca", "Amazon.CA"],
        hidden_fields=["costs", "buyer-details", "costs"],
    )
    assert created.key.warehouses == ["PHX7", "WH-NJ1"]
    assert created.key.marketplaces == ["Amazon.ca", "Amazon.com.mx"]
    assert created.key.hidden_fields == ["buyer-details", "costs"]


def test_a_new_key_has_no_scope(make_key: Any) -> None:
    created = make_key()
    assert (created.key.warehouses, created.key.marketplaces, created.key.hidden_fields) == ([], [], [])


@pytest.mark.both_databases
@pytest.mark.parametrize(
    ("changes", "field", "needle"),
    [
        ({"warehouses": ["PHX7", "NOPE", "ZZZ"]}, "warehouses", "Unknown warehouse code: NOPE, ZZZ."),
        ({"warehouses": ["phx7"]}, "warehouses", "Unknown warehouse code: phx7."),
        ({"warehouses": ["W" * 300]}, "warehouses", "…"),
        ({"warehouses": [f"W{n}" for n in range(101)]}, "warehouses", "At most 100 warehouses."),
        ({"warehouses": "PHX7"}, "warehouses", "must be a list"),
        ({"warehouses": ["PHX7\x00"]}, "warehouses", "control character"),
        ({"marketplaces": ["Amazon.ca", "Ebay.com"]}, "marketplaces", "Unknown marketplace: Ebay.com."),
        ({"hidden_fields": ["costs", "prices", "names"]}, "hidden_fields", "field group: names, prices."),
    ],
)
def test_an_unknown_scope_value_is_refused_naming_it_and_nothing_is_written(
    app: Flask, make_key: Any, make_warehouse: Any, changes: dict[str, Any], field: str, needle: str
) -> None:
    """Create and edit both refuse it; no row is added, the existing key is unchanged."""
    make_warehouse("PHX7")
    existing = make_key(warehouses=["PHX7"])
    assert_create_and_edit_refuse(app, existing.key.prefix, changes, field, needle)
    assert _count(app) == 1
    with app.app_context():
        stored = db.session.scalar(select(ApiKey))
        assert (stored.name, stored.warehouses) == ("Test key", ["PHX7"])


def test_a_scope_that_leaves_no_record_is_allowed(app: Flask, make_key: Any, make_warehouse: Any) -> None:
    """A warehouse with no stock and a marketplace with no orders: the key reads nothing, by choice."""
    make_warehouse("EMPTY1")
    created = make_key(warehouses=["EMPTY1"], marketplaces=["Amazon.co.jp"])
    assert created.key.warehouses == ["EMPTY1"]


def test_an_edit_of_the_scope_is_audited_old_to_new(app: Flask, make_key: Any, make_warehouse: Any) -> None:
    make_warehouse("PHX7")
    make_warehouse("WH-NJ1")
    key = make_key(warehouses=["PHX7"]).key
    with app.app_context():
        service.edit_key(
            key.prefix, warehouses=["PHX7", "WH-NJ1"], hidden_fields=["costs"], marketplaces=[], actor="tests"
        )
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "key.updated")).one()
        assert event.details["changes"] == {
            "warehouses": {"old": ["PHX7"], "new": ["PHX7", "WH-NJ1"]},
            "hidden_fields": {"old": [], "new": ["costs"]},
        }


def test_a_new_key_records_its_scope_in_the_created_event(app: Flask, make_key: Any) -> None:
    key = make_key(marketplaces=["Amazon.ca"]).key
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.key_prefix == key.prefix)).one()
        assert event.details["marketplaces"] == ["Amazon.ca"]
        assert event.details["warehouses"] == []


def test_a_roll_copies_the_scope(app: Flask, make_key: Any, make_warehouse: Any) -> None:
    make_warehouse("PHX7")
    old = make_key(warehouses=["PHX7"], marketplaces=["Amazon.ca"], hidden_fields=["contact-details"]).key
    with app.app_context():
        new = rolling.roll_key(old.prefix, grace="1h", actor="tests").key
        assert (new.warehouses, new.marketplaces, new.hidden_fields) == (
            ["PHX7"],
            ["Amazon.ca"],
            ["contact-details"],
        )
