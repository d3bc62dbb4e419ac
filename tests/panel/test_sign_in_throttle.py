"""Sign-in throttling: hard limits per address and per (email, address), a slow-down per email."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.accounts import create_user
from app.config import ConfigError, load_config
from app.extensions import db
from app.models.users import User
from tests.conftest import base_config
from tests.panel.conftest import ADMIN_PASSWORD, PanelClient, form_csrf_token


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Small limits so the stories stay short, and a slow-down measured in milliseconds."""
    return {
        **app_config,
        "SIGN_IN_LIMIT_PER_ADDRESS": "8 per 10 minutes",
        "SIGN_IN_LIMIT_PER_EMAIL_ADDRESS": "3 per 10 minutes",
        "SIGN_IN_SLOWDOWN_AFTER": "4 per 10 minutes",
        "SIGN_IN_SLOWDOWN_STEP_MS": 40,
        "SIGN_IN_SLOWDOWN_MAX_MS": 100,
    }


def throttled_delays(caplog: pytest.LogCaptureFixture) -> list[int]:
    """The waits (ms) the server imposed, from the ``session.sign_in_throttled`` lines."""
    events = [
        json.loads(r.getMessage().split(" ", 1)[1]) for r in caplog.records if r.name == "stockgate.security"
    ]
    return [e["delay_ms"] for e in events if e["event"] == "session.sign_in_throttled" and "delay_ms" in e]


def test_wrong_passwords_from_other_addresses_do_not_lock_the_admin_out(
    panel: PanelClient, admin: User
) -> None:
    for attempt in range(12):
        panel.remote_addr = f"10.0.0.{attempt + 1}"
        assert panel.login(admin.email, "wrong password").status_code == 401
    panel.remote_addr = "10.0.0.99"
    response = panel.login(admin.email, ADMIN_PASSWORD)
    assert response.status_code == 302
    assert response.location == "/settings/api-keys"
    assert panel.get("/settings/api-keys").status_code == 200


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


def test_failures_per_email_slow_down_with_a_growing_capped_wait_but_still_sign_in(
    panel: PanelClient, admin: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="stockgate.security")
    timings = []
    for attempt in range(7):
        panel.remote_addr = f"10.3.0.{attempt + 1}"
        started = time.monotonic()
        assert panel.login(admin.email, "wrong password").status_code == 401
        timings.append(time.monotonic() - started)
    # Four attempts in the window are free; then 40, 80, then the 100 ms cap.
    assert throttled_delays(caplog) == [40, 80, 100]
    assert timings[-1] >= 0.1
    panel.remote_addr = "10.3.0.99"
    started = time.monotonic()
    assert panel.login(admin.email, ADMIN_PASSWORD).status_code == 302
    assert time.monotonic() - started >= 0.1
    assert throttled_delays(caplog) == [40, 80, 100, 100]
    # Signing in ends the slow-down for that email.
    panel.client.post("/logout", data={"csrf_token": panel.csrf_token})
    panel.remote_addr = "10.3.0.100"
    assert panel.login(admin.email, "wrong password").status_code == 401
    assert throttled_delays(caplog) == [40, 80, 100, 100]


def test_an_unknown_email_is_slowed_down_like_a_known_one(
    panel: PanelClient, admin: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="stockgate.security")
    for attempt in range(6):
        panel.remote_addr = f"10.4.0.{attempt + 1}"
        assert panel.login("nobody@example.com", "wrong password").status_code == 401
    assert throttled_delays(caplog) == [40, 80]


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
        ("SIGN_IN_SLOWDOWN_AFTER", "x"),
        ("SIGN_IN_SLOWDOWN_STEP_MS", "fast"),
        ("SIGN_IN_SLOWDOWN_MAX_MS", "60000"),
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
    assert config["SIGN_IN_SLOWDOWN_AFTER"] == "5 per 10 minutes"
    assert config["SIGN_IN_SLOWDOWN_STEP_MS"] == 250
    assert config["SIGN_IN_SLOWDOWN_MAX_MS"] == 3000
