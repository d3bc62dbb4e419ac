"""The guard: every way a key can be wrong gets a clear 4xx, never a 5xx, and costs no bcrypt."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import inspect, select, text

from app.api import ratelimit
from app.extensions import db, limiter
from app.keys import service as keys_service
from app.keys.format import build_key
from app.models.api_keys import ApiKey
from app.models.types import utcnow
from tests.api.api_helpers import assert_error

BRANDS = "/api/v1/brands"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """A small failed-attempt budget so floods end quickly."""
    return {**app_config, "API_AUTH_FAILURE_LIMIT": "10/minute"}


def wrong_secret(prefix: str, n: int) -> str:
    """A well-formed, correctly checksummed key with a real prefix and a wrong secret."""
    return build_key(prefix[4:], f"{n:032d}")


def test_request_without_key_is_401_missing_key_with_challenge(call: Any) -> None:
    response = call(BRANDS)
    error = assert_error(response, 401, "missing_key")
    assert "X-API-Key" in error["message"]
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="stockgate"')
    assert "X-API-Key" in challenge


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer    "},
        {"X-API-Key": ""},
        {"X-API-Key": "   "},
    ],
    ids=["bearer-no-value", "bearer-space", "bearer-spaces", "empty-x-api-key", "blank-x-api-key"],
)
def test_empty_credentials_are_401_missing_key(call: Any, headers: dict[str, str], bcrypt_calls: Any) -> None:
    assert_error(call(BRANDS, headers=headers), 401, "missing_key")
    assert bcrypt_calls["checkpw"] == 0


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "sgk_",
        "sgk_short_key",
        "x" * 16 * 1024,
        "sgk_" + "A" * 16 * 1024,
        "sgk_AAAAAAAA_" + "A" * 38,  # right shape, wrong checksum
        "sgk_AAAAAAAA_" + "A" * 37 + "é",
        "sgk_ÄÄÄÄÄÄÄÄ_" + "A" * 38,
    ],
    ids=[
        "garbage",
        "tag-only",
        "short",
        "16kb",
        "16kb-tagged",
        "bad-checksum",
        "non-ascii-tail",
        "non-ascii-id",
    ],
)
def test_malformed_keys_are_401_without_database_or_bcrypt(
    app: Flask, call: Any, value: str, bcrypt_calls: Any
) -> None:
    statements: list[str] = []
    with app.app_context():
        engine = db.engine
    from sqlalchemy import event

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        for headers in ({"X-API-Key": value}, {"Authorization": f"Bearer {value}"}):
            response = call(BRANDS, headers=headers)
            assert_error(response, 401, "invalid_key")
            assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert statements == []
    assert bcrypt_calls["checkpw"] == 0


def test_raw_non_ascii_header_bytes_are_a_4xx(app: Flask) -> None:
    environ_overrides = {"HTTP_X_API_KEY": b"sgk_\xff\xfe\x00".decode("latin-1")}
    response = app.test_client().get(BRANDS, environ_overrides=environ_overrides)
    assert_error(response, 401, "invalid_key")


def test_other_authorization_scheme_is_401_naming_bearer(call: Any, make_key: Any) -> None:
    created = make_key(abilities=["brands:list"])
    error = assert_error(
        call(BRANDS, headers={"Authorization": f"Basic {created.raw_key}"}), 401, "invalid_key"
    )
    assert "Bearer" in error["message"]


def test_unknown_and_wrong_secret_keys_are_401_invalid_key(call: Any, make_key: Any) -> None:
    created = make_key(abilities=["brands:list"])
    assert_error(call(BRANDS, build_key("ZZZZZZZZ")), 401, "invalid_key")
    assert_error(call(BRANDS, wrong_secret(created.key.prefix, 1)), 401, "invalid_key")


def test_key_works_in_either_header_and_in_both_when_identical(call: Any, make_key: Any) -> None:
    raw = make_key(abilities=["brands:list"]).raw_key
    assert call(BRANDS, headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    assert call(BRANDS, headers={"authorization": f"bearer {raw}"}).status_code == 200
    assert call(BRANDS, raw).status_code == 200
    assert call(BRANDS, raw, headers={"Authorization": f"Bearer {raw}"}).status_code == 200


def test_two_different_keys_are_400(call: Any, make_key: Any) -> None:
    first = make_key(abilities=["brands:list"]).raw_key
    second = make_key(abilities=["brands:list"]).raw_key
    response = call(BRANDS, first, headers={"Authorization": f"Bearer {second}"})
    error = assert_error(response, 400, "bad_request")
    assert first not in str(error) and second not in str(error)
    # RFC 6750 §3.1: a request that is malformed as to its credentials is invalid_request.
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="stockgate", error="invalid_request"'


@pytest.mark.parametrize("name", ["api_key", "key", "token", "access_token", "API_KEY", "q", "x"])
def test_key_in_query_string_is_400_not_echoed_not_logged(
    call: Any, make_key: Any, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    raw = make_key(abilities=["brands:list"]).raw_key
    caplog.set_level(logging.DEBUG)
    response = call(f"{BRANDS}?{name}={raw}", raw)
    error = assert_error(response, 400, "bad_request")
    assert "header" in error["message"]
    assert raw not in response.get_data(as_text=True)
    assert raw[:12] not in response.get_data(as_text=True)
    assert raw not in caplog.text and raw[13:] not in caplog.text


def test_key_as_query_parameter_name_is_refused_without_echoing_it(call: Any, make_key: Any) -> None:
    raw = make_key(abilities=["brands:list"]).raw_key
    response = call(f"{BRANDS}?{raw}")
    assert_error(response, 400, "bad_request")
    assert raw[:12] not in response.get_data(as_text=True)


def test_credential_named_parameter_is_refused_even_without_a_key_value(call: Any, make_key: Any) -> None:
    raw = make_key(abilities=["brands:list"]).raw_key
    assert_error(call(f"{BRANDS}?api_key=anything", raw), 400, "bad_request")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"status": "inactive"}, "key_inactive"),
        ({"status": "revoked"}, "key_revoked"),
        ({"expires_at": utcnow() - timedelta(seconds=1)}, "key_expired"),
    ],
    ids=["inactive", "revoked", "expired"],
)
def test_unusable_keys_are_401_with_their_reason(
    app: Flask, call: Any, make_key: Any, change: dict[str, Any], code: str
) -> None:
    created = make_key(abilities=["brands:list"])
    with app.app_context():
        key = db.session.get(ApiKey, created.key.id)
        for name, value in change.items():
            setattr(key, name, value)
        db.session.commit()
    response = call(BRANDS, created.raw_key)
    assert_error(response, 401, code)
    assert "WWW-Authenticate" in response.headers


@pytest.mark.parametrize("command", ["deactivate", "revoke"])
def test_cli_deactivate_or_revoke_refuses_the_next_request_in_the_same_process(
    call: Any, runner: Any, make_key: Any, command: str, bcrypt_calls: Any
) -> None:
    created = make_key(abilities=["brands:list"])
    assert call(BRANDS, created.raw_key).status_code == 200
    assert call(BRANDS, created.raw_key).status_code == 200
    # Proven once, then served from the per-process cache.
    assert bcrypt_calls["checkpw"] == 1
    result = runner.invoke(args=["keys", command, created.key.prefix])
    assert result.exit_code == 0, result.output
    expected = "key_inactive" if command == "deactivate" else "key_revoked"
    assert_error(call(BRANDS, created.raw_key), 401, expected)


def test_cli_reactivation_lets_the_key_in_again(call: Any, runner: Any, make_key: Any) -> None:
    created = make_key(abilities=["brands:list"])
    assert call(BRANDS, created.raw_key).status_code == 200
    runner.invoke(args=["keys", "deactivate", created.key.prefix])
    assert call(BRANDS, created.raw_key).status_code == 401
    runner.invoke(args=["keys", "activate", created.key.prefix])
    assert call(BRANDS, created.raw_key).status_code == 200


def test_missing_ability_is_403_naming_it(call: Any, make_key: Any) -> None:
    raw = make_key(abilities=["products:list"]).raw_key
    assert call("/api/v1/products", raw).status_code == 200
    for path, ability in (("/api/v1/products/1", "products:show"), (BRANDS, "brands:list")):
        response = call(path, raw)
        error = assert_error(response, 403, "forbidden")
        assert error["details"] == {"required_ability": ability}
        assert ability in error["message"]
        # RFC 6750 §3.1: the token is fine but lacks the scope this resource needs.
        assert response.headers["WWW-Authenticate"] == (
            f'Bearer realm="stockgate", error="insufficient_scope", scope="{ability}"'
        )


def test_challenges_follow_rfc_6750_for_every_refusal(call: Any, make_key: Any) -> None:
    """401 without a key: no error code; 401 for a bad key: invalid_token; keys in the URL:
    invalid_request. The 401s also name the X-API-Key header."""
    raw = make_key(abilities=["brands:list"]).raw_key
    missing = call(BRANDS).headers["WWW-Authenticate"]
    assert missing == 'Bearer realm="stockgate", ApiKey realm="stockgate", header="X-API-Key"'
    for response in (call(BRANDS, "garbage"), call(BRANDS, build_key("ZZZZZZZZ"))):
        assert response.headers["WWW-Authenticate"] == (
            'Bearer realm="stockgate", error="invalid_token", ApiKey realm="stockgate", header="X-API-Key"'
        )
    in_url = call(f"{BRANDS}?api_key={raw}")
    assert_error(in_url, 400, "bad_request")
    assert in_url.headers["WWW-Authenticate"] == 'Bearer realm="stockgate", error="invalid_request"'
    assert "WWW-Authenticate" not in call(BRANDS, raw).headers


def test_ability_edit_takes_effect_on_the_next_request(app: Flask, call: Any, make_key: Any) -> None:
    created = make_key(abilities=["brands:list"])
    assert call(BRANDS, created.raw_key).status_code == 200
    with app.app_context():
        db.session.get(ApiKey, created.key.id).abilities = ["products:list"]
        db.session.commit()
    assert_error(call(BRANDS, created.raw_key), 403, "forbidden")


def test_wrong_secret_flood_from_one_address_costs_few_bcrypt_checks_and_ends_in_429(
    call: Any, make_key: Any, bcrypt_calls: Any
) -> None:
    created = make_key(abilities=["brands:list"])
    statuses = [call(BRANDS, wrong_secret(created.key.prefix, n)).status_code for n in range(200)]
    assert bcrypt_calls["checkpw"] <= 10
    assert set(statuses) == {401, 429}
    assert statuses[-1] == 429
    assert statuses.index(429) == 10
    last = call(BRANDS, wrong_secret(created.key.prefix, 999))
    error = assert_error(last, 429, "rate_limited")
    assert error["details"]["scope"] == "client_address"
    assert int(last.headers["Retry-After"]) >= 1
    assert last.headers["X-RateLimit-Remaining"] == "0"


def test_garbage_flood_also_ends_in_429_for_new_keys_but_a_proven_key_keeps_working(
    call: Any, make_key: Any, bcrypt_calls: Any
) -> None:
    proven = make_key(abilities=["brands:list"])
    fresh = make_key(abilities=["brands:list"])
    assert call(BRANDS, proven.raw_key).status_code == 200  # its bcrypt check counted: 9 left
    assert [call(BRANDS, "garbage").status_code for _ in range(12)] == [401] * 9 + [429] * 3
    # A proven key needs no bcrypt, so the address's failures do not lock it out...
    assert call(BRANDS, proven.raw_key).status_code == 200
    # ...but a key not yet proven in this process would need bcrypt: refused until the window passes.
    assert_error(call(BRANDS, fresh.raw_key), 429, "rate_limited")
    assert bcrypt_calls["checkpw"] == 1


def test_refused_requests_carry_the_failure_budget_headers(call: Any) -> None:
    first = call(BRANDS)
    second = call(BRANDS)
    assert first.headers["X-RateLimit-Limit"] == "10"
    assert int(first.headers["X-RateLimit-Remaining"]) == 9
    assert int(second.headers["X-RateLimit-Remaining"]) == 8
    assert int(second.headers["X-RateLimit-Reset"]) > 0


def test_no_plaintext_key_in_database_logs_or_limiter_storage(
    app: Flask, call: Any, make_key: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = make_key(abilities=["brands:list"], rate_limit=2)
    raw = created.raw_key
    secret = raw[13:]
    for _ in range(3):
        call(BRANDS, raw)
    call(BRANDS, wrong_secret(created.key.prefix, 7))
    call(f"{BRANDS}?api_key={raw}")
    call(BRANDS, raw, headers={"Authorization": "Bearer " + wrong_secret(created.key.prefix, 8)})

    with app.app_context():
        dumped = []
        for table in inspect(db.engine).get_table_names():
            rows = db.session.execute(text(f'SELECT * FROM "{table}"')).all()
            dumped.append(repr(rows))
        everything = "\n".join(dumped)
        assert created.key.prefix in everything
        assert secret not in everything and raw not in everything
        assert db.session.scalar(select(ApiKey.key_hash)).startswith("$2")

    assert raw not in caplog.text and secret not in caplog.text

    storage = limiter.storage
    names = list(getattr(storage, "events", {})) + list(getattr(storage, "storage", {}))
    assert names, "the limiter stored nothing?"
    assert any(created.key.prefix in name for name in names)
    for name in names:
        assert secret not in name and raw not in name


def _comparable(response: Any) -> tuple[int, Any, dict[str, str]]:
    """Status, body and headers, minus what must differ between two requests (clock, request id)."""
    skipped = {"X-RateLimit-Reset", "X-Request-Id"}
    headers = {name: value for name, value in response.headers.items() if name not in skipped}
    body = response.get_json()
    body["error"].pop("request_id")
    body["error"]["message"] = re.sub(r"\d+", "N", body["error"]["message"])
    if "Retry-After" in headers:
        headers["Retry-After"] = "N"
    return response.status_code, body, headers


def test_unknown_prefix_gets_the_same_answer_and_bcrypt_as_a_wrong_secret(
    call: Any, make_key: Any, bcrypt_calls: Any
) -> None:
    prefix = make_key(abilities=["brands:list"]).key.prefix
    wrong = call(BRANDS, wrong_secret(prefix, 1), environ_base={"REMOTE_ADDR": "192.0.2.1"})
    unknown = call(BRANDS, build_key("ZZZZZZZZ"), environ_base={"REMOTE_ADDR": "192.0.2.2"})
    assert_error(wrong, 401, "invalid_key")
    assert _comparable(unknown) == _comparable(wrong)
    # The unknown prefix was checked against the dummy hash: the same cost as a wrong secret.
    assert bcrypt_calls["checkpw"] == 2


def test_once_the_budget_is_spent_every_failure_is_the_same_429_whether_the_prefix_exists_or_not(
    call: Any, make_key: Any, bcrypt_calls: Any
) -> None:
    created = make_key(abilities=["brands:list"])
    for n in range(10):
        assert call(BRANDS, wrong_secret(created.key.prefix, n)).status_code == 401
    answers = {
        "wrong secret": call(BRANDS, wrong_secret(created.key.prefix, 99)),
        "unknown prefix": call(BRANDS, build_key("ZZZZZZZZ")),
        "bad checksum": call(BRANDS, "sgk_AAAAAAAA_" + "A" * 38),
        "no key": call(BRANDS),
        "right key, not yet proven": call(BRANDS, created.raw_key),
    }
    first = _comparable(answers["wrong secret"])
    assert first[0] == 429
    for what, response in answers.items():
        assert_error(response, 429, "rate_limited")
        assert _comparable(response) == first, what
        assert response.headers["X-RateLimit-Remaining"] == "0"
    assert bcrypt_calls["checkpw"] == 10


def test_a_proven_key_refused_for_its_state_counts_against_the_address_never_a_bucket(
    app: Flask, call: Any, make_key: Any
) -> None:
    # Only the holder of the secret gets this answer, and it runs no bcrypt: it spends neither
    # the key's bucket nor the address's failed-attempt budget (10 here), only the address's
    # count of refusals, and it is answered 401 however many came before.
    created = make_key(abilities=["brands:list"], rate_limit=15)
    assert call(BRANDS, created.raw_key).status_code == 200
    with app.app_context():
        db.session.get(ApiKey, created.key.id).status = "revoked"
        db.session.commit()
    responses = [call(BRANDS, created.raw_key) for _ in range(25)]
    for response in responses:
        assert_error(response, 401, "key_revoked")
        assert "Retry-After" not in response.headers
    assert responses[0].headers["X-RateLimit-Remaining"] == "9"  # the address's count, 10 - 1
    assert responses[-1].headers["X-RateLimit-Remaining"] == "0"
    assert_error(call(BRANDS, "garbage"), 401, "invalid_key")  # the failure budget is untouched
    with app.app_context():
        window = ratelimit.limiter.limiter.get_window_stats(
            ratelimit.per_minute(15), created.key.prefix, ratelimit.PER_KEY_SCOPE
        )
    assert window.remaining == 14  # the key's bucket holds the one request it served


def test_a_revoked_key_whose_bucket_is_full_answers_key_revoked_not_429(
    app: Flask, call: Any, make_key: Any
) -> None:
    """SPEC §5 step 5: a 429 would tell the holder to retry a key that will never work again."""
    created = make_key(abilities=["brands:list"], rate_limit=3)
    for _ in range(3):
        assert call(BRANDS, created.raw_key).status_code == 200
    assert_error(call(BRANDS, created.raw_key), 429, "rate_limited")
    with app.app_context():
        keys_service.revoke_key(created.key.prefix, actor="tests")
    for _ in range(5):
        assert_error(call(BRANDS, created.raw_key), 401, "key_revoked")


@pytest.mark.parametrize(
    ("spenders", "same", "other"),
    [
        (["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe"], "2001:db8:1:2::abcd", "2001:db8:1:3::1"),
        (["192.0.2.10"], "::ffff:192.0.2.10", "192.0.2.11"),
    ],
    ids=["ipv6-by-64", "ipv4-per-address"],
)
def test_failed_attempt_budget_is_per_ipv4_address_and_per_ipv6_64(
    call: Any, spenders: list[str], same: str, other: str
) -> None:
    for n in range(10):
        address = spenders[n % len(spenders)]
        assert call(BRANDS, "garbage", environ_base={"REMOTE_ADDR": address}).status_code == 401
    assert_error(call(BRANDS, "garbage", environ_base={"REMOTE_ADDR": same}), 429, "rate_limited")
    assert_error(call(BRANDS, "garbage", environ_base={"REMOTE_ADDR": other}), 401, "invalid_key")


@pytest.mark.parametrize(
    ("remote_addr", "bucket"),
    [
        ("203.0.113.5", "203.0.113.5"),
        ("2001:db8:aa:bb:1:2:3:4", "2001:db8:aa:bb::/64"),
        ("2001:DB8:AA:BB::9", "2001:db8:aa:bb::/64"),
        ("::ffff:203.0.113.5", "203.0.113.5"),
        ("fe80::1%eth0", "fe80::/64"),
        ("unix-socket", "unix-socket"),
    ],
)
def test_client_address_names_the_failure_bucket(app: Flask, remote_addr: str, bucket: str) -> None:
    from app.api.ratelimit import client_address

    with app.test_request_context(environ_base={"REMOTE_ADDR": remote_addr}):
        assert client_address() == bucket


def test_throttling_is_one_security_event_per_refusal_without_the_key(
    call: Any, make_key: Any, caplog: pytest.LogCaptureFixture
) -> None:
    created = make_key(abilities=["brands:list"])
    caplog.set_level(logging.INFO, logger="stockgate.security")
    for n in range(10):
        call(BRANDS, wrong_secret(created.key.prefix, n), environ_base={"REMOTE_ADDR": "2001:db8::7"})
    assert not [r for r in caplog.records if "api.throttled" in r.getMessage()]
    refused = wrong_secret(created.key.prefix, 10)
    call(BRANDS, refused, environ_base={"REMOTE_ADDR": "2001:db8::7"})
    call(BRANDS, environ_base={"REMOTE_ADDR": "2001:db8::8"})
    lines = [r for r in caplog.records if "api.throttled" in r.getMessage()]
    assert len(lines) == 2
    events = [json.loads(r.getMessage().removeprefix("security_event ")) for r in lines]
    assert events[0] == {
        "event": "api.throttled",
        "reason": "failed_attempt_budget",
        "address": "2001:db8::7",
        "bucket": "2001:db8::/64",
        "prefix": created.key.prefix,
        "limit": 10,
    }
    assert events[1]["address"] == "2001:db8::8" and events[1]["prefix"] is None
    assert all(r.levelno == logging.WARNING for r in lines)
    for secret in (created.raw_key, created.raw_key[13:], refused, refused[13:]):
        assert secret not in caplog.text
