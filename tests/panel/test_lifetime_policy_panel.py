"""KEY_MAX_LIFETIME_DAYS in the panel: the key forms offer no Never and nothing past the maximum,
the Roll caps the copied expiry, and the list's status filter flags older keys over the policy."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from app.keys import service
from app.keys.inputs import EXPIRY_NEVER
from app.models.api_keys import ApiKey
from app.models.types import utcnow
from app.models.users import User
from tests.panel.conftest import PanelClient

MAX_DAYS = 30
LIST = "/settings/api-keys"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """A deployment with a 30-day lifetime policy."""
    return {**app_config, "KEY_MAX_LIFETIME_DAYS": MAX_DAYS}


@pytest.fixture
def owner(make_user: Any) -> User:
    """A person who owns keys."""
    return make_user(email="grace@example.com", name="Grace Hopper")


def _form(owner: User, expires_at: str) -> dict[str, Any]:
    return {"name": "Storefront", "owner": str(owner.id), "abilities": ["products:list"], "rate_limit": "60",
            "expires_at": expires_at}  # fmt: skip


def _local(days: float) -> str:
    return (utcnow() + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def _error_for(html: str, field_id: str) -> str:
    match = re.search(rf'<p class="field__error" id="{field_id}-error">([^<]*)</p>', html)
    assert match, f"no error shown next to {field_id}"
    return match.group(1)


def _legacy_key(app: Flask, make_key: Any, **kwargs: Any) -> ApiKey:
    """A key made before the policy was set."""
    app.config["KEY_MAX_LIFETIME_DAYS"] = None
    key = make_key(**kwargs).key
    app.config["KEY_MAX_LIFETIME_DAYS"] = MAX_DAYS
    return key


def test_create_form_requires_an_expiry_within_the_maximum(signed_in: PanelClient, owner: User) -> None:
    html = signed_in.get(f"{LIST}/new", htmx=True).text
    assert f"Keys may live at most {MAX_DAYS} days" in html
    assert f'value="{EXPIRY_NEVER}"' not in html  # no "Never" preset under the policy
    maximum = re.search(r'id="expires_at"[^>]*max="([^"]+)"|max="([^"]+)"[^>]*id="expires_at"', html)
    assert maximum is not None


@pytest.mark.parametrize(("expires_at", "needle"), [("", "Expires At is required"), (None, "too late")])
def test_a_new_key_without_an_expiry_or_past_the_maximum_is_refused(
    signed_in: PanelClient, owner: User, count_keys: Any, expires_at: str | None, needle: str
) -> None:
    response = signed_in.post(LIST, _form(owner, _local(MAX_DAYS + 1) if expires_at is None else expires_at))
    assert response.status_code == 422
    error = _error_for(response.text, "expires_at")
    assert needle in error and f"within {MAX_DAYS} days (KEY_MAX_LIFETIME_DAYS)" in error
    assert count_keys() == 0


def test_a_new_key_within_the_maximum_is_created(
    signed_in: PanelClient, owner: User, count_keys: Any
) -> None:
    response = signed_in.post(LIST, _form(owner, _local(MAX_DAYS - 1)))
    assert response.status_code == 200, response.text
    assert count_keys() == 1


def test_edit_refuses_a_later_expiry_and_keeps_the_old_one(
    app: Flask, signed_in: PanelClient, make_key: Any, load_key: Any
) -> None:
    key = make_key(expires_at=utcnow() + timedelta(days=5)).key
    data = {
        "name": "Test key",
        "abilities": ["products:list"],
        "rate_limit": "60",
        "expires_at": _local(MAX_DAYS + 2),
    }
    response = signed_in.post(f"{LIST}/{key.prefix}", data)
    assert response.status_code == 422
    assert "Expires At is too late" in _error_for(response.text, f"edit-{key.prefix}-expires_at")
    assert load_key(key.prefix).expires_at == key.expires_at
    assert signed_in.post(f"{LIST}/{key.prefix}", {**data, "expires_at": _local(10)}).status_code == 200


def test_roll_caps_the_copied_expiry(app: Flask, signed_in: PanelClient, make_key: Any) -> None:
    key = _legacy_key(app, make_key, name="Forever")
    response = signed_in.post(f"{LIST}/{key.prefix}/roll", {"grace": "1h", "sunset_at": ""})
    assert response.status_code == 200, response.text
    with app.app_context():
        new = service.get_key(key.prefix).successor
        assert new.expires_at is not None and new.expires_at <= utcnow() + timedelta(days=MAX_DAYS)


def test_status_filter_lists_keys_over_the_policy_with_a_warning(
    app: Flask, signed_in: PanelClient, make_key: Any
) -> None:
    legacy = _legacy_key(app, make_key, name="Legacy forever")
    compliant = make_key(name="Compliant", expires_at=utcnow() + timedelta(days=3)).key
    page = signed_in.get(LIST).text
    assert '<option value="over_lifetime" >Over the lifetime policy</option>' in page
    rows = signed_in.get(f"{LIST}?status=over_lifetime", htmx=True).text
    assert f'id="key-{legacy.prefix}"' in rows and f'id="key-{compliant.prefix}"' not in rows
    assert ">Over lifetime policy</span>" in rows
    assert 'badge--active">Active<' in rows  # flagged, not switched off


def test_without_a_policy_the_filter_is_not_offered(
    app: Flask, signed_in: PanelClient, make_key: Any
) -> None:
    app.config["KEY_MAX_LIFETIME_DAYS"] = None
    make_key(name="Forever")
    page = signed_in.get(LIST).text
    assert "over_lifetime" not in page and "Over lifetime policy" not in page
    assert f'value="{EXPIRY_NEVER}"' in signed_in.get(f"{LIST}/new", htmx=True).text
