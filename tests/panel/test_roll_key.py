"""Rolling a key in the panel: the Roll row action, its inline form, the new key shown once,
the old row reading Rolling, and "End grace now"."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.keys import rolling, service
from app.keys.verification import KEY_ROLLED, verify
from app.models.api_keys import ApiKey
from app.models.audit import AuditEvent
from app.models.types import utcnow
from tests.panel.conftest import PanelClient
from tests.panel.refusals import assert_refused

KEY_IN_PAGE = re.compile(r'id="new-key"[^>]*value="(sgk_[0-9A-Za-z_]{47})"')


@pytest.fixture
def key(make_key: Any) -> ApiKey:
    """An active key."""
    return make_key(name="Warehouse scanner", abilities=["inventory:list"]).key


def _counts(app: Flask) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(ApiKey)),
            db.session.scalar(select(func.count()).select_from(AuditEvent)),
        )


def _roll_url(key: ApiKey) -> str:
    return f"/settings/api-keys/{key.prefix}/roll"


def test_active_row_offers_roll_which_opens_the_inline_form(signed_in: PanelClient, key: ApiKey) -> None:
    """The row's Roll button loads the form into the form slot; 24 hours is preselected."""
    page = signed_in.get("/settings/api-keys").text
    assert re.search(rf'hx-get="{_roll_url(key)}"[^>]*hx-target="#key-form-slot"', page)
    form = signed_in.get(_roll_url(key), htmx=True).text
    assert "Old key stops working" in form
    for label in ("Now", "In 1 hour", "In 24 hours", "In 7 days", "At a date and time"):
        assert f"> {label}</label>" in form
    assert re.search(r'value="24h"[^>]*checked|checked[^>]*value="24h"', form)
    assert 'type="datetime-local"' in form
    assert f'hx-post="{_roll_url(key)}"' in form


def test_roll_shows_the_new_key_once_and_the_old_row_reads_rolling(
    app: Flask, signed_in: PanelClient, key: ApiKey
) -> None:
    """Submitting the form shows the new key like at creation, and swaps the old row to Rolling."""
    response = signed_in.post(_roll_url(key), {"grace": "1h", "sunset_at": ""})
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert 'hx-history="false"' in response.text
    assert "will not be shown again" in response.text and "API key rolled" in response.text
    raw_key = KEY_IN_PAGE.search(response.text).group(1)
    # New row at the top, old row replaced in place, both out of band.
    assert '<template><tbody hx-swap-oob="afterbegin:#key-rows">' in response.text
    assert f'<tr id="key-{raw_key[:12]}"' in response.text
    old_row = re.search(rf'<tr id="key-{key.prefix}"[^>]*hx-swap-oob="true">.*?</tr>', response.text, re.S)
    assert old_row is not None
    assert 'badge--rolling">Rolling<' in old_row.group(0)
    # When it stops, beside the badge; when it was last used is the row's Last Used At cell.
    assert "stops <time" in old_row.group(0) and 'data-label="Last Used At"' in old_row.group(0)
    assert ">End grace now</button>" in old_row.group(0) and "hx-confirm=" in old_row.group(0)
    assert ">Roll</button>" not in old_row.group(0)
    with app.app_context():
        old = service.get_key(key.prefix)
        assert old.successor.prefix == raw_key[:12]
        assert timedelta(minutes=59) < old.sunset_at - utcnow() <= timedelta(hours=1)
        assert verify(raw_key).ok and verify(raw_key).key.bucket_name == key.prefix
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "key.rolled"))
        assert event.actor == "admin@example.com"
    # The secret is not on the list page afterwards.
    assert raw_key not in signed_in.get("/settings/api-keys").text


def test_roll_at_a_date_and_time(app: Flask, signed_in: PanelClient, key: ApiKey) -> None:
    """ "At a date and time" uses the datetime-local value, read as UTC."""
    when = (utcnow() + timedelta(days=2)).astimezone(UTC).replace(second=0, microsecond=0)
    response = signed_in.post(_roll_url(key), {"grace": "at", "sunset_at": when.strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 200, response.text
    with app.app_context():
        assert service.get_key(key.prefix).sunset_at == when


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"grace": "at", "sunset_at": ""}, "Choose the date and time"),
        ({"grace": "at", "sunset_at": "2001-01-01T00:00"}, "must be in the future"),
        ({"grace": "at", "sunset_at": "tomorrow"}, "Not a valid datetime"),
        ({"grace": "3h"}, "Not a valid choice"),
        ({"grace": "24h\x00"}, "control character"),
    ],
)
def test_bad_roll_form_shows_inline_errors_and_saves_nothing(
    app: Flask, signed_in: PanelClient, key: ApiKey, data: dict[str, str], needle: str
) -> None:
    """Errors come back as the same form with a 422 (which htmx swaps); nothing is written."""
    counts = _counts(app)
    response = signed_in.post(_roll_url(key), data)
    assert response.status_code == 422
    assert 'id="roll-form"' in response.text
    assert needle in response.text
    assert "field__error" in response.text
    assert _counts(app) == counts


def test_a_date_beyond_30_days_is_an_inline_error(app: Flask, signed_in: PanelClient, key: ApiKey) -> None:
    """The service's range rule comes back next to the date field."""
    when = (utcnow() + timedelta(days=45)).strftime("%Y-%m-%dT%H:%M")
    response = signed_in.post(_roll_url(key), {"grace": "at", "sunset_at": when})
    assert response.status_code == 422
    assert re.search(r'class="field__error" id="roll-[^"]*sunset_at-error">[^<]*30 days', response.text)


@pytest.mark.parametrize("state", ["inactive", "expired", "revoked", "rolling", "rolled"])
def test_keys_that_cannot_roll_have_no_roll_action_and_are_refused(
    app: Flask, signed_in: PanelClient, make_key: Any, state: str
) -> None:
    """Inactive, expired, revoked, rolling and rolled keys show no Roll; the server refuses with 409."""
    key = make_key(name="Feed").key
    with app.app_context():
        if state == "inactive":
            service.deactivate_key(key.prefix, actor="tests")
        elif state == "revoked":
            service.revoke_key(key.prefix, actor="tests")
        elif state == "expired":
            db.session.get(ApiKey, key.id).expires_at = utcnow() - timedelta(minutes=1)
            db.session.commit()
        else:
            rolling.roll_key(key.prefix, actor="cli", grace="1h" if state == "rolling" else "0")
    page = signed_in.get("/settings/api-keys?status=revoked" if state == "revoked" else "/settings/api-keys")
    assert f'hx-get="{_roll_url(key)}"' not in page.text
    assert signed_in.get(_roll_url(key), htmx=True).status_code == 409
    counts = _counts(app)
    response = signed_in.post(_roll_url(key), {"grace": "1h"})
    assert_refused(response, 409, "Cannot roll")
    assert _counts(app) == counts


def test_end_grace_now_cuts_over_and_the_row_reads_rolled(
    app: Flask, signed_in: PanelClient, make_key: Any
) -> None:
    """ "End grace now" returns the row as Rolled with only Revoke; the old key is refused."""
    created = make_key(name="Feed")
    with app.app_context():
        rolling.roll_key(created.key.prefix, actor="cli", grace="7d")
    response = signed_in.post(f"/settings/api-keys/{created.key.prefix}/end-grace")
    assert response.status_code == 200
    assert 'badge--rolled">Rolled<' in response.text
    assert ">Revoke</button>" in response.text
    for action in ("End grace now", "Roll", "Edit", "Deactivate", "Activate"):
        assert f">{action}</button>" not in response.text
    with app.app_context():
        assert verify(created.raw_key).reason == KEY_ROLLED
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "key.roll_ended"))
        assert event.actor == "admin@example.com"
    # A second time: nothing to end.
    again = signed_in.post(f"/settings/api-keys/{created.key.prefix}/end-grace")
    assert again.status_code == 409 and "already rolled" in again.text


def test_roll_and_end_grace_need_csrf(app: Flask, signed_in: PanelClient, key: ApiKey) -> None:
    """Without the CSRF token both are refused (400) and nothing changes."""
    counts = _counts(app)
    assert signed_in.post(_roll_url(key), {"grace": "0"}, csrf=False).status_code == 400
    assert signed_in.post(f"/settings/api-keys/{key.prefix}/end-grace", csrf=False).status_code == 400
    assert _counts(app) == counts


def test_unknown_prefix_is_404(signed_in: PanelClient) -> None:
    """Roll form, roll and end grace on an unknown key are 404."""
    assert signed_in.get("/settings/api-keys/sgk_00000000/roll", htmx=True).status_code == 404
    assert signed_in.post("/settings/api-keys/sgk_00000000/roll", {"grace": "0"}).status_code == 404
    assert signed_in.post("/settings/api-keys/sgk_00000000/end-grace").status_code == 404


def test_roll_from_the_key_page_shows_the_new_key_without_table_rows(
    app: Flask, signed_in: PanelClient, key: ApiKey
) -> None:
    """The key's page has no table: its Roll form says so, and the answer carries no row swaps."""
    form = signed_in.get(f"{_roll_url(key)}?on_page=1")
    assert form.status_code == 200
    assert '<input type="hidden" name="on_page" value="1">' in form.text
    response = signed_in.post(_roll_url(key), {"grace": "24h", "sunset_at": "", "on_page": "1"})
    assert response.status_code == 200, response.text
    assert "API key rolled" in response.text and 'hx-history="false"' in response.text
    assert "hx-swap-oob" not in response.text
    page = signed_in.get(f"/settings/api-keys/{key.prefix}").text
    assert ">End grace now</button>" in page and ">Roll</button>" not in page
    assert signed_in.post(f"/settings/api-keys/{key.prefix}/end-grace").status_code == 200
    assert ">End grace now</button>" not in signed_in.get(f"/settings/api-keys/{key.prefix}").text
