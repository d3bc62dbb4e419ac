"""Create API Key: inline validation, the key shown once, and the new row."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text

from app.catalogue import ALL_ABILITIES
from app.extensions import db
from app.keys import service
from app.models.api_keys import ApiKey
from app.models.types import utcnow
from app.models.users import User
from app.validation.errors import InvalidInput
from tests.panel.conftest import PanelClient
from tests.panel.refusals import assert_refused

KEY_IN_PAGE = re.compile(r'id="new-key"[^>]*value="(sgk_[0-9A-Za-z_]+)"', re.S)


@pytest.fixture
def owner(make_user: Any) -> User:
    """A person who owns keys."""
    return make_user(email="grace@example.com", name="Grace Hopper")


@pytest.fixture
def valid(owner: User) -> dict[str, Any]:
    """Form data that creates a key."""
    return {
        "name": "Shopify storefront",
        "owner": str(owner.id),
        "abilities": ["products:list", "purchase-orders:show"],
        "rate_limit": "120",
        "expires_at": (utcnow() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"),
    }


def _error_for(html: str, field_id: str) -> str:
    match = re.search(rf'<p class="field__error" id="{field_id}-error">([^<]*)</p>', html)
    assert match, f"no error shown next to {field_id}"
    return match.group(1)


def test_create_form_has_every_field_from_the_seed(
    signed_in: PanelClient, owner: User, make_user: Any
) -> None:
    make_user(email="sync@stockgate.internal", name="Nightly sync", is_system=True)
    html = signed_in.get("/settings/api-keys/new", htmx=True).text
    for label in ("Name", "Owner", "Date and time (UTC)", "Rate Limit (requests/min)"):
        assert f">{label}</label>" in html
    assert "<legend>Abilities</legend>" in html
    assert "<legend>Expires At</legend>" in html
    assert "Select All" in html
    values = re.findall(r'name="abilities" value="([^"]+)"', html)
    assert values == list(ALL_ABILITIES)
    assert len(values) == 30
    assert '<optgroup label="People">' in html and '<optgroup label="System accounts">' in html
    assert "Nightly sync (sync@stockgate.internal)" in html
    assert 'value="60"' in html  # default rate limit
    assert ">Submit</button>" in html and ">Cancel</button>" in html
    assert "UTC" in html


def test_create_form_opened_directly_is_a_full_page(signed_in: PanelClient) -> None:
    html = signed_in.get("/settings/api-keys/new").text
    assert html.startswith("<!doctype html>")
    assert 'id="key-form"' in html


def test_valid_form_creates_the_key_and_shows_it_once(
    app: Flask, signed_in: PanelClient, valid: dict[str, Any], admin: User, count_keys: Any
) -> None:
    response = signed_in.post("/settings/api-keys", valid)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert 'hx-history="false"' in response.text
    assert "will not be shown again" in response.text
    assert 'data-copy="#new-key"' in response.text
    raw_key = KEY_IN_PAGE.search(response.text).group(1)
    prefix = raw_key[:12]
    # The new row arrives out of band at the top of the table.
    assert '<template><tbody hx-swap-oob="afterbegin:#key-rows">' in response.text
    assert f'<tr id="key-{prefix}"' in response.text
    assert count_keys() == 1
    with app.app_context():
        key = db.session.scalar(select(ApiKey))
        assert key.name == "Shopify storefront"
        assert key.owner.email == "grace@example.com"
        assert key.abilities == ["products:list", "purchase-orders:show"]
        assert key.rate_limit == 120
        assert key.created_by_id == admin.id
        # Expires At is read as UTC, to the minute.
        assert key.expires_at.strftime("%Y-%m-%dT%H:%M") == valid["expires_at"]


def test_created_key_is_nowhere_but_the_create_response(
    app: Flask, signed_in: PanelClient, valid: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = signed_in.post("/settings/api-keys", valid)
    raw_key = KEY_IN_PAGE.search(response.text).group(1)
    secret = raw_key[13:]

    for page in (
        signed_in.get("/settings/api-keys"),
        signed_in.get("/settings/api-keys", htmx=True),
        signed_in.get(f"/settings/api-keys?q={raw_key[:12]}"),
        signed_in.get(f"/settings/api-keys/{raw_key[:12]}/row"),
        signed_in.get(f"/settings/api-keys/{raw_key[:12]}/edit"),
    ):
        assert secret not in page.text
    with app.app_context():
        rows = db.session.execute(text("SELECT * FROM api_keys")).all()
    assert secret not in json.dumps([list(map(str, row)) for row in rows])
    assert all(secret not in record.getMessage() for record in caplog.records)
    assert secret not in (response.headers.get("Location") or "")


def test_success_without_htmx_shows_the_key_on_the_page(
    signed_in: PanelClient, valid: dict[str, Any]
) -> None:
    response = signed_in.post("/settings/api-keys", valid, htmx=False)
    assert response.status_code == 200
    assert response.text.startswith("<!doctype html>")
    assert KEY_IN_PAGE.search(response.text)
    assert response.headers["Cache-Control"] == "no-store"


BAD_VALUES = [
    ("name", "", "name", "Name is required."),
    ("name", "   ", "name", "Name is required."),
    ("name", "x" * 201, "name", "Name must be at most 100 characters."),
    ("abilities", [], "abilities", "Choose at least one ability."),
    ("abilities", ["products:list", "products:delete"], "abilities", "Unknown ability: products:delete."),
    ("abilities", ["nonsense"], "abilities", "Unknown ability: nonsense."),
    ("rate_limit", "0", "rate_limit", "Rate limit must be between 1 and 100,000 requests/min."),
    ("rate_limit", "-5", "rate_limit", "Rate limit must be between 1 and 100,000 requests/min."),
    ("rate_limit", "100001", "rate_limit", "Rate limit must be between 1 and 100,000 requests/min."),
    ("rate_limit", "abc", "rate_limit", "Rate limit must be a whole number."),
    ("rate_limit", "", "rate_limit", "Rate limit is required."),
    ("rate_limit", "1.5", "rate_limit", "Rate limit must be a whole number."),
    ("expires_at", "2020-01-01T10:00", "expires_at", "Expires At must be in the future."),
    ("expires_at", "next tuesday", "expires_at", "Not a valid datetime value."),
    ("expires_at", "2031-02-30T10:00", "expires_at", "Not a valid datetime value."),
    ("owner", "999999", "owner", "Choose an owner from the list."),
    ("owner", "abc", "owner", "Choose an owner from the list."),
    ("owner", "", "owner", "Choose an owner."),
]


# Input the key service refuses: (field, as the form sends it, as the service takes it).
SERVICE_RULES = [
    ("name", "   ", "   "),
    ("name", "x" * 201, "x" * 201),
    ("abilities", [], []),
    ("abilities", ["nonsense"], ["nonsense"]),
    ("rate_limit", "0", "0"),
    ("rate_limit", "1.5", "1.5"),
    ("expires_at", "2020-01-01T10:00", "2020-01-01T10:00"),
    ("allowed_ips", "10.0.0.300", ["10.0.0.300"]),
    ("description", "x" * 501, "x" * 501),
]


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(("field", "sent", "given"), SERVICE_RULES)
def test_the_form_says_what_the_key_service_says_for_each_rule(
    app: Flask, signed_in: PanelClient, valid: dict[str, Any], owner: User, field: str, sent: Any, given: Any
) -> None:
    response = signed_in.post("/settings/api-keys", {**valid, field: sent})
    direct = {"name": valid["name"], "abilities": valid["abilities"], field: given}
    with app.app_context(), pytest.raises(InvalidInput) as refused:
        service.create_key(owner=owner.email, actor="test", **direct)
    assert unescape(_error_for(response.text, field)) == " ".join(refused.value.errors[field])


@pytest.mark.parametrize(("field", "value", "field_id", "message"), BAD_VALUES)
def test_bad_value_gets_the_form_back_with_the_error_by_the_field_and_saves_nothing(
    signed_in: PanelClient,
    valid: dict[str, Any],
    count_keys: Any,
    field: str,
    value: Any,
    field_id: str,
    message: str,
) -> None:
    data = {**valid, field: value}
    response = signed_in.post("/settings/api-keys", data)
    assert response.status_code == 422
    assert response.text.lstrip().startswith('<form id="key-form"')
    assert _error_for(response.text, field_id) == message
    assert count_keys() == 0
    assert "sgk_" not in response.text.replace('name="abilities"', "")


def test_missing_abilities_field_is_the_same_as_none_chosen(
    signed_in: PanelClient, valid: dict[str, Any], count_keys: Any
) -> None:
    data = {k: v for k, v in valid.items() if k != "abilities"}
    response = signed_in.post("/settings/api-keys", data)
    assert response.status_code == 422
    assert _error_for(response.text, "abilities") == "Choose at least one ability."
    assert count_keys() == 0


def test_invalid_form_keeps_what_was_typed_and_marks_the_field(
    signed_in: PanelClient, valid: dict[str, Any]
) -> None:
    response = signed_in.post("/settings/api-keys", {**valid, "rate_limit": "0"})
    html = response.text
    assert 'value="Shopify storefront"' in html
    assert re.search(r'name="abilities" value="products:list"\s+id="[^"]+"\s+checked', html)
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="rate_limit-help rate_limit-error"' in html


def test_invalid_form_without_htmx_is_the_full_page_with_422(
    signed_in: PanelClient, valid: dict[str, Any]
) -> None:
    response = signed_in.post("/settings/api-keys", {**valid, "name": ""}, htmx=False)
    assert response.status_code == 422
    assert response.text.startswith("<!doctype html>")
    assert _error_for(response.text, "name") == "Name is required."


@pytest.mark.parametrize("token", [None, "wrong-token", ""])
def test_create_without_a_valid_csrf_token_is_refused_and_saves_nothing(
    signed_in: PanelClient, valid: dict[str, Any], count_keys: Any, token: str | None
) -> None:
    headers = {"HX-Request": "true"}
    if token is not None:
        headers["X-CSRFToken"] = token
    response = signed_in.client.post("/settings/api-keys", data=valid, headers=headers)
    # A line in the alert area, not silence.
    assert_refused(response, 400, "Reload the page")
    assert count_keys() == 0


@pytest.mark.parametrize(
    ("name", "raw", "escaped"),
    [
        ("<script>alert(1)</script>", "<script>alert(1)", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ('" hx-post="/x', 'hx-post="/x', "&#34; hx-post=&#34;/x"),
        ("<img src=x onerror=alert(1)>", "<img src=x", "&lt;img src=x onerror=alert(1)&gt;"),
    ],
)
def test_hostile_key_names_are_rendered_inert(
    signed_in: PanelClient, valid: dict[str, Any], name: str, raw: str, escaped: str
) -> None:
    created = signed_in.post("/settings/api-keys", {**valid, "name": name})
    assert created.status_code == 200
    for response in (
        created,
        signed_in.get("/settings/api-keys"),
        signed_in.get("/settings/api-keys", htmx=True),
    ):
        assert raw not in response.text
        assert escaped in response.text


@pytest.mark.parametrize(
    "field,value",
    [
        ("name", "Shopify\x00storefront"),
        ("name", "Shopify\tstorefront"),
        ("name", "Shopify\x7f"),
        ("owner", "1\x00"),
        ("rate_limit", "12\x000"),
        ("expires_at", "2030-01-01T00:00\x00"),
    ],
)
def test_a_control_character_in_any_field_is_an_error_next_to_it(
    signed_in: PanelClient, valid: dict[str, Any], count_keys: Any, field: str, value: str
) -> None:
    """NUL would be a 500 on PostgreSQL; every control character is refused before validation."""
    response = signed_in.post("/settings/api-keys", {**valid, field: value})
    assert response.status_code == 422
    assert "Contains a control character" in _error_for(response.text, field)
    assert count_keys() == 0


def test_a_control_character_in_an_ability_is_refused(
    signed_in: PanelClient, valid: dict[str, Any], count_keys: Any
) -> None:
    response = signed_in.post("/settings/api-keys", {**valid, "abilities": ["products:list\x00"]})
    assert response.status_code == 422
    assert "Contains a control character" in response.text
    assert count_keys() == 0


@pytest.mark.parametrize(
    "rate_limit", ["1_20", " 120", "120 ", "+120", "\u0661\u0662\u0660", "\uff11\uff12\uff10"]
)
def test_rate_limit_takes_ascii_digits_only(
    signed_in: PanelClient, valid: dict[str, Any], count_keys: Any, rate_limit: str
) -> None:
    """int() read "1_20", " 120" and non-ASCII digits as 120; the form refuses them."""
    response = signed_in.post("/settings/api-keys", {**valid, "rate_limit": rate_limit})
    assert response.status_code == 422
    assert _error_for(response.text, "rate_limit") == "Rate limit must be a whole number."
    assert count_keys() == 0


def test_expires_at_takes_ascii_digits_only(
    signed_in: PanelClient, valid: dict[str, Any], count_keys: Any
) -> None:
    """strptime's %Y reads any Unicode digits (here a fullwidth year); the form refuses them."""
    year, rest = valid["expires_at"].split("-", 1)
    fullwidth_year = year.translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
    response = signed_in.post("/settings/api-keys", {**valid, "expires_at": f"{fullwidth_year}-{rest}"})
    assert response.status_code == 422
    assert "Not a valid datetime value" in _error_for(response.text, "expires_at")
    assert count_keys() == 0


def test_edit_with_a_control_character_changes_nothing(
    signed_in: PanelClient, make_key: Any, load_key: Any
) -> None:
    key = make_key(name="Original").key
    data = {"name": "Renamed\x00", "abilities": ["products:list"], "rate_limit": "60", "expires_at": ""}
    response = signed_in.post(f"/settings/api-keys/{key.prefix}", data)
    assert response.status_code == 422
    assert "Contains a control character" in response.text
    assert load_key(key.prefix).name == "Original"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_new_key_card_gives_the_export_line_a_curl_line_and_the_keys_docs(
    signed_in: PanelClient, valid: dict[str, Any]
) -> None:
    """What an integrator needs next, in the one response that holds the key (SPEC §7)."""
    response = signed_in.post("/settings/api-keys", valid)
    raw_key = KEY_IN_PAGE.search(response.text).group(1)
    assert f'<code id="new-key-export">export STOCKGATE_API_KEY={raw_key}</code>' in response.text
    assert 'data-copy="#new-key-export"' in response.text and 'data-copy="#new-key-curl"' in response.text
    # No PUBLIC_BASE_URL: the server's address is $STOCKGATE_URL, as on the docs page.
    assert (
        '<code id="new-key-curl">'
        'curl -H "Authorization: Bearer $STOCKGATE_API_KEY" $STOCKGATE_URL/api/v1/key</code>' in response.text
    )
    assert f'href="/settings/api-keys/{raw_key[:12]}/docs">Documentation for this key</a>' in response.text
    # The key field takes the focus when htmx swaps the card in (autofocus, no script).
    assert re.search(r'<input id="new-key"[^>]* autofocus>', response.text)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_curl_line_uses_the_public_base_url_when_set(
    app: Flask, signed_in: PanelClient, valid: dict[str, Any]
) -> None:
    app.config["PUBLIC_BASE_URL"] = "https://stock.example.com"
    response = signed_in.post("/settings/api-keys", valid)
    assert '$STOCKGATE_API_KEY" https://stock.example.com/api/v1/key</code>' in response.text
    assert "STOCKGATE_URL" not in response.text


@pytest.mark.parametrize("backend", ["sqlite"])
def test_forms_autofocus_their_first_field_then_their_first_invalid_one(signed_in: PanelClient) -> None:
    """htmx focuses [autofocus] in swapped content: the form marks one field, never two."""
    form = signed_in.get("/settings/api-keys/new", htmx=True).text
    assert form.count(" autofocus") == 1
    assert re.search(r'<input autocomplete="off" autofocus class="input" id="name"', form)
    # Name is fine; Owner (shown second, declared last) is the first field in error on the page.
    invalid = signed_in.post("/settings/api-keys", {"name": "Feed", "rate_limit": "0"}).text
    assert invalid.count(" autofocus") == 1
    assert re.search(r'<select aria-describedby="owner-error" aria-invalid="true" autofocus', invalid)
    # With an owner, Abilities is: its Select All box takes the focus.
    owner = re.search(r'<option value="(\d+)"', invalid).group(1)
    invalid = signed_in.post("/settings/api-keys", {"name": "Feed", "owner": owner, "rate_limit": "0"}).text
    assert invalid.count(" autofocus") == 1
    assert re.search(r'<input type="checkbox" data-select-all id="abilities-all" autofocus>', invalid)
