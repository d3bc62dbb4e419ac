"""Hostile input in the panel: an error next to the field (4xx), never a 500, nothing saved."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from wtforms import HiddenField, StringField, TextAreaField

from app.models.users import User
from app.panel.forms import PanelForm
from tests.panel.conftest import ADMIN_PASSWORD, PanelClient, form_csrf_token

CONTROL_SAMPLES = ["\x00", "\x01", "\t", "\n", "\x1b", "\x1f", "\x7f"]
SEARCH_ERROR = re.compile(r'<p class="field__error" id="key-search-error" role="alert">([^<]*)</p>')


def _search_error(html: str) -> str:
    match = SEARCH_ERROR.search(html)
    assert match, "no error shown by the search box"
    return match.group(1)


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "page"])
@pytest.mark.parametrize("character", CONTROL_SAMPLES)
def test_a_search_with_a_control_character_is_a_422_by_the_search_box(
    signed_in: PanelClient, make_key: Any, htmx: bool, character: str
) -> None:
    """``?q=%00`` was an HTML 500 on PostgreSQL (psycopg refuses NUL); now nothing is looked up."""
    make_key(name="Amazon bridge")
    response = signed_in.get("/settings/api-keys", htmx=htmx, query_string={"q": f"ama{character}zon"})
    assert response.status_code == 422
    assert "Search: Contains a control character" in _search_error(response.text)
    assert "Amazon bridge" not in response.text
    if htmx:
        # htmx swaps 422; the refused address is not pushed into the history.
        assert response.headers["HX-Push-Url"] == "false"
        assert 'id="key-table"' in response.text
    else:
        assert 'aria-describedby="key-search-error"' in response.text


@pytest.mark.parametrize("name", ["status", "sort", "dir", "page", "other"])
def test_a_control_character_in_any_table_parameter_is_a_422(signed_in: PanelClient, name: str) -> None:
    response = signed_in.get("/settings/api-keys", htmx=True, query_string={name: "a\x00"})
    assert response.status_code == 422
    assert "Contains a control character (U+0000)" in _search_error(response.text)


@pytest.mark.parametrize("page", ["abc", "1_0", " 2", "2 ", "+2", "\u0662", "\uff12"])
def test_the_page_number_takes_ascii_digits_only(signed_in: PanelClient, page: str) -> None:
    """int() read these as page numbers; the table refuses them instead of guessing."""
    response = signed_in.get("/settings/api-keys", htmx=True, query_string={"page": page})
    assert response.status_code == 422
    assert "Page: Not a whole number" in _search_error(response.text)


@pytest.mark.both_databases
def test_a_clean_search_after_a_refused_one_shows_no_error(signed_in: PanelClient, make_key: Any) -> None:
    make_key(name="Amazon bridge")
    assert signed_in.get("/settings/api-keys", htmx=True, query_string={"q": "\x00"}).status_code == 422
    response = signed_in.get("/settings/api-keys", htmx=True, query_string={"q": "amazon"})
    assert response.status_code == 200
    assert "key-search-error" not in response.text
    assert "Amazon bridge" in response.text


def _sign_in(panel: PanelClient, **fields: str) -> Any:
    page = panel.client.get("/login")
    data = {
        "email": "admin@example.com",
        "password": ADMIN_PASSWORD,
        "csrf_token": form_csrf_token(page.text),
    }
    return panel.client.post("/login", data={**data, **fields})


@pytest.mark.parametrize("field", ["email", "password"])
@pytest.mark.parametrize("character", ["\x00", "\t", "\x7f"])
def test_a_control_character_in_the_sign_in_form_is_a_400_next_to_the_field(
    panel: PanelClient, admin: User, field: str, character: str
) -> None:
    value = {"email": admin.email, "password": ADMIN_PASSWORD}[field]
    response = _sign_in(panel, **{field: value[:3] + character + value[3:]})
    assert response.status_code == 400
    match = re.search(rf'<p class="field__error" id="{field}-error">([^<]*)</p>', response.text)
    assert match and "Contains a control character" in match.group(1)
    # Not signed in: the panel still sends anonymous visitors to the sign-in page.
    assert panel.client.get("/settings/api-keys").status_code == 302


def test_a_control_character_in_next_is_ignored_not_a_failed_sign_in(panel: PanelClient, admin: User) -> None:
    """``next`` comes from a link anyone can craft; ``safe_next`` drops it, the admin still signs in."""
    response = _sign_in(panel, next="/settings/api-keys\x00")
    assert response.status_code == 302
    assert response.location == "/settings/api-keys"


class _NotesForm(PanelForm):
    """A form with a single-line and a multi-line field, as "Allowed IPs" will be."""

    class Meta:
        """No CSRF token: validated directly, not posted."""

        csrf = False

    title = StringField()
    notes = TextAreaField()
    token = HiddenField()


@pytest.mark.parametrize("character", ["\t", "\n", "\r"])
def test_a_textarea_may_hold_tab_cr_and_lf_but_a_single_line_field_may_not(
    app: Flask, character: str
) -> None:
    with app.test_request_context(method="POST", data={"title": "ok", "notes": f"10.0.0.0/8{character}::1"}):
        assert _NotesForm().validate()
    with app.test_request_context(method="POST", data={"title": f"a{character}b", "notes": ""}):
        form = _NotesForm()
        assert not form.validate()
        assert form.title.errors == [f"Contains a control character (U+{ord(character):04X}); remove it."]


def test_a_control_character_in_a_hidden_field_is_said_on_the_form(app: Flask) -> None:
    with app.test_request_context(method="POST", data={"title": "ok", "notes": "", "token": "a\x00"}):
        form = _NotesForm()
        assert not form.validate()
        assert form.form_errors == ["This form was sent with a bad value: " + form.token.errors[0]]


@pytest.mark.parametrize("character", ["\x00", "\x0b", "\x1f", "\x7f"])
def test_a_textarea_refuses_other_control_characters(app: Flask, character: str) -> None:
    with app.test_request_context(method="POST", data={"title": "ok", "notes": f"a{character}b"}):
        form = _NotesForm()
        assert not form.validate()
        assert form.notes.errors and "control character" in form.notes.errors[0]


@pytest.mark.both_databases
def test_the_panel_expiry_cannot_overflow(signed_in: PanelClient, make_user: Any) -> None:
    """``datetime-local`` has no offset, so the latest minute is taken as UTC and kept as it is."""
    owner = make_user(email="grace@example.com", name="Grace Hopper")
    response = signed_in.post(
        "/settings/api-keys",
        {
            "name": "Far",
            "owner": str(owner.id),
            "abilities": ["products:list"],
            "rate_limit": "60",
            "expires_at": "9999-12-31T23:59",
        },
    )
    assert response.status_code == 200, response.text
    assert signed_in.get("/settings/api-keys").status_code == 200
