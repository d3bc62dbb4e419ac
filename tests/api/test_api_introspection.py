"""``GET /api/v1/key``: any valid key learns what it is and may do (SPEC §12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.keys import rolling
from app.models.types import utcnow
from tests.api.api_helpers import assert_error

KEY = "/api/v1/key"


def test_any_valid_key_describes_itself_with_no_ability_needed(call, make_key, make_user):
    """Exactly the SPEC's fields; a key holding a single unrelated ability may call it."""
    owner = make_user(email="sync@example.com", name="Amazon SP-API sync", is_system=True)
    created = make_key(
        name="Nightly sync",
        owner=owner,
        abilities=["brands:list", "products:show"],
        rate_limit=30,
        allowed_ips=["127.0.0.0/8"],
    )
    response = call(KEY, created.raw_key)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"data"}
    data = body["data"]
    assert set(data) == {
        "prefix",
        "name",
        "owner",
        "abilities",
        "rate_limit",
        "expires_at",
        "status",
        "sunset_at",
        "allowed_ips",
        "scope",
    }
    assert data["prefix"] == created.key.prefix
    assert data["name"] == "Nightly sync"
    assert data["owner"] == {"name": "Amazon SP-API sync"}
    assert data["abilities"] == ["brands:list", "products:show"]
    assert data["expires_at"] is None
    assert data["status"] == "active"
    assert data["sunset_at"] is None
    assert data["allowed_ips"] == ["127.0.0.0/8"]
    assert data["scope"] == {"warehouses": [], "marketplaces": [], "hidden_fields": []}
    limit = data["rate_limit"]
    assert limit["limit"] == 30
    assert limit["remaining"] == 29  # this request counted
    assert str(limit["reset"]) == response.headers["X-RateLimit-Reset"]
    assert created.raw_key not in response.get_data(as_text=True)
    assert created.raw_key[13:] not in response.get_data(as_text=True)


def test_introspection_counts_against_the_keys_limit(call, make_key):
    """It is a request like any other: the bucket shrinks, and a full bucket is a 429."""
    created = make_key(rate_limit=2)
    first = call(KEY, created.raw_key).get_json()["data"]["rate_limit"]
    assert first["remaining"] == 1
    assert call("/api/v1/products", created.raw_key).status_code == 200
    assert_error(call(KEY, created.raw_key), 429, "rate_limited")


def test_expiry_is_utc_iso_8601_with_z(call, make_key):
    """expires_at reads like every API timestamp."""
    expiry = datetime(2031, 5, 6, 7, 8, tzinfo=UTC)
    created = make_key(expires_at=expiry)
    data = call(KEY, created.raw_key).get_json()["data"]
    assert data["expires_at"] == "2031-05-06T07:08:00Z"


def test_a_key_in_its_grace_period_reads_rolling_with_its_cutover(app, call, make_key):
    """A rolled key before its cutover: status rolling and the cutover; its new key: active."""
    created = make_key()
    cutover = (utcnow() + timedelta(hours=1)).replace(microsecond=0)
    with app.app_context():
        new = rolling.roll_key(created.key.prefix, actor="tests", grace=cutover)
        new_raw = new.raw_key
    data = call(KEY, created.raw_key).get_json()["data"]
    assert data["status"] == "rolling"
    assert data["sunset_at"] == cutover.isoformat().replace("+00:00", "Z")
    new_data = call(KEY, new_raw).get_json()["data"]
    assert (new_data["status"], new_data["sunset_at"]) == ("active", None)


def test_without_a_valid_key_it_is_refused_like_every_endpoint(call, make_key):
    """No key: 401; a key from a wrong address: 403 ip_not_allowed."""
    assert_error(call(KEY), 401, "missing_key")
    assert_error(call(KEY, "sgk_00000000_" + "0" * 38), 401, "invalid_key")
    pinned = make_key(allowed_ips=["10.0.0.0/8"])
    assert_error(call(KEY, pinned.raw_key, environ_base={"REMOTE_ADDR": "192.0.2.1"}), 403, "ip_not_allowed")


def test_only_get_is_allowed(call, make_key: Any):
    """The API stays read-only."""
    created = make_key()
    assert_error(call(KEY, created.raw_key, method="POST"), 405, "method_not_allowed")
