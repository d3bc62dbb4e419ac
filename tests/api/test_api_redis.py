"""The limiter on Redis (TEST_REDIS_URL): exact limits, safe key names, an exact failed-attempt
budget under concurrency, fail closed when down."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app import create_app
from app.accounts import create_user
from app.extensions import db
from app.keys import service as keys_service
from app.keys.format import build_key
from tests.api.api_helpers import assert_error
from tests.conftest import base_config

BRANDS = "/api/v1/brands"
BUDGET = 5


@pytest.fixture
def app_config(app_config: dict[str, Any], redis_url: str) -> dict[str, Any]:
    """Rate limits stored in Redis; a small failed-attempt budget and no bcrypt cap in the way."""
    return {
        **app_config,
        "RATELIMIT_STORAGE_URI": redis_url,
        "API_AUTH_FAILURE_LIMIT": f"{BUDGET}/minute",
        "API_BCRYPT_CONCURRENCY": 64,
    }


def test_redis_storage_gives_exactly_n_and_names_buckets_by_prefix_only(
    app: Flask, call: Any, make_key: Any, redis_url: str
) -> None:
    import redis

    created = make_key(abilities=["brands:list"], rate_limit=4)
    other = make_key(abilities=["brands:list"], rate_limit=4)
    statuses = [call(BRANDS, created.raw_key).status_code for _ in range(5)]
    assert statuses == [200] * 4 + [429]
    assert call(BRANDS, other.raw_key).status_code == 200
    call(BRANDS, build_key(created.key.prefix[4:], "1" * 32))
    names = [name.decode() for name in redis.Redis.from_url(redis_url).keys("*")]
    assert any(created.key.prefix in name for name in names)
    secret = created.raw_key[13:]
    for name in names:
        assert secret not in name and created.raw_key not in name


@pytest.mark.both_databases
def test_concurrent_wrong_secrets_from_one_address_run_bcrypt_at_most_budget_times(
    make_key: Any, concurrently: Any, slow_bcrypt: Any
) -> None:
    # Each attempt is counted *before* bcrypt: N+k threads cannot all pass a "budget left?"
    # test and then all run bcrypt (each check lasts 50 ms, so they really overlap).
    prefix = make_key(abilities=["brands:list"]).key.prefix
    extra = 7
    wrong = [build_key(prefix[4:], f"{n:032d}") for n in range(BUDGET + extra)]
    responses = concurrently([(BRANDS, {"X-API-Key": key}, "198.51.100.7") for key in wrong])
    statuses = [response.status_code for response in responses]
    assert slow_bcrypt.calls <= BUDGET
    assert set(statuses) <= {401, 429}
    assert statuses.count(401) == slow_bcrypt.calls
    assert statuses.count(429) >= extra
    for response in responses:
        if response.status_code == 429:
            assert assert_error(response, 429, "rate_limited")["details"]["scope"] == "client_address"


def test_redis_down_fails_closed_with_503_json_quickly(tmp_path: Path) -> None:
    # Port 1 refuses connections: Redis is "down". Built by hand: the app fixture resets storage.
    config = {
        **base_config(f"sqlite:///{tmp_path / 'down.db'}"),
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/14",
    }
    app = create_app(config)
    with app.app_context():
        db.create_all()
        create_user("owner@example.com", "Owner", actor="tests")
        raw = keys_service.create_key(
            name="k", owner="owner@example.com", abilities=["brands:list"], actor="tests"
        ).raw_key
    client = app.test_client()
    started = time.monotonic()
    for headers in ({"X-API-Key": raw}, {}):
        response = client.get(BRANDS, headers=headers)
        error = assert_error(response, 503, "service_unavailable")
        assert "rate-limit storage" in error["message"]
        assert int(response.headers["Retry-After"]) > 0
    assert time.monotonic() - started < 5
    with app.app_context():
        db.engine.dispose()


def test_on_redis_a_revoked_key_with_a_spent_bucket_answers_key_revoked(
    app: Flask, call: Any, make_key: Any
) -> None:
    """Issue 24's reproduction on shared storage: 3N requests spend the bucket, then revoke:
    every further request is 401 key_revoked, never 429 (nor the address's budget spent)."""
    created = make_key(abilities=["brands:list"], rate_limit=4)
    statuses = [call(BRANDS, created.raw_key).status_code for _ in range(12)]
    assert statuses == [200] * 4 + [429] * 8
    with app.app_context():
        keys_service.revoke_key(created.key.prefix, actor="tests")
    for _ in range(BUDGET * 2):
        assert_error(call(BRANDS, created.raw_key), 401, "key_revoked")
