"""Allowed IPs (SPEC §12): a key pinned to addresses refuses every other one, naming it."""

from __future__ import annotations

from typing import Any

import pytest

from app.extensions import db
from app.keys import service
from tests.api.api_helpers import assert_error

PRODUCTS = "/api/v1/products"


def from_address(call: Any, key: str, address: str, path: str = PRODUCTS, **kwargs: Any) -> Any:
    """Send ``key`` from ``address`` (the WSGI REMOTE_ADDR)."""
    return call(path, key, environ_base={"REMOTE_ADDR": address}, **kwargs)


def test_key_without_allowed_ips_works_from_any_address(call, make_key):
    """No allowed IPs: any address (IPv4 or IPv6) may use the key."""
    key = make_key()
    for address in ("192.0.2.1", "2001:db8::1", "127.0.0.1"):
        assert from_address(call, key.raw_key, address).status_code == 200


def test_allowed_address_and_range_work(call, make_key):
    """A listed address and an address inside a listed range both pass."""
    key = make_key(allowed_ips=["198.51.100.7", "203.0.113.0/24"])
    assert from_address(call, key.raw_key, "198.51.100.7").status_code == 200
    assert from_address(call, key.raw_key, "203.0.113.200").status_code == 200


def test_request_from_another_address_is_refused_naming_it(call, make_key):
    """403 ip_not_allowed; the message and details name the address the server saw."""
    key = make_key(allowed_ips=["203.0.113.0/24"])
    error = assert_error(from_address(call, key.raw_key, "192.0.2.99"), 403, "ip_not_allowed")
    assert "192.0.2.99" in error["message"]
    assert error["details"] == {"address": "192.0.2.99"}


def test_address_is_checked_before_the_ability(call, make_key):
    """A key lacking the ability, used from a wrong address, hears about the address only."""
    key = make_key(abilities=["products:list"], allowed_ips=["10.0.0.0/8"])
    assert_error(from_address(call, key.raw_key, "192.0.2.1", "/api/v1/brands"), 403, "ip_not_allowed")
    assert_error(from_address(call, key.raw_key, "10.1.2.3", "/api/v1/brands"), 403, "forbidden")


def test_ipv4_mapped_ipv6_address_compares_as_ipv4(call, make_key):
    """A dual-stack server reports IPv4 clients as ::ffff:a.b.c.d: they match IPv4 entries."""
    key = make_key(allowed_ips=["203.0.113.7"])
    assert from_address(call, key.raw_key, "::ffff:203.0.113.7").status_code == 200
    assert_error(from_address(call, key.raw_key, "::ffff:203.0.113.8"), 403, "ip_not_allowed")


def test_ipv6_ranges(call, make_key):
    """IPv6 CIDR ranges match their own addresses only; an IPv4 client is not in them."""
    key = make_key(allowed_ips=["2001:db8::/48"])
    assert from_address(call, key.raw_key, "2001:db8:0:ffff::5").status_code == 200
    assert_error(from_address(call, key.raw_key, "2001:db9::1"), 403, "ip_not_allowed")
    assert_error(from_address(call, key.raw_key, "192.0.2.1"), 403, "ip_not_allowed")


def test_editing_allowed_ips_takes_effect_on_the_next_request(app, call, make_key):
    """Allowed IPs are read fresh: adding, then clearing the list is seen at once."""
    key = make_key()
    assert from_address(call, key.raw_key, "192.0.2.1").status_code == 200
    with app.app_context():
        service.edit_key(key.key.prefix, allowed_ips=["10.0.0.0/8"], actor="tests")
    assert_error(from_address(call, key.raw_key, "192.0.2.1"), 403, "ip_not_allowed")
    with app.app_context():
        service.edit_key(key.key.prefix, allowed_ips=[], actor="tests")
        db.session.remove()
    assert from_address(call, key.raw_key, "192.0.2.1").status_code == 200


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """One trusted reverse proxy in front (``PROXY_FIX_HOPS=1``)."""
    return {**app_config, "PROXY_FIX_HOPS": 1}


def test_behind_a_proxy_the_trusted_forwarded_address_is_checked(call, make_key):
    """With PROXY_FIX_HOPS=1 the address is the proxy's X-Forwarded-For, not the proxy's own."""
    key = make_key(allowed_ips=["203.0.113.0/24"])
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    allowed = call(PRODUCTS, key.raw_key, headers={"X-Forwarded-For": "203.0.113.9"}, environ_base=proxy)
    assert allowed.status_code == 200
    refused = call(PRODUCTS, key.raw_key, headers={"X-Forwarded-For": "198.51.100.1"}, environ_base=proxy)
    assert "198.51.100.1" in assert_error(refused, 403, "ip_not_allowed")["message"]


def test_refusals_from_a_wrong_address_never_spend_the_keys_bucket(call, make_key):
    """A thief with a stolen IP-locked key cannot keep its owner at 429 (issue 24): its 403s
    count against the thief's address, and the owner still gets the key's whole limit."""
    key = make_key(allowed_ips=["203.0.113.0/24"], rate_limit=3)
    for _ in range(20):
        refused = from_address(call, key.raw_key, "192.0.2.66")
        assert_error(refused, 403, "ip_not_allowed")
        assert "Retry-After" not in refused.headers
    for _ in range(3):
        assert from_address(call, key.raw_key, "203.0.113.5").status_code == 200
    assert_error(from_address(call, key.raw_key, "203.0.113.5"), 429, "rate_limited")
