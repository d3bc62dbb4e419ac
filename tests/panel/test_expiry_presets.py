"""Expires At in the create and edit forms: presets, a date and time, or Never (SPEC §7)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from app.keys.inputs import (
    EXPIRY_DATE_REQUIRED,
    EXPIRY_IN_PAST,
    EXPIRY_PRESETS,
    default_expiry_preset,
    offered_expiry_presets,
)
from app.models.api_keys import ApiKey
from app.models.types import utcnow
from app.models.users import User
from tests.panel.conftest import PanelClient
from tests.panel.form_helpers import create_form_data, error_for

KEY_PREFIX_IN_PAGE = re.compile(r'id="new-key"[^>]*value="(sgk_[0-9A-Za-z]{8})', re.S)
EXPIRY_RADIOS = re.compile(r'<input[^>]*name="expiry"[^>]*>')


@pytest.fixture
def owner(make_user: Any) -> User:
    """A person who owns keys."""
    return make_user(email="grace@example.com", name="Grace Hopper")


def _create_data(owner: User, **changes: Any) -> dict[str, Any]:
    return create_form_data(owner, **changes)


def _radios(page: str) -> dict[str, bool]:
    """The expiry radio buttons of a form: value -> checked."""
    found = {}
    for tag in EXPIRY_RADIOS.findall(page):
        value = re.search(r'value="([^"]*)"', tag)
        assert value
        found[value.group(1)] = " checked" in tag
    return found


def _created(signed_in: PanelClient, load_key: Any, data: dict[str, Any]) -> ApiKey:
    response = signed_in.post("/settings/api-keys", data)
    assert response.status_code == 200, response.text
    match = KEY_PREFIX_IN_PAGE.search(response.text)
    assert match
    return load_key(match.group(1))


def _future(days: int = 10) -> str:
    return (utcnow() + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def test_create_form_offers_the_presets_with_90_days_chosen(signed_in: PanelClient, owner: User) -> None:
    page = signed_in.get("/settings/api-keys/new", htmx=True).text
    assert _radios(page) == {
        "7": False,
        "30": False,
        "60": False,
        "90": True,
        "date": False,
        "never": False,
    }
    for label in ("In 7 days", "In 30 days", "In 60 days", "In 90 days", "On a date and time", "Never"):
        assert f"> {label}</label>" in page
    assert "A key without an expiry stays valid until someone" in page
    # The Never radio is described by the warning, for screen readers.
    assert 'value="never" aria-describedby="expiry-never-warning"' in page or re.search(
        r'aria-describedby="expiry-never-warning"[^>]*value="never"', page
    )


@pytest.mark.parametrize("days", [7, 30, 60, 90])
def test_a_preset_expires_the_key_that_many_days_from_now(
    signed_in: PanelClient, owner: User, load_key: Any, days: int
) -> None:
    before = utcnow()
    key = _created(signed_in, load_key, _create_data(owner, expiry=str(days), expires_at=""))
    after = utcnow()
    expires_at = key.expires_at.replace(tzinfo=UTC) if key.expires_at.tzinfo is None else key.expires_at
    assert before + timedelta(days=days) - timedelta(seconds=1) <= expires_at <= after + timedelta(days=days)


def test_never_creates_a_key_without_expiry(signed_in: PanelClient, owner: User, load_key: Any) -> None:
    key = _created(signed_in, load_key, _create_data(owner, expiry="never", expires_at=_future()))
    assert key.expires_at is None


def test_a_date_and_time_is_the_expiry(signed_in: PanelClient, owner: User, load_key: Any) -> None:
    when = _future(days=45)
    key = _created(signed_in, load_key, _create_data(owner, expiry="date", expires_at=when))
    assert key.expires_at.strftime("%Y-%m-%dT%H:%M") == when


def test_a_date_sent_with_another_preset_is_ignored_even_when_bad(
    signed_in: PanelClient, owner: User, load_key: Any
) -> None:
    key = _created(signed_in, load_key, _create_data(owner, expiry="7", expires_at="next tuesday"))
    assert key.expires_at is not None
    assert key.expires_at.replace(tzinfo=UTC) - utcnow() < timedelta(days=7, minutes=1)


@pytest.mark.parametrize(
    ("changes", "field_id", "message"),
    [
        ({"expiry": "date", "expires_at": ""}, "expires_at", EXPIRY_DATE_REQUIRED),
        ({"expiry": "date"}, "expires_at", EXPIRY_DATE_REQUIRED),
        ({"expiry": "date", "expires_at": "2020-01-01T10:00"}, "expires_at", EXPIRY_IN_PAST),
        ({"expiry": "date", "expires_at": "soon"}, "expires_at", "Not a valid datetime value."),
        (
            {"expiry": "365"},
            "expiry",
            "Choose when the key expires: in 7 days, in 30 days, in 60 days, in 90 days, "
            "on a date and time or never.",
        ),
        (
            {"expiry": ""},
            "expiry",
            "Choose when the key expires: in 7 days, in 30 days, in 60 days, in 90 days, "
            "on a date and time or never.",
        ),
    ],
)
def test_a_bad_expiry_is_an_error_by_its_field_and_saves_nothing(
    signed_in: PanelClient, owner: User, count_keys: Any, changes: dict[str, str], field_id: str, message: str
) -> None:
    response = signed_in.post("/settings/api-keys", _create_data(owner, **changes))
    assert response.status_code == 422
    assert error_for(response.text, field_id) == message
    assert count_keys() == 0
    # The admin's choice is kept, so the date input is still there to fix.
    if changes["expiry"] == "date":
        assert _radios(response.text)["date"] is True


@pytest.mark.parametrize(
    ("expires_at", "stored"),
    [("", None), ("2031-05-01T12:30", datetime(2031, 5, 1, 12, 30, tzinfo=UTC))],
)
def test_without_a_preset_the_form_reads_the_date_as_the_cli_does(
    signed_in: PanelClient, owner: User, load_key: Any, expires_at: str, stored: datetime | None
) -> None:
    key = _created(signed_in, load_key, _create_data(owner, expires_at=expires_at))
    assert (key.expires_at and key.expires_at.replace(tzinfo=UTC)) == stored


def test_editor_opens_on_the_keys_own_expiry(signed_in: PanelClient, make_key: Any) -> None:
    dated = make_key(name="Dated", expires_at=utcnow() + timedelta(days=3)).key
    endless = make_key(name="Endless").key
    dated_page = signed_in.get(f"/settings/api-keys/{dated.prefix}/edit", htmx=True).text
    endless_page = signed_in.get(f"/settings/api-keys/{endless.prefix}/edit", htmx=True).text
    assert _radios(dated_page)["date"] is True
    assert dated.expires_at.strftime("%Y-%m-%dT%H:%M") in dated_page
    assert _radios(endless_page)["never"] is True
    assert f'id="edit-{endless.prefix}-expiry-never-warning"' in endless_page


@pytest.mark.parametrize(("expiry", "days"), [("30", 30), ("never", None)])
def test_edit_sets_a_preset_or_never(
    signed_in: PanelClient, make_key: Any, load_key: Any, expiry: str, days: int | None
) -> None:
    key = make_key(name="Scanner", expires_at=utcnow() + timedelta(days=3)).key
    data = {"name": "Scanner", "abilities": ["products:list"], "rate_limit": "60", "expiry": expiry}
    response = signed_in.post(f"/settings/api-keys/{key.prefix}", data)
    assert response.status_code == 200, response.text
    stored = load_key(key.prefix).expires_at
    if days is None:
        assert stored is None
    else:
        assert abs(stored.replace(tzinfo=UTC) - (utcnow() + timedelta(days=days))) < timedelta(minutes=1)


def test_a_maximum_lifetime_offers_neither_never_nor_longer_presets() -> None:
    offered = offered_expiry_presets(45)
    assert [p.value for p in offered] == ["7", "30", "date"]
    assert default_expiry_preset(offered) == "30"
    assert offered_expiry_presets(None) == EXPIRY_PRESETS
    assert default_expiry_preset(EXPIRY_PRESETS) == "90"


def test_the_form_follows_a_maximum_lifetime_when_one_is_configured(
    app: Flask, signed_in: PanelClient, owner: User, count_keys: Any
) -> None:
    app.config["KEY_MAX_LIFETIME_DAYS"] = 30
    page = signed_in.get("/settings/api-keys/new", htmx=True).text
    assert _radios(page) == {"7": False, "30": True, "date": False}
    response = signed_in.post("/settings/api-keys", _create_data(owner, expiry="never"))
    assert response.status_code == 422
    assert error_for(response.text, "expiry") == (
        "Choose when the key expires: in 7 days, in 30 days or on a date and time."
    )
    assert count_keys() == 0
