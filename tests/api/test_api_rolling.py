"""A rolled key at the API (SPEC §12): works with Deprecation/Sunset until the cutover, then
401 key_rolled naming the new prefix; old and new key share one rate-limit bucket."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from werkzeug.http import parse_date

from app.extensions import db
from app.keys import rolling, service
from app.models.types import utcnow
from tests.api.api_helpers import assert_error

# Both databases: the roll chain is found and shared by queries.
pytestmark = pytest.mark.both_databases

BRANDS = "/api/v1/brands"


def _roll(app: Flask, prefix: str, grace: str = "1h") -> Any:
    with app.app_context():
        created = rolling.roll_key(prefix, actor="cli", grace=grace)
        db.session.refresh(created.key)
        db.session.expunge(created.key)
        return created


def test_old_key_works_until_cutover_with_deprecation_and_sunset(
    app: Flask, call: Any, make_key: Any
) -> None:
    """During the grace period the old key is served, and says when it stops (RFC 9745, 8594)."""
    old = make_key(abilities=["brands:list"])
    _roll(app, old.key.prefix, "1h")
    response = call(BRANDS, old.raw_key)
    assert response.status_code == 200
    deprecation = response.headers["Deprecation"]
    assert deprecation.startswith("@")
    sunset = parse_date(response.headers["Sunset"])
    assert sunset is not None
    assert int(deprecation[1:]) == int(sunset.timestamp())
    assert timedelta(minutes=59) < sunset - utcnow() <= timedelta(hours=1)


def test_refusals_of_the_old_key_carry_the_headers_too(app: Flask, call: Any, make_key: Any) -> None:
    """Every response to the old key, a 403 included, carries Deprecation and Sunset."""
    old = make_key(abilities=["brands:list"])
    _roll(app, old.key.prefix)
    response = call("/api/v1/products", old.raw_key)
    assert_error(response, 403, "forbidden")
    assert "Deprecation" in response.headers and "Sunset" in response.headers


def test_new_key_and_unrolled_keys_carry_no_deprecation(app: Flask, call: Any, make_key: Any) -> None:
    """Only the old key of a roll is deprecated."""
    old, other = make_key(abilities=["brands:list"]), make_key(abilities=["brands:list"])
    new = _roll(app, old.key.prefix)
    for raw in (new.raw_key, other.raw_key):
        response = call(BRANDS, raw)
        assert response.status_code == 200
        assert "Deprecation" not in response.headers and "Sunset" not in response.headers


def test_after_cutover_the_old_key_gets_key_rolled_naming_the_new_prefix(
    app: Flask, call: Any, make_key: Any
) -> None:
    """Once the grace period ends, 401 key_rolled whose message names only the new prefix."""
    old = make_key(abilities=["brands:list"])
    new = _roll(app, old.key.prefix, "1h")
    assert call(BRANDS, old.raw_key).status_code == 200  # proven and cached in this process
    with app.app_context():
        rolling.end_grace(old.key.prefix, actor="cli")
    response = call(BRANDS, old.raw_key)
    error = assert_error(response, 401, "key_rolled")
    assert new.key.prefix in error["message"]
    assert new.raw_key not in response.get_data(as_text=True)
    assert "WWW-Authenticate" in response.headers
    assert call(BRANDS, new.raw_key).status_code == 200


def test_grace_0_refuses_the_old_key_at_once(app: Flask, call: Any, make_key: Any) -> None:
    """Rolling with grace 0 cuts over immediately."""
    old = make_key(abilities=["brands:list"])
    _roll(app, old.key.prefix, "0")
    assert_error(call(BRANDS, old.raw_key), 401, "key_rolled")


def test_old_and_new_key_share_one_bucket(app: Flask, call: Any, make_key: Any) -> None:
    """A limit of N lets exactly N requests through across the old and new key together."""
    old = make_key(abilities=["brands:list"], rate_limit=6)
    new = _roll(app, old.key.prefix)
    statuses = [call(BRANDS, raw).status_code for raw in [old.raw_key, new.raw_key] * 3]
    assert statuses == [200] * 6
    for raw in (old.raw_key, new.raw_key):
        response = call(BRANDS, raw)
        assert_error(response, 429, "rate_limited")
        assert response.headers["X-RateLimit-Remaining"] == "0"


@pytest.mark.parametrize("backend", ["sqlite"])  # limits, not SQL: the service test covers both
def test_a_limit_edited_on_one_key_of_a_roll_is_the_limit_of_both(
    app: Flask, call: Any, make_key: Any
) -> None:
    """Raising the new key's limit to 11 during the grace period raises the old key's too: one
    bucket, one limit, so 11 requests pass across both keys and the 12th is refused."""
    old = make_key(abilities=["brands:list"], rate_limit=10)
    new = _roll(app, old.key.prefix, "1h")
    with app.app_context():
        service.edit_key(new.key.prefix, actor="admin@example.com", rate_limit=11)
    responses = [call(BRANDS, raw) for raw in [old.raw_key, new.raw_key] * 6]
    assert [response.status_code for response in responses] == [200] * 11 + [429]
    assert {response.headers["X-RateLimit-Limit"] for response in responses} == {"11"}
    assert_error(responses[-1], 429, "rate_limited")


def test_openapi_documents_key_rolled_and_the_roll_headers(app: Flask) -> None:
    """The document lists the key_rolled code and the Deprecation and Sunset headers."""
    document = app.test_client().get("/api/openapi.json").get_json()
    headers = document["components"]["headers"]
    assert {"Deprecation", "Sunset"} <= set(headers)
    assert "key_rolled" in document["components"]["responses"]["Unauthorized"]["x-error-codes"]
    list_op = document["paths"]["/api/v1/brands"]["get"]
    assert {"Deprecation", "Sunset"} <= set(list_op["responses"]["200"]["headers"])


def test_calls_with_the_old_key_after_cutover_do_not_lock_the_new_key_out(
    app: Flask, call: Any, make_key: Any
) -> None:
    """A straggler still using the old key spends the shared bucket, not the address's budget
    for unproven keys: the new key's first request (bcrypt) from the same address still works."""
    old = make_key(abilities=["brands:list"], rate_limit=100)
    new = _roll(app, old.key.prefix, "1h")
    assert call(BRANDS, old.raw_key).status_code == 200
    with app.app_context():
        rolling.end_grace(old.key.prefix, actor="cli")
    for _ in range(25):  # more than the address's failed-attempt budget (20/minute)
        assert_error(call(BRANDS, old.raw_key), 401, "key_rolled")
    assert call(BRANDS, new.raw_key).status_code == 200


def test_a_leaked_rolled_key_never_spends_its_successors_bucket(app: Flask, call: Any, make_key: Any) -> None:
    """Past the cutover, the old key's refusals count against its address, not the chain's
    bucket: whoever holds the leaked key cannot keep the new one at 429 (issue 24)."""
    old = make_key(abilities=["brands:list"], rate_limit=5)
    new = _roll(app, old.key.prefix, "0")
    for _ in range(10):
        assert_error(call(BRANDS, old.raw_key), 401, "key_rolled")
    for _ in range(5):
        assert call(BRANDS, new.raw_key).status_code == 200
    assert_error(call(BRANDS, new.raw_key), 429, "rate_limited")


def test_a_revoked_old_key_in_its_grace_period_never_spends_the_new_keys_bucket(
    app: Flask, call: Any, make_key: Any
) -> None:
    """Revoking the leaked old key mid-grace stops it; its calls then cost the new key nothing."""
    old = make_key(abilities=["brands:list"], rate_limit=5)
    new = _roll(app, old.key.prefix, "1h")
    with app.app_context():
        service.revoke_key(old.key.prefix, actor="tests")
    for _ in range(10):
        assert_error(call(BRANDS, old.raw_key), 401, "key_revoked")
    for _ in range(5):
        assert call(BRANDS, new.raw_key).status_code == 200
