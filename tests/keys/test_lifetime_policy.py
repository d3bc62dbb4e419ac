"""KEY_MAX_LIFETIME_DAYS (SPEC §15): new and rolled keys expire within it, from the service and
the CLI; older keys over it are flagged by the "over_lifetime" status filter, not switched off."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.keys import rolling, service
from app.keys.inputs import max_expiry
from app.models.api_keys import ApiKey
from app.models.audit import AuditEvent
from app.models.types import iso_utc, utcnow
from app.validation.errors import InvalidInput

MAX_DAYS = 90


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """A deployment with a 90-day lifetime policy."""
    return {**app_config, "KEY_MAX_LIFETIME_DAYS": MAX_DAYS}


def _counts(app: Flask) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(ApiKey)) or 0,
            db.session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
        )


def test_max_expiry_is_now_plus_the_policy(app: Flask) -> None:
    now = utcnow()
    with app.app_context():
        assert max_expiry(now) == now + timedelta(days=MAX_DAYS)
        app.config["KEY_MAX_LIFETIME_DAYS"] = None
        assert max_expiry(now) is None


def test_a_key_within_the_policy_is_created(make_key: Any) -> None:
    expires = utcnow() + timedelta(days=MAX_DAYS - 1)
    assert make_key(expires_at=expires).key.expires_at == expires


@pytest.mark.parametrize("expires_at", [None, "later"], ids=["never", "past-the-maximum"])
def test_a_key_that_would_outlive_the_policy_is_refused_and_nothing_is_written(
    app: Flask, make_key: Any, make_user: Any, expires_at: str | None
) -> None:
    make_user(email="owner@example.com", name="Owner")
    before = _counts(app)
    when = iso_utc(utcnow() + timedelta(days=MAX_DAYS + 1)) if expires_at else None
    with pytest.raises(InvalidInput) as refused:
        make_key(owner="owner@example.com", expires_at=when)
    message = refused.value.errors["expires_at"][0]
    assert f"keys must expire within {MAX_DAYS} days (KEY_MAX_LIFETIME_DAYS)" in message
    assert ("required" if expires_at is None else "too late") in message
    assert _counts(app) == before


def test_editing_an_expiry_past_the_policy_is_refused_but_other_edits_of_an_old_key_are_not(
    app: Flask, make_key: Any
) -> None:
    with app.app_context():
        app.config["KEY_MAX_LIFETIME_DAYS"] = None
    prefix = make_key(name="Legacy").key.prefix  # made before the policy: never expires
    with app.app_context():
        app.config["KEY_MAX_LIFETIME_DAYS"] = MAX_DAYS
        assert service.edit_key(prefix, actor="t", name="Legacy feed").name == "Legacy feed"
        for expires in (None, utcnow() + timedelta(days=MAX_DAYS + 1)):
            with pytest.raises(InvalidInput, match="KEY_MAX_LIFETIME_DAYS"):
                service.edit_key(prefix, actor="t", expires_at=expires)
        assert service.get_key(prefix).expires_at is None
        within = utcnow() + timedelta(days=10)
        assert service.edit_key(prefix, actor="t", expires_at=within).expires_at == within


def test_a_roll_caps_the_copied_expiry_at_now_plus_the_maximum(app: Flask, make_key: Any) -> None:
    with app.app_context():
        app.config["KEY_MAX_LIFETIME_DAYS"] = None
    never = make_key(name="Never expires").key.prefix
    soon_at = utcnow() + timedelta(days=5)
    soon = make_key(name="Soon", expires_at=soon_at).key.prefix
    with app.app_context():
        app.config["KEY_MAX_LIFETIME_DAYS"] = MAX_DAYS
        before = utcnow()
        capped = rolling.roll_key(never, actor="t").key
        assert before + timedelta(days=MAX_DAYS) <= capped.expires_at <= utcnow() + timedelta(days=MAX_DAYS)
        assert service.get_key(never).expires_at is None  # the old key keeps its own
        event = db.session.scalar(
            select(AuditEvent).where(
                AuditEvent.key_prefix == capped.prefix, AuditEvent.action == "key.created"
            )
        )
        assert event.details["expires_at"] == iso_utc(capped.expires_at)
        assert "KEY_MAX_LIFETIME_DAYS" in event.details["reason"]
        # An expiry already within the policy is copied as it is.
        assert rolling.roll_key(soon, actor="t").key.expires_at == soon_at


def test_over_lifetime_filter_flags_working_keys_that_expire_too_late_or_never(
    app: Flask, make_key: Any
) -> None:
    with app.app_context():
        app.config["KEY_MAX_LIFETIME_DAYS"] = None
    never = make_key(name="Never").key.prefix
    late = make_key(name="Late", expires_at=utcnow() + timedelta(days=400)).key.prefix
    fine = make_key(name="Fine", expires_at=utcnow() + timedelta(days=30)).key.prefix
    off = make_key(name="Off").key.prefix
    rolled_from = make_key(name="Rolling").key.prefix
    with app.app_context():
        service.deactivate_key(off, actor="t")
        app.config["KEY_MAX_LIFETIME_DAYS"] = MAX_DAYS
        successor = rolling.roll_key(rolled_from, actor="t").key.prefix  # capped: within the policy
        flagged = {key.prefix for key in db.session.scalars(service.search_keys("", "over_lifetime"))}
        assert flagged == {never, late}
        assert fine not in flagged and off not in flagged and successor not in flagged
        # Flagged, not switched off: the keys still work.
        assert all(service.get_key(prefix).is_working(utcnow()) for prefix in flagged)
        assert service.over_lifetime(service.get_key(never)) and not service.over_lifetime(
            service.get_key(fine)
        )
        # Without a policy nothing is over it.
        app.config["KEY_MAX_LIFETIME_DAYS"] = None
        assert list(db.session.scalars(service.search_keys("", "over_lifetime"))) == []


def test_cli_create_without_an_expiry_is_refused_in_one_line(app: Flask, runner: Any, make_user: Any) -> None:
    make_user(email="sync@example.com", name="Sync", is_system=True)
    before = _counts(app)
    args = ["keys", "create", "--name", "ERP", "--owner", "sync@example.com", "--ability", "products:list"]
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert f"Expires At is required: keys must expire within {MAX_DAYS} days" in result.output
    late = iso_utc(utcnow() + timedelta(days=MAX_DAYS, hours=1))
    result = runner.invoke(args=[*args, "--expires-at", late])
    assert result.exit_code == 1 and "Expires At is too late" in result.output
    assert _counts(app) == before
    ok = iso_utc(utcnow() + timedelta(days=MAX_DAYS - 1))
    result = runner.invoke(args=[*args, "--expires-at", ok])
    assert result.exit_code == 0, result.output


def test_cli_roll_caps_the_copied_expiry_and_list_shows_keys_over_the_policy(
    app: Flask, runner: Any, make_key: Any
) -> None:
    with app.app_context():
        app.config["KEY_MAX_LIFETIME_DAYS"] = None
    prefix = make_key(name="Old integration").key.prefix
    with app.app_context():
        app.config["KEY_MAX_LIFETIME_DAYS"] = MAX_DAYS
    listed = runner.invoke(args=["keys", "list", "--status", "over_lifetime"])
    assert listed.exit_code == 0 and prefix in listed.output
    result = runner.invoke(args=["keys", "roll", prefix, "--grace", "0"])
    assert result.exit_code == 0, result.output
    new_prefix = result.output.strip().splitlines()[-1][:12]
    with app.app_context():
        assert service.get_key(new_prefix).expires_at <= utcnow() + timedelta(days=MAX_DAYS)
    listed = runner.invoke(args=["keys", "list", "--status", "over_lifetime"])
    assert prefix not in listed.output and new_prefix not in listed.output
