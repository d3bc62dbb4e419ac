"""Expiry notices in the panel (SPEC §12): a warning within 14 days, and "Expiring soon"."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from app.extensions import db
from app.keys import service
from app.models.api_keys import ApiKey
from app.models.types import utcnow
from app.panel.filters import expiry_notice
from tests.panel.conftest import PanelClient

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("left", "notice"),
    [
        (timedelta(days=14), "Expires in 14 days"),
        (timedelta(days=3, hours=20), "Expires in 3 days"),
        (timedelta(days=1), "Expires in 1 day"),
        (timedelta(hours=23, minutes=59), "Expires in 23 hours"),
        (timedelta(hours=1), "Expires in 1 hour"),
        (timedelta(minutes=5), "Expires in under an hour"),
        (timedelta(days=14, seconds=1), None),
        (timedelta(0), None),
        (timedelta(days=-2), None),
    ],
)
def test_notice_wording_in_days_then_hours(left: timedelta, notice: str | None) -> None:
    assert expiry_notice(NOW + left, NOW) == notice
    assert expiry_notice(None, NOW) is None


def _row(page: str, prefix: str) -> str:
    match = re.search(rf'<tr id="key-{prefix}".*?</tr>', page, re.S)
    assert match, f"no row for {prefix}"
    return match.group(0)


def _prefixes(panel: PanelClient, **params: str) -> set[str]:
    response = panel.client.get("/settings/api-keys", query_string=params, headers={"HX-Request": "true"})
    assert response.status_code == 200
    return set(re.findall(r'<tr id="key-(sgk_[0-9A-Za-z]{8})"', response.text))


@pytest.fixture
def keys(app: Flask, make_key: Any) -> dict[str, str]:
    """Keys around the 14-day line, by what they should show."""
    now = utcnow()
    made = {
        "hours": make_key(name="Hours left", expires_at=now + timedelta(hours=5, minutes=30)),
        "days": make_key(name="Days left", expires_at=now + timedelta(days=10, hours=1)),
        "later": make_key(name="Next quarter", expires_at=now + timedelta(days=90)),
        "never": make_key(name="Forever"),
        "inactive": make_key(name="Switched off", expires_at=now + timedelta(days=2)),
        "expired": make_key(name="Too late", expires_at=now + timedelta(days=1)),
    }
    prefixes = {label: created.key.prefix for label, created in made.items()}
    with app.app_context():
        service.deactivate_key(prefixes["inactive"], actor="tests")
        db.session.execute(
            update(ApiKey)
            .where(ApiKey.prefix == prefixes["expired"])
            .values(expires_at=now - timedelta(hours=1))
        )
        db.session.commit()
    return prefixes


@pytest.mark.both_databases
def test_list_warns_about_keys_expiring_within_14_days(signed_in: PanelClient, keys: dict[str, str]) -> None:
    """Days, or hours under a day, next to Expires At; nothing for later, never, inactive, expired."""
    page = signed_in.get("/settings/api-keys").text
    assert '<span class="badge badge--expiring">Expires in 5 hours</span>' in _row(page, keys["hours"])
    assert '<span class="badge badge--expiring">Expires in 10 days</span>' in _row(page, keys["days"])
    for label in ("later", "never", "inactive", "expired"):
        assert "badge--expiring" not in _row(page, keys[label]), label


@pytest.mark.both_databases
def test_expiring_soon_filter_lists_active_unexpired_keys_within_14_days(
    signed_in: PanelClient, keys: dict[str, str]
) -> None:
    assert _prefixes(signed_in, status="expiring") == {keys["hours"], keys["days"]}
    page = signed_in.get("/settings/api-keys").text
    assert '<option value="expiring" >Expiring soon</option>' in page
    chosen = signed_in.get("/settings/api-keys?status=expiring").text
    assert '<option value="expiring" selected>Expiring soon</option>' in chosen


@pytest.mark.both_databases
def test_cli_lists_keys_expiring_soon(runner: Any, keys: dict[str, str]) -> None:
    """``flask keys list --status expiring`` uses the same filter."""
    result = runner.invoke(args=["keys", "list", "--status", "expiring"])
    assert result.exit_code == 0, result.output
    listed = set(re.findall(r"sgk_[0-9A-Za-z]{8}", result.stdout))
    assert listed == {keys["hours"], keys["days"]}
