"""Sign-in throttling: hard limits per address and per (email, address); per email, a refusal
that spares the addresses its user signs in from. Never a wait on the server."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import audit, create_app
from app.accounts import create_user
from app.config import ConfigError, load_config
from app.extensions import db
from app.models.audit import AuditEvent
from app.models.types import utcnow
from app.models.users import User
from tests.conftest import base_config
from tests.panel.conftest import ADMIN_PASSWORD, PanelClient, form_csrf_token


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Small limits so the stories stay short."""
    return {
        **app_config,
        "SIGN_IN_LIMIT_PER_ADDRESS": "8 per 10 minutes",
        "SIGN_IN_LIMIT_PER_EMAIL_ADDRESS": "3 per 10 minutes",
        "SIGN_IN_LIMIT_PER_EMAIL": "4 per 10 minutes",
        "SIGN_IN_BACKOFF_STEP_SECONDS": 1,
        "SIGN_IN_BACKOFF_MAX_SECONDS": 3,
    }


@pytest.fixture
def no_sleeping(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any request that would hold its worker by sleeping."""

    def sleep(seconds: float) -> None:
        raise AssertionError(f"the server slept {seconds} s in a request")

    monkeypatch.setattr(time, "sleep", sleep)


def throttled(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The ``session.sign_in_throttled`` security events logged so far."""
    events = [
        json.loads(r.getMessage().split(" ", 1)[1]) for r in caplog.records if r.name == "stockgate.security"
    ]
    return [e for e in events if e["event"] == "session.sign_in_throttled"]


def usual_address(panel: PanelClient, admin: User, address: str) -> None:
    """The admin signs in from ``address`` once, and signs out: it is now an address she uses."""
    panel.remote_addr = address
    assert panel.login(admin.email).status_code == 302
    panel.client.post("/logout", data={"csrf_token": panel.csrf_token})


def attack(panel: PanelClient, email: str, addresses: list[str]) -> list[int]:
    """One wrong password for ``email`` from each address; the statuses."""
    statuses = []
    for address in addresses:
        panel.remote_addr = address
        statuses.append(panel.login(email, "wrong password").status_code)
    return statuses


def test_an_email_under_attack_is_refused_at_once_with_a_growing_retry_after(
    panel: PanelClient, admin: User, no_sleeping: None
) -> None:
    assert attack(panel, admin.email, [f"10.3.0.{n}" for n in range(1, 5)]) == [401] * 4
    retry_after = []
    for n in range(5, 9):
        panel.remote_addr = f"10.3.0.{n}"
        started = time.monotonic()
        # Even the right password: past the email's limit a stranger's address gets no check.
        refused = panel.login(admin.email, ADMIN_PASSWORD)
        assert time.monotonic() - started < 0.5
        assert refused.status_code == 429
        assert "Too many sign-in attempts" in refused.text
        assert '<label for="email">Email</label>' in refused.text
        retry_after.append(int(refused.headers["Retry-After"]))
    # The back-off step doubles from 1 s, capped at 3 s.
    assert retry_after == [1, 2, 3, 3]
    assert panel.get("/settings/api-keys").status_code == 302


def test_the_admin_signs_in_from_her_usual_address_while_her_email_is_under_attack(
    panel: PanelClient, admin: User, no_sleeping: None
) -> None:
    usual_address(panel, admin, "192.0.2.7")
    assert attack(panel, admin.email, [f"10.0.0.{n}" for n in range(1, 13)]) == [401] * 4 + [429] * 8
    # At her usual address her password is still checked: a typo is a 401, not a 429 ...
    panel.remote_addr = "192.0.2.7"
    assert panel.login(admin.email, "wrong password").status_code == 401
    # ... and the right one signs her in.
    response = panel.login(admin.email, ADMIN_PASSWORD)
    assert response.status_code == 302
    assert response.location == "/settings/api-keys"
    assert panel.get("/settings/api-keys").status_code == 200


def test_a_usual_ipv6_address_is_known_by_its_64(panel: PanelClient, admin: User) -> None:
    usual_address(panel, admin, "2001:db8:5:6::1")
    attack(panel, admin.email, [f"10.0.1.{n}" for n in range(1, 6)])
    panel.remote_addr = "2001:db8:5:6:aaaa::2"
    assert panel.login(admin.email).status_code == 302
    panel.client.post("/logout", data={"csrf_token": panel.csrf_token})
    attack(panel, admin.email, [f"10.0.2.{n}" for n in range(1, 6)])
    panel.remote_addr = "2001:db8:5:7::1"
    assert panel.login(admin.email).status_code == 429


def test_an_address_last_used_over_90_days_ago_is_a_strangers(
    app: Flask, panel: PanelClient, admin: User
) -> None:
    with app.app_context():
        audit.record("session.signed_in", actor=admin.email, address="192.0.2.8")
        event = db.session.scalars(db.select(AuditEvent)).all()[-1]
        event.created_at = utcnow() - timedelta(days=91)
        db.session.commit()
    attack(panel, admin.email, [f"10.0.3.{n}" for n in range(1, 6)])
    panel.remote_addr = "192.0.2.8"
    assert panel.login(admin.email).status_code == 429


def test_an_address_another_user_signed_in_from_is_not_known_for_this_email(
    panel: PanelClient, admin: User, make_user: Any
) -> None:
    colleague = make_user(email="bo@example.com", name="Bo", password=ADMIN_PASSWORD, is_admin=True)
    usual_address(panel, colleague, "192.0.2.9")
    attack(panel, admin.email, [f"10.0.4.{n}" for n in range(1, 6)])
    panel.remote_addr = "192.0.2.9"
    assert panel.login(admin.email).status_code == 429


def test_failures_per_email_and_address_are_refused_with_the_page_and_retry_after(
    panel: PanelClient, admin: User
) -> None:
    panel.remote_addr = "10.2.2.2"
    for _ in range(3):
        assert panel.login(admin.email, "wrong password").status_code == 401
    blocked = panel.login(admin.email, ADMIN_PASSWORD)
    assert blocked.status_code == 429
    assert "Too many sign-in attempts" in blocked.text
    assert '<label for="email">Email</label>' in blocked.text
    assert int(blocked.headers["Retry-After"]) > 0
    assert panel.get("/settings/api-keys").status_code == 302
    # The same address may still try another email, and the admin may from elsewhere.
    assert panel.login("other@example.com", "wrong password").status_code == 401
    panel.remote_addr = "10.2.2.3"
    assert panel.login(admin.email, ADMIN_PASSWORD).status_code == 302


def test_attempts_per_address_are_refused_across_emails(panel: PanelClient, admin: User) -> None:
    panel.remote_addr = "10.1.1.1"
    for attempt in range(8):
        assert panel.login(f"guess{attempt}@example.com", "wrong password").status_code == 401
    refused = panel.login(admin.email, ADMIN_PASSWORD)
    assert refused.status_code == 429
    assert panel.get("/settings/api-keys").status_code == 302
    panel.remote_addr = "10.1.1.2"
    assert panel.login(admin.email, ADMIN_PASSWORD).status_code == 302


def test_ipv6_addresses_share_one_bucket_per_64(panel: PanelClient, admin: User) -> None:
    for attempt in range(8):
        panel.remote_addr = f"2001:db8:1:2::{attempt + 1:x}"
        assert panel.login(f"guess{attempt}@example.com", "wrong password").status_code == 401
    panel.remote_addr = "2001:db8:1:2:ffff::1"
    assert panel.login(admin.email, ADMIN_PASSWORD).status_code == 429
    panel.remote_addr = "2001:db8:1:3::1"
    assert panel.login(admin.email, ADMIN_PASSWORD).status_code == 302


def test_a_successful_sign_in_clears_that_email_and_address_count(panel: PanelClient, admin: User) -> None:
    panel.remote_addr = "10.2.3.4"
    for _ in range(2):
        for _ in range(2):
            assert panel.login(admin.email, "wrong password").status_code == 401
        assert panel.login(admin.email).status_code == 302
        panel.client.post("/logout", data={"csrf_token": panel.csrf_token})


def test_a_refusal_for_the_email_is_logged_as_throttled(
    panel: PanelClient, admin: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="stockgate.security")
    attack(panel, admin.email, [f"10.3.1.{n}" for n in range(1, 6)])
    (event,) = throttled(caplog)
    assert event["limit"] == "email"
    assert event["action"] == "refused"
    assert event["retry_after"] == 1
    assert event["address"] == "10.3.1.5"
    assert event["email"] == admin.email


def test_signing_in_clears_the_emails_count(panel: PanelClient, admin: User) -> None:
    usual_address(panel, admin, "192.0.2.10")
    assert attack(panel, admin.email, [f"10.3.2.{n}" for n in range(1, 6)]) == [401] * 4 + [429]
    usual_address(panel, admin, "192.0.2.10")
    assert attack(panel, admin.email, ["10.3.2.99"]) == [401]


def test_an_unknown_email_is_refused_like_a_known_one(panel: PanelClient, admin: User) -> None:
    statuses = attack(panel, "nobody@example.com", [f"10.4.0.{n}" for n in range(1, 7)])
    assert statuses == [401] * 4 + [429] * 2


def test_a_form_that_does_not_validate_costs_no_attempt(panel: PanelClient, admin: User) -> None:
    panel.remote_addr = "10.5.0.1"
    for _ in range(10):
        assert panel.login(admin.email, "").status_code == 400
    assert panel.login(admin.email).status_code == 302


# --- concurrency: the attempt is counted before the password is checked -----------------------


def post_at_once(app: Flask, forms: list[dict[str, str]], address: str) -> list[int]:
    """POST every form to /login from its own thread, all released together; the statuses."""
    barrier = threading.Barrier(len(forms))
    statuses: list[int] = []

    def attempt(form: dict[str, str]) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post("/login", data=form, environ_base={"REMOTE_ADDR": address})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=attempt, args=(form,)) for form in forms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(statuses)


@pytest.mark.both_databases
class TestConcurrentAttemptsOnRedis:
    """Threads released together against a Redis-backed app (TEST_REDIS_URL), as in production."""

    @pytest.fixture
    def app_config(self, app_config: dict[str, Any], redis_url: str) -> dict[str, Any]:
        """Limits in Redis; no CSRF, so threads can post without fetching a page first."""
        return {**app_config, "RATELIMIT_STORAGE_URI": redis_url, "WTF_CSRF_ENABLED": False}

    def test_one_email_and_address_never_exceed_the_limit(self, app: Flask, admin: User) -> None:
        forms = [{"email": admin.email, "password": "wrong password"}] * 12
        assert post_at_once(app, forms, "10.6.0.1") == [401] * 3 + [429] * 9

    def test_one_address_never_exceeds_the_limit(self, app: Flask, admin: User) -> None:
        forms = [{"email": f"guess{n}@example.com", "password": "wrong password"} for n in range(16)]
        assert post_at_once(app, forms, "10.6.0.2") == [401] * 8 + [429] * 8


# --- Redis down -------------------------------------------------------------------------------


def test_sign_in_with_the_limit_storage_down_is_a_503_page_with_retry_after(tmp_path: Path) -> None:
    # Port 1 refuses connections: Redis is "down". Built by hand: the app fixture resets storage.
    config = {
        **base_config(f"sqlite:///{tmp_path / 'down.db'}"),
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0",
    }
    app = create_app(config)
    with app.app_context():
        db.create_all()
        create_user("admin@example.com", "Ada Admin", password=ADMIN_PASSWORD, is_admin=True, actor="tests")
    client: FlaskClient = app.test_client()
    page = client.get("/login")
    assert page.status_code == 200
    started = time.monotonic()
    response = client.post(
        "/login",
        data={
            "email": "admin@example.com",
            "password": ADMIN_PASSWORD,
            "csrf_token": form_csrf_token(page.text),
        },
    )
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert "Sign-in is unavailable right now" in response.text
    assert '<label for="email">Email</label>' in response.text
    assert int(response.headers["Retry-After"]) > 0
    assert client.get("/settings/api-keys").status_code == 302
    with app.app_context():
        db.engine.dispose()


# --- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SIGN_IN_LIMIT_PER_ADDRESS", "lots"),
        ("SIGN_IN_LIMIT_PER_EMAIL_ADDRESS", "5 per fortnight"),
        ("SIGN_IN_LIMIT_PER_EMAIL", "x"),
        ("SIGN_IN_BACKOFF_STEP_SECONDS", "fast"),
        ("SIGN_IN_BACKOFF_STEP_SECONDS", "0"),
        ("SIGN_IN_BACKOFF_MAX_SECONDS", "86400"),
        # Renamed when the slow-down became a refusal: an old setting is not silently ignored.
        ("SIGN_IN_SLOWDOWN_AFTER", "5 per 10 minutes"),
        ("SIGN_IN_SLOWDOWN_STEP_MS", "250"),
        ("SIGN_IN_SLOWDOWN_MAX_MS", "3000"),
    ],
)
def test_junk_sign_in_limits_stop_the_app_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_config(str(tmp_path))


def test_sign_in_limits_have_sane_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    config = load_config(str(tmp_path))
    assert config["SIGN_IN_LIMIT_PER_ADDRESS"] == "30 per 10 minutes"
    assert config["SIGN_IN_LIMIT_PER_EMAIL_ADDRESS"] == "5 per 10 minutes"
    assert config["SIGN_IN_LIMIT_PER_EMAIL"] == "5 per 10 minutes"
    assert config["SIGN_IN_BACKOFF_STEP_SECONDS"] == 1
    assert config["SIGN_IN_BACKOFF_MAX_SECONDS"] == 60
