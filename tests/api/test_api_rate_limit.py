"""Per-key rate limits: exactly N per minute per key, visible in headers, exact at boundaries;
and the per-process cap on concurrent bcrypt checks."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from flask import Flask

from app.extensions import db, limiter
from app.keys.format import build_key
from app.models.api_keys import ApiKey
from tests.api.api_helpers import assert_error

BRANDS = "/api/v1/brands"
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
BCRYPT_CAP = 2


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """A known cap on concurrent bcrypt checks."""
    return {**app_config, "API_BCRYPT_CONCURRENCY": BCRYPT_CAP}


class FakeClock:
    """A settable ``time`` stand-in for the limiter's storage and header code."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        """Return the current fake time."""
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Freeze the clock the in-memory limiter and its headers read, just before a minute boundary."""
    import limits.storage.memory

    from app.api import ratelimit

    fake = FakeClock(1_800_000_059.5)  # 1_800_000_060 is a multiple of 60: a fixed-window boundary
    monkeypatch.setattr(limits.storage.memory, "time", fake)
    monkeypatch.setattr(ratelimit, "time", fake)
    return fake


def test_key_limited_to_n_gets_exactly_n_then_429_and_a_second_key_is_unaffected(
    call: Any, make_key: Any
) -> None:
    limited = make_key(abilities=["brands:list"], rate_limit=5)
    other = make_key(abilities=["brands:list"], rate_limit=5)
    statuses = [call(BRANDS, limited.raw_key).status_code for _ in range(5)]
    assert statuses == [200] * 5
    response = call(BRANDS, limited.raw_key)
    error = assert_error(response, 429, "rate_limited")
    assert error["details"] == {"limit": 5, "window_seconds": 60, "scope": "key"}
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert response.headers["X-RateLimit-Limit"] == "5"
    assert call(BRANDS, limited.raw_key).status_code == 429
    assert call(BRANDS, other.raw_key).status_code == 200


def test_limit_is_shared_across_all_endpoints_of_a_key(call: Any, make_key: Any) -> None:
    raw = make_key(abilities=["brands:list", "products:list"], rate_limit=2).raw_key
    assert call(BRANDS, raw).status_code == 200
    assert call("/api/v1/products", raw).status_code == 200
    assert_error(call("/api/v1/products", raw), 429, "rate_limited")


def test_rate_limit_headers_are_on_every_response_after_auth(call: Any, make_key: Any) -> None:
    raw = make_key(abilities=["brands:list", "brands:show"], rate_limit=6).raw_key
    responses = [
        call(BRANDS, raw),  # 200
        call(f"{BRANDS}?per_page=0", raw),  # 400
        call("/api/v1/products", raw),  # 403
        call(f"{BRANDS}/999", raw),  # 404
    ]
    assert [r.status_code for r in responses] == [200, 400, 403, 404]
    for n, response in enumerate(responses, start=1):
        assert response.headers["X-RateLimit-Limit"] == "6"
        assert response.headers["X-RateLimit-Remaining"] == str(6 - n)
        assert int(response.headers["X-RateLimit-Reset"]) > 0


def test_failed_attempts_do_not_consume_the_keys_bucket(call: Any, make_key: Any) -> None:
    created = make_key(abilities=["brands:list"], rate_limit=3)
    wrong = build_key(created.key.prefix[4:], "0" * 32)
    for _ in range(5):
        assert call(BRANDS, wrong).status_code == 401
    assert call(BRANDS, "garbage").status_code == 401
    assert [call(BRANDS, created.raw_key).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_a_changed_limit_applies_on_the_next_request(app: Flask, call: Any, make_key: Any) -> None:
    created = make_key(abilities=["brands:list"], rate_limit=1)
    assert call(BRANDS, created.raw_key).status_code == 200
    assert call(BRANDS, created.raw_key).status_code == 429
    with app.app_context():
        db.session.get(ApiKey, created.key.id).rate_limit = 3
        db.session.commit()
    response = call(BRANDS, created.raw_key)
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Limit"] == "3"


def test_moving_window_does_not_let_twice_the_limit_through_across_a_minute_boundary(
    call: Any, make_key: Any, clock: FakeClock
) -> None:
    raw = make_key(abilities=["brands:list"], rate_limit=3).raw_key
    assert [call(BRANDS, raw).status_code for _ in range(3)] == [200, 200, 200]
    first_refusal = call(BRANDS, raw)
    assert first_refusal.status_code == 429
    assert int(first_refusal.headers["Retry-After"]) in (59, 60, 61)
    # A fixed window would start afresh here, one second later; the moving window does not.
    clock.now += 1.0
    assert call(BRANDS, raw).status_code == 429
    clock.now += 58.9  # 59.9 s after the first three requests
    assert call(BRANDS, raw).status_code == 429
    clock.now += 0.2  # 60.1 s after: the three entries have left the window
    assert [call(BRANDS, raw).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_limiter_strategy_is_the_documented_moving_window(app: Flask) -> None:
    assert app.config["RATELIMIT_STRATEGY"] == "moving-window"
    assert type(limiter.limiter).__name__ == "MovingWindowRateLimiter"


def test_with_limiting_switched_off_keys_are_still_checked_but_not_counted(tmp_path: Any) -> None:
    from app import create_app
    from app.accounts import create_user
    from app.keys import service as keys_service
    from tests.conftest import base_config

    app = create_app({**base_config(f"sqlite:///{tmp_path / 'off.db'}"), "RATELIMIT_ENABLED": False})
    try:
        with app.app_context():
            db.create_all()
            create_user("owner@example.com", "Owner", actor="tests")
            raw = keys_service.create_key(
                name="k", owner="owner@example.com", abilities=["brands:list"], rate_limit=1, actor="tests"
            ).raw_key
        client = app.test_client()
        assert [client.get(BRANDS, headers={"X-API-Key": raw}).status_code for _ in range(3)] == [200] * 3
        assert "X-RateLimit-Limit" not in client.get(BRANDS, headers={"X-API-Key": raw}).headers
        assert_error(client.get(BRANDS), 401, "missing_key")
    finally:
        with app.app_context():
            db.engine.dispose()
        limiter.enabled = True  # the limiter is module-global: do not leak "off" into later tests


@pytest.mark.both_databases
def test_with_every_bcrypt_slot_taken_a_new_key_gets_503_at_once_and_a_proven_key_is_served(
    app: Flask, call: Any, make_key: Any, bcrypt_calls: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from app.api.ratelimit import BCRYPT_SLOTS_NAME

    proven = make_key(abilities=["brands:list"])
    fresh = make_key(abilities=["brands:list"])
    assert call(BRANDS, proven.raw_key).status_code == 200
    caplog.set_level(logging.INFO, logger="stockgate.security")
    slots = app.extensions[BCRYPT_SLOTS_NAME]
    for _ in range(BCRYPT_CAP):  # as if other requests were inside bcrypt right now
        assert slots.acquire(blocking=False)
    try:
        busy = call(BRANDS, fresh.raw_key)
        unknown = call(BRANDS, build_key("ZZZZZZZZ"))
        assert call(BRANDS, proven.raw_key).status_code == 200
    finally:
        for _ in range(BCRYPT_CAP):
            slots.release()
    for response in (busy, unknown):
        assert_error(response, 503, "service_unavailable")
        assert response.headers["Retry-After"] == "1"
    assert bcrypt_calls["checkpw"] == 1  # only the proven key's first request
    events = [
        json.loads(r.getMessage().removeprefix("security_event "))
        for r in caplog.records
        if "api.throttled" in r.getMessage()
    ]
    assert [(e["reason"], e["prefix"]) for e in events] == [
        ("bcrypt_concurrency", fresh.key.prefix),
        ("bcrypt_concurrency", "sgk_ZZZZZZZZ"),
    ]
    assert fresh.raw_key not in caplog.text and fresh.raw_key[13:] not in caplog.text
    assert call(BRANDS, fresh.raw_key).status_code == 200  # slots free again


@pytest.mark.both_databases
def test_concurrent_new_keys_never_run_more_bcrypt_checks_at_once_than_the_cap(
    call: Any, make_key: Any, concurrently: Any, slow_bcrypt: Any
) -> None:
    keys = [make_key(abilities=["brands:list"]).raw_key for _ in range(8)]
    # Eight addresses, so the failed-attempt budget plays no part: only the cap does.
    responses = concurrently(
        [(BRANDS, {"X-API-Key": key}, f"198.51.100.{n}") for n, key in enumerate(keys, start=1)]
    )
    statuses = [response.status_code for response in responses]
    assert slow_bcrypt.most_at_once <= BCRYPT_CAP
    assert set(statuses) <= {200, 503} and 503 in statuses
    assert statuses.count(200) == slow_bcrypt.calls
    for response in responses:
        if response.status_code == 503:
            assert_error(response, 503, "service_unavailable")
            assert response.headers["Retry-After"] == "1"
    # A client that retries is served.
    for key, status in zip(keys, statuses, strict=True):
        if status == 503:
            assert call(BRANDS, key).status_code == 200
