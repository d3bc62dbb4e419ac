"""The key service's rules for allowed IPs and description, for every caller (panel, CLI, tests)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.keys import allowed_ips, service
from app.models.api_keys import ApiKey
from tests.keys.key_helpers import assert_create_and_edit_refuse


def _count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ApiKey)) or 0


@pytest.mark.both_databases
def test_entries_are_stored_canonical_without_repeats(app: Flask, make_key: Any) -> None:
    created = make_key(
        allowed_ips=["192.0.2.77/24", "192.0.2.0/24", "2001:0DB8:0:0::1", " 10.0.0.1 ", "::ffff:10.0.0.1"],
        description="  Partner feed  ",
    )
    assert created.key.allowed_ips == ["192.0.2.0/24", "2001:db8::1/128", "10.0.0.1/32"]
    assert created.key.description == "Partner feed"


def test_a_new_key_allows_any_address_and_has_no_description(make_key: Any) -> None:
    created = make_key()
    assert created.key.allowed_ips == []
    assert created.key.description is None


@pytest.mark.parametrize(
    ("changes", "field", "needle"),
    [
        ({"allowed_ips": ["10.0.0.1", "bogus"]}, "allowed_ips", "'bogus'"),
        ({"allowed_ips": ["10.0.0.256"]}, "allowed_ips", "'10.0.0.256'"),
        ({"allowed_ips": ["bogus", "10.0.0.1", "10.0.0.256"]}, "allowed_ips", "'bogus', '10.0.0.256'"),
        ({"allowed_ips": ["1" * 500]}, "allowed_ips", "…"),
        ({"allowed_ips": [f"10.1.{n}.0/24" for n in range(101)]}, "allowed_ips", "At most 100"),
        ({"allowed_ips": "10.0.0.1"}, "allowed_ips", "must be a list"),
        ({"allowed_ips": [7]}, "allowed_ips", "Not a valid string"),
        ({"allowed_ips": ["10.0.0.1\x00"]}, "allowed_ips", "control character"),
        ({"description": "x" * 501}, "description", "at most 500"),
        ({"description": "nul\x00"}, "description", "control character"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
    app: Flask, make_key: Any, changes: dict[str, Any], field: str, needle: str
) -> None:
    """Create and edit both refuse it; no row is added, the existing key is unchanged."""
    existing = make_key(allowed_ips=["192.0.2.0/24"], description="Kept")
    assert_create_and_edit_refuse(app, existing.key.prefix, changes, field, needle)
    assert _count(app) == 1
    with app.app_context():
        stored = db.session.scalar(select(ApiKey))
        assert (stored.name, stored.allowed_ips, stored.description) == ("Test key", ["192.0.2.0/24"], "Kept")


@pytest.mark.both_databases
def test_exactly_100_entries_and_500_characters_are_accepted(make_key: Any) -> None:
    created = make_key(allowed_ips=[f"10.2.{n}.0/24" for n in range(100)], description="d" * 500)
    assert len(created.key.allowed_ips) == 100
    assert len(created.key.description) == 500


@pytest.mark.both_databases
def test_edit_clears_allowed_ips_and_description(app: Flask, make_key: Any) -> None:
    created = make_key(allowed_ips=["192.0.2.0/24"], description="Old")
    with app.app_context():
        key = service.edit_key(created.key.prefix, allowed_ips=[], description="", actor="tests")
        assert key.allowed_ips == []
        assert key.description is None


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("192.0.2.5", True),
        ("192.0.3.5", False),
        ("::ffff:192.0.2.5", True),
        ("2001:db8:1::9", True),
        ("2001:db9::9", False),
        ("not-an-ip", False),
        (None, False),
    ],
)
def test_is_allowed_matches_ranges_of_both_versions(address: str | None, allowed: bool) -> None:
    assert allowed_ips.is_allowed(address, ("192.0.2.0/24", "2001:db8::/32")) is allowed


def test_an_empty_list_allows_any_address_and_parsed_lists_are_reused() -> None:
    assert allowed_ips.is_allowed("203.0.113.1", ())
    assert allowed_ips.networks(("10.0.0.0/8",)) is allowed_ips.networks(("10.0.0.0/8",))


def test_a_long_list_of_bad_entries_is_named_up_to_the_entry_limit() -> None:
    bad = [f"bad-{n}" for n in range(allowed_ips.MAX_ENTRIES + 3)]
    with pytest.raises(ValueError, match=r"'bad-99' and 3 more \(e\.g\.") as refused:
        allowed_ips.canonical(bad)
    assert "'bad-100'" not in str(refused.value)
