"""Panel sessions: an idle timeout, an absolute lifetime, and no caching of signed-in pages."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.config import ConfigError, load_config
from app.panel.session_lifetime import SEEN_AT, SIGNED_IN_AT
from tests.panel.conftest import PanelClient

MINUTE = 60
HOUR = 60 * MINUTE


def age_session(panel: PanelClient, *, signed_in_ago: float = 0, seen_ago: float = 0) -> None:
    """Move the session's timestamps into the past, as if time had passed (no sleeping)."""
    now = time.time()
    with panel.client.session_transaction() as session:
        assert SIGNED_IN_AT in session and SEEN_AT in session
        session[SIGNED_IN_AT] = now - signed_in_ago
        session[SEEN_AT] = now - seen_ago


def assert_sent_to_sign_in_with_a_message(panel: PanelClient) -> None:
    """The panel refuses the session and the sign-in page says why."""
    response = panel.get("/settings/api-keys")
    assert response.status_code == 302
    assert response.location.startswith("/login")
    page = panel.get(response.location)
    assert "Your session has expired. Please sign in again." in page.text
    assert panel.get("/settings/api-keys").status_code == 302


def test_a_session_idle_past_the_timeout_is_signed_out(signed_in: PanelClient) -> None:
    age_session(signed_in, signed_in_ago=31 * MINUTE, seen_ago=31 * MINUTE)
    assert_sent_to_sign_in_with_a_message(signed_in)


def test_a_session_used_within_the_timeout_stays_signed_in_and_is_renewed(signed_in: PanelClient) -> None:
    age_session(signed_in, signed_in_ago=2 * HOUR, seen_ago=29 * MINUTE)
    assert signed_in.get("/settings/api-keys").status_code == 200
    with signed_in.client.session_transaction() as session:
        assert time.time() - session[SEEN_AT] < MINUTE
    assert signed_in.get("/settings/api-keys").status_code == 200


def test_an_active_session_older_than_twelve_hours_is_signed_out(signed_in: PanelClient) -> None:
    age_session(signed_in, signed_in_ago=12 * HOUR + MINUTE, seen_ago=MINUTE)
    assert_sent_to_sign_in_with_a_message(signed_in)


def test_a_copied_cookie_expires_on_the_server_too(app: Flask, signed_in: PanelClient) -> None:
    age_session(signed_in, signed_in_ago=40 * MINUTE, seen_ago=40 * MINUTE)
    cookie = signed_in.client.get_cookie("session")
    assert cookie is not None
    copied = app.test_client()
    copied.set_cookie("session", cookie.value)
    assert copied.get("/settings/api-keys").status_code == 302


def test_an_expired_htmx_request_reloads_the_sign_in_page(signed_in: PanelClient) -> None:
    age_session(signed_in, seen_ago=31 * MINUTE)
    response = signed_in.get("/settings/api-keys?q=x", htmx=True)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login"
    assert "Your session has expired" in signed_in.get("/login").text


def test_a_session_without_timestamps_is_not_trusted(app: Flask, signed_in: PanelClient) -> None:
    with signed_in.client.session_transaction() as session:
        del session[SIGNED_IN_AT]
        del session[SEEN_AT]
    assert signed_in.get("/settings/api-keys").status_code == 302


class TestConfiguredTimeout:
    """SESSION_IDLE_MINUTES and SESSION_MAX_HOURS come from the config."""

    @pytest.fixture
    def app_config(self, app_config: dict[str, Any]) -> dict[str, Any]:
        """A five-minute idle timeout and a two-hour lifetime."""
        return {**app_config, "SESSION_IDLE_MINUTES": 5, "SESSION_MAX_HOURS": 2}

    def test_idle_timeout_follows_the_setting(self, signed_in: PanelClient) -> None:
        age_session(signed_in, seen_ago=4 * MINUTE)
        assert signed_in.get("/settings/api-keys").status_code == 200
        age_session(signed_in, seen_ago=6 * MINUTE)
        assert_sent_to_sign_in_with_a_message(signed_in)

    def test_lifetime_follows_the_setting(self, signed_in: PanelClient) -> None:
        age_session(signed_in, signed_in_ago=2 * HOUR + MINUTE)
        assert_sent_to_sign_in_with_a_message(signed_in)


@pytest.mark.parametrize(
    ("url", "htmx"),
    [
        ("/settings/api-keys", False),
        ("/settings/api-keys?q=abc", True),
        ("/settings/api-keys/new", True),
    ],
)
def test_signed_in_pages_and_fragments_are_not_stored_by_any_cache(
    signed_in: PanelClient, url: str, htmx: bool
) -> None:
    response = signed_in.get(url, htmx=htmx)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("SESSION_IDLE_MINUTES", "soon", "must be an integer"),
        ("SESSION_IDLE_MINUTES", "0", "between"),
        ("SESSION_MAX_HOURS", "24", "between 1 and 12"),
    ],
)
def test_junk_session_settings_stop_the_app_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, needle: str
) -> None:
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=needle):
        load_config(str(tmp_path))


def test_session_settings_default_to_thirty_minutes_and_twelve_hours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    config = load_config(str(tmp_path))
    assert config["SESSION_IDLE_MINUTES"] == 30
    assert config["SESSION_MAX_HOURS"] == 12
    assert config["PERMANENT_SESSION_LIFETIME"].total_seconds() == 12 * HOUR
