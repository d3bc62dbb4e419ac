"""Allowed IPs and Description on the create and edit forms: saved canonical, errors inline."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.models.api_keys import ApiKey
from app.models.users import User
from tests.panel.conftest import PanelClient
from tests.panel.form_helpers import create_form_data, error_for

KEY_IN_PAGE = re.compile(r'id="new-key"[^>]*value="(sgk_[0-9A-Za-z]{8})', re.S)


@pytest.fixture
def owner(make_user: Any) -> User:
    """A person who owns keys."""
    return make_user(email="grace@example.com", name="Grace Hopper")


def _create_data(owner: User, **changes: Any) -> dict[str, Any]:
    return create_form_data(owner, expires_at="", **changes)


def test_create_form_offers_allowed_ips_and_description(signed_in: PanelClient, owner: User) -> None:
    """Both are labelled textareas with help text."""
    page = signed_in.get("/settings/api-keys/new", htmx=True).text
    assert '<label for="allowed_ips">Allowed IPs</label>' in page
    assert '<label for="description">Description</label>' in page
    assert re.search(r'<textarea[^>]*id="allowed_ips"[^>]*name="allowed_ips"', page)
    assert re.search(r'<textarea[^>]*id="description"[^>]*name="description"', page)
    assert "leave empty to allow any address" in page


def test_create_stores_canonical_deduplicated_ranges_and_the_description(
    signed_in: PanelClient, owner: User, load_key: Any
) -> None:
    """One entry per line; host bits dropped, repeats removed, a blank description is none."""
    data = _create_data(
        owner,
        allowed_ips="203.0.113.7\r\n\r\n 10.1.2.3/8\n2001:DB8::1/48\n203.0.113.7/32\n::ffff:198.51.100.1\n",
        description="  Nightly stock export to the partner.  ",
    )
    response = signed_in.post("/settings/api-keys", data)
    assert response.status_code == 200, response.text
    prefix = KEY_IN_PAGE.search(response.text).group(1)
    stored = load_key(prefix)
    assert stored.allowed_ips == ["203.0.113.7/32", "10.0.0.0/8", "2001:db8::/48", "198.51.100.1/32"]
    assert stored.description == "Nightly stock export to the partner."


def test_create_without_allowed_ips_or_description_allows_any_address(
    signed_in: PanelClient, owner: User, load_key: Any
) -> None:
    response = signed_in.post("/settings/api-keys", _create_data(owner, allowed_ips="", description=" "))
    stored = load_key(KEY_IN_PAGE.search(response.text).group(1))
    assert stored.allowed_ips == []
    assert stored.description is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "allowed_ips",
            "203.0.113.7\nnot-an-ip",
            "Not an IP address or CIDR range: 'not-an-ip' (e.g. 203.0.113.7, 203.0.113.0/24 or "
            "2001:db8::/48).",
        ),
        ("allowed_ips", "10.0.0.0/33", "Not an IP address or CIDR range: '10.0.0.0/33'"),
        ("allowed_ips", "fe80::1%eth0", "Not an IP address or CIDR range: 'fe80::1%eth0'"),
        (
            "allowed_ips",
            "\n".join(f"10.0.{n // 256}.{n % 256}" for n in range(101)),
            "At most 100 allowed IPs",
        ),
        ("allowed_ips", "10.0.0.1\x00", "Contains a control character (U+0000); remove it."),
        ("description", "x" * 501, "Description must be at most 500 characters."),
        ("description", "bell\x07", "Contains a control character (U+0007); remove it."),
    ],
)
def test_create_with_a_bad_value_shows_the_error_next_to_the_field_and_saves_nothing(
    signed_in: PanelClient, owner: User, count_keys: Any, field: str, value: str, message: str
) -> None:
    response = signed_in.post("/settings/api-keys", _create_data(owner, **{field: value}))
    assert response.status_code == 422
    assert message in error_for(response.text, field)
    assert count_keys() == 0


def test_multiline_description_keeps_its_lines(signed_in: PanelClient, owner: User, load_key: Any) -> None:
    """A textarea may hold line breaks and tabs."""
    response = signed_in.post("/settings/api-keys", _create_data(owner, description="Line one\r\n\tLine two"))
    assert load_key(KEY_IN_PAGE.search(response.text).group(1)).description == "Line one\r\n\tLine two"


@pytest.fixture
def key(make_key: Any) -> ApiKey:
    """A key pinned to one range, with a description."""
    return make_key(name="Scanner", allowed_ips=["203.0.113.0/24"], description="Handhelds in Reno").key


def _edit_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Scanner",
        "abilities": ["products:list"],
        "rate_limit": "60",
        "expires_at": "",
        "allowed_ips": "203.0.113.0/24",
        "description": "Handhelds in Reno",
    }
    data.update(changes)
    return data


def test_editor_shows_the_current_allowed_ips_and_description(signed_in: PanelClient, key: ApiKey) -> None:
    page = signed_in.get(f"/settings/api-keys/{key.prefix}/edit", htmx=True).text
    assert re.search(rf'id="edit-{key.prefix}-allowed_ips"[^>]*>\s*203\.0\.113\.0/24</textarea>', page)
    assert re.search(rf'id="edit-{key.prefix}-description"[^>]*>\s*Handhelds in Reno</textarea>', page)


def test_edit_changes_and_clears_allowed_ips_and_description(
    signed_in: PanelClient, key: ApiKey, load_key: Any
) -> None:
    changed = signed_in.post(
        f"/settings/api-keys/{key.prefix}",
        _edit_data(allowed_ips="198.51.100.0/25\n2001:db8::5", description="Moved to Sparks"),
    )
    assert changed.status_code == 200, changed.text
    stored = load_key(key.prefix)
    assert stored.allowed_ips == ["198.51.100.0/25", "2001:db8::5/128"]
    assert stored.description == "Moved to Sparks"
    cleared = signed_in.post(f"/settings/api-keys/{key.prefix}", _edit_data(allowed_ips="", description=""))
    assert cleared.status_code == 200
    stored = load_key(key.prefix)
    assert stored.allowed_ips == []
    assert stored.description is None


def test_every_bad_line_of_allowed_ips_is_named_at_once(
    signed_in: PanelClient, owner: User, count_keys: Any
) -> None:
    lines = "203.0.113.7\nnot-an-ip\n10.0.0.0/8\n300.1.1.1\nfe80::1%eth0\nnot-an-ip"
    response = signed_in.post("/settings/api-keys", _create_data(owner, allowed_ips=lines))
    assert response.status_code == 422
    assert error_for(response.text, "allowed_ips") == (
        "Not IP addresses or CIDR ranges: 'not-an-ip', '300.1.1.1', 'fe80::1%eth0' "
        "(e.g. 203.0.113.7, 203.0.113.0/24 or 2001:db8::/48)."
    )
    assert count_keys() == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("allowed_ips", "203.0.113.0/24\n300.1.1.1", "Not an IP address or CIDR range: '300.1.1.1'"),
        ("description", "y" * 501, "Description must be at most 500 characters."),
    ],
)
def test_edit_with_a_bad_value_shows_the_error_and_changes_nothing(
    signed_in: PanelClient, key: ApiKey, load_key: Any, field: str, value: str, message: str
) -> None:
    response = signed_in.post(
        f"/settings/api-keys/{key.prefix}", _edit_data(name="Renamed", **{field: value})
    )
    assert response.status_code == 422
    assert message in error_for(response.text, f"edit-{key.prefix}-{field}")
    stored = load_key(key.prefix)
    assert stored.name == "Scanner"
    assert stored.allowed_ips == ["203.0.113.0/24"]
    assert stored.description == "Handhelds in Reno"
