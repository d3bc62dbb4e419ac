"""Panel security events: one structured line per sign-in, failure, throttling and sign-out."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from app.models.users import User
from app.panel.session_lifetime import SEEN_AT
from tests.panel.conftest import ADMIN_PASSWORD, PanelClient

WRONG = "wrong-horse-staple"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """A small per-(email, address) limit so throttling is quick to reach."""
    return {**app_config, "SIGN_IN_LIMIT_PER_EMAIL_ADDRESS": "2 per 10 minutes"}


@pytest.fixture
def events(caplog: pytest.LogCaptureFixture) -> Any:
    """The security events logged so far, parsed, with every raw line checked to be one line."""
    caplog.set_level("INFO", logger="stockgate.security")

    def parsed() -> list[dict[str, Any]]:
        lines = [r.getMessage() for r in caplog.records if r.name == "stockgate.security"]
        for line in lines:
            assert "\n" not in line and line.startswith("security_event {")
        return [json.loads(line.split(" ", 1)[1]) for line in lines]

    parsed.raw = lambda: "\n".join(r.getMessage() for r in caplog.records)  # type: ignore[attr-defined]
    return parsed


def of(kind: str, logged: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events of one kind."""
    return [event for event in logged if event["event"] == kind]


def test_a_sign_in_is_one_line_with_email_and_address_and_no_secret(
    panel: PanelClient, admin: User, events: Any
) -> None:
    panel.remote_addr = "192.0.2.10"
    assert panel.login(admin.email).status_code == 302
    (event,) = of("session.signed_in", events())
    assert event["email"] == admin.email
    assert event["address"] == "192.0.2.10"
    cookie = panel.client.get_cookie("session")
    assert cookie is not None
    raw = events.raw()
    assert ADMIN_PASSWORD not in raw
    assert cookie.value not in raw
    assert admin.session_token not in raw


def test_a_failed_sign_in_is_logged_with_the_address_and_without_the_password(
    panel: PanelClient, admin: User, events: Any
) -> None:
    panel.remote_addr = "192.0.2.11"
    assert panel.login(admin.email, WRONG).status_code == 401
    (event,) = of("session.sign_in_failed", events())
    assert event["address"] == "192.0.2.11"
    assert event["email"] == admin.email
    assert WRONG not in events.raw()
    assert of("session.signed_in", events()) == []


def test_a_refused_attempt_is_logged_as_throttled(panel: PanelClient, admin: User, events: Any) -> None:
    panel.remote_addr = "192.0.2.12"
    for _ in range(2):
        panel.login(admin.email, WRONG)
    assert panel.login(admin.email, ADMIN_PASSWORD).status_code == 429
    (event,) = of("session.sign_in_throttled", events())
    assert event["address"] == "192.0.2.12"
    assert event["limit"] == "email_address"
    assert event["action"] == "refused"
    assert event["retry_after"] > 0
    assert ADMIN_PASSWORD not in events.raw()
    assert WRONG not in events.raw()


def test_a_sign_out_is_logged(signed_in: PanelClient, admin: User, events: Any) -> None:
    signed_in.client.post("/logout", data={"csrf_token": signed_in.csrf_token})
    (event,) = of("session.signed_out", events())
    assert event["email"] == admin.email
    assert event["address"] == "127.0.0.1"


def test_an_expired_session_is_logged_with_its_reason(
    signed_in: PanelClient, admin: User, events: Any
) -> None:
    with signed_in.client.session_transaction() as session:
        session[SEEN_AT] = time.time() - 3600
    signed_in.get("/settings/api-keys")
    (event,) = of("session.expired", events())
    assert event["reason"] == "idle"
    assert event["user_id"] == admin.id


def test_a_password_typed_into_the_email_field_is_not_logged(
    panel: PanelClient, admin: User, events: Any
) -> None:
    assert panel.login(ADMIN_PASSWORD, ADMIN_PASSWORD).status_code == 401
    (event,) = of("session.sign_in_failed", events())
    assert re.fullmatch(r"unknown email \([0-9a-f]{8}\)", event["email"])
    assert ADMIN_PASSWORD not in events.raw()


def test_a_password_with_an_at_sign_typed_into_the_email_field_is_not_logged(
    panel: PanelClient, admin: User, events: Any
) -> None:
    panel.remote_addr = "192.0.2.13"
    for _ in range(3):
        panel.login("summer@2026!pass", WRONG)
    assert panel.login("winter@2026!pass", WRONG).status_code == 401
    failed = [event["email"] for event in of("session.sign_in_failed", events())]
    (refused,) = of("session.sign_in_throttled", events())
    # The same text gets the same tag, so attempts can be matched up; another text another one.
    assert failed[0] == failed[1] == refused["email"] != failed[2]
    assert all(re.fullmatch(r"unknown email \([0-9a-f]{8}\)", email) for email in failed)
    assert "summer" not in events.raw() and "2026!pass" not in events.raw()
