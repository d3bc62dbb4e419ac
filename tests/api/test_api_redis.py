"""The limiter on Redis (TEST_REDIS_URL, DB 14): exact limits, safe key names, fail closed when down."""

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


@pytest.fixture
def app_config(app_config: dict[str, Any], redis_url: str) -> dict[str, Any]:
    """Rate limits stored in Redis."""
    return {**app_config, "RATELIMIT_STORAGE_URI": redis_url}


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


def test_redis_down_fails_closed_with_503_json_quickly(tmp_path: Path) -> None:
    # Port 1 refuses connections: Redis is "down". Built by hand: the app fixture resets storage.
    config = {
        **base_config(f"sqlite:///{tmp_path / 'down.db'}"),
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/14",
    }
    app = create_app(config)
    with app.app_context():
        db.create_all()
        create_user("owner@example.com", "Owner")
        raw = keys_service.create_key(name="k", owner="owner@example.com", abilities=["brands:list"]).raw_key
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
