"""Hostile input under /api/ is a JSON 4xx naming what is wrong: never a 5xx, never an HTML page."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from app.catalogue import MODULES_BY_SLUG
from app.extensions import db
from tests.api.api_helpers import assert_error

C0_CHARACTERS = [chr(code) for code in range(0x20)] + ["\x7f"]
# A valid value for each parameter, with the control character put in its middle.
VALID_VALUES = {"q": "acme", "sort": "-name", "page": "12", "updated_since": "2026-01-01T00:00:00Z"}


def _with_control(value: str, character: str) -> str:
    middle = len(value) // 2
    return value[:middle] + character + value[middle:]


def assert_bad_parameter(response: Any, name: str) -> list[str]:
    """A 400 ``bad_request`` whose details name ``name`` (and only the parameters sent)."""
    error = assert_error(response, 400, "bad_request")
    assert name in error["details"], error
    return error["details"][name]


@pytest.mark.parametrize("name", sorted(VALID_VALUES))
def test_every_control_character_in_a_list_parameter_is_a_400_naming_it(
    call: Any, all_abilities_key: Any, name: str
) -> None:
    """NUL in ``q`` was a 500 on PostgreSQL (psycopg refuses it); every C0 character and DEL is a 400."""
    for character in C0_CHARACTERS:
        for value in (character, _with_control(VALID_VALUES[name], character)):
            response = call(f"/api/v1/products?{name}={quote(value)}", all_abilities_key.raw_key)
            messages = assert_bad_parameter(response, name)
            assert f"U+{ord(character):04X}" in " ".join(messages), (name, repr(value), messages)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    before=st.text(max_size=20),
    control=st.sampled_from(C0_CHARACTERS),
    after=st.text(max_size=20),
)
def test_any_search_holding_a_control_character_is_a_400(
    call: Any, all_abilities_key: Any, before: str, control: str, after: str
) -> None:
    response = call(f"/api/v1/brands?q={quote(before + control + after)}", all_abilities_key.raw_key)
    assert_bad_parameter(response, "q")


@pytest.mark.both_databases
@pytest.mark.parametrize("instant", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_updated_since_outside_the_calendar_in_utc_is_a_400(
    call: Any, all_abilities_key: Any, instant: str
) -> None:
    """Valid ISO 8601 whose UTC instant is before year 1 or after 9999: was a 500 (OverflowError)."""
    response = call(f"/api/v1/products?updated_since={quote(instant)}", all_abilities_key.raw_key)
    assert "Out of range" in " ".join(assert_bad_parameter(response, "updated_since"))


@pytest.mark.parametrize(
    "sent", ["yesterday", "2026-01-31T09:00:00+09:00", "2026-01-31T09:00:00%2009:00", "31/01/2026"]
)
def test_a_bad_updated_since_shows_an_example_and_how_to_send_a_plus(
    call: Any, all_abilities_key: Any, sent: str
) -> None:
    """``+09:00`` unencoded arrives as `` 09:00``: the 400 says to send it as ``%2B`` (SPEC §6)."""
    response = call(f"/api/v1/products?updated_since={sent}", all_abilities_key.raw_key)
    (message,) = assert_bad_parameter(response, "updated_since")
    assert "2026-01-31T00:00:00Z" in message
    assert "+ of an offset as %2B" in message


def test_an_offset_sent_as_2b_is_accepted(call: Any, all_abilities_key: Any) -> None:
    response = call("/api/v1/products?updated_since=2026-01-31T09:00:00%2B09:00", all_abilities_key.raw_key)
    assert response.status_code == 200


@pytest.mark.both_databases
@pytest.mark.parametrize(
    ("instant", "listed"),
    [("0001-01-01T00:00:00Z", True), ("9999-12-31T23:59:59Z", False), ("0001-01-01T00:00:00-01:00", True)],
)
def test_updated_since_at_the_edges_of_the_calendar_is_answered(
    app: Flask, call: Any, all_abilities_key: Any, instant: str, listed: bool
) -> None:
    """The first and last instants of the calendar filter like any other: all or nothing."""
    with app.app_context():
        db.session.add(MODULES_BY_SLUG["brands"].model(name="Acme", country="US"))
        db.session.commit()
    response = call(f"/api/v1/brands?updated_since={quote(instant)}", all_abilities_key.raw_key)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert [brand["name"] for brand in body["data"]] == (["Acme"] if listed else [])
    assert body["meta"]["total"] == (1 if listed else 0)


@pytest.mark.parametrize("name", ["page", "per_page"])
@pytest.mark.parametrize("value", ["1_0", " 5", "5 ", "+5", "\u0665", "\uff15", "\u0661\u0660"])
def test_page_numbers_take_ascii_digits_only(
    call: Any, all_abilities_key: Any, name: str, value: str
) -> None:
    """Python's int() reads "1_0", " 5" and Arabic-Indic or fullwidth digits; the API does not."""
    response = call(f"/api/v1/products?{name}={quote(value)}", all_abilities_key.raw_key)
    assert "digits 0-9" in " ".join(assert_bad_parameter(response, name))


@pytest.mark.parametrize("record_id", ["\u0661", "\uff11", "\u0967", "\U0001d7cf"])
def test_record_ids_take_ascii_digits_only(
    app: Flask, call: Any, all_abilities_key: Any, record_id: str
) -> None:
    """Werkzeug's int converter read U+0661 (Arabic-Indic one) as 1 and showed brand 1."""
    with app.app_context():
        db.session.add(MODULES_BY_SLUG["brands"].model(name="Acme", country="US"))
        db.session.commit()
    assert call("/api/v1/brands/1", all_abilities_key.raw_key).status_code == 200
    error = assert_error(
        call(f"/api/v1/brands/{quote(record_id)}", all_abilities_key.raw_key), 404, "not_found"
    )
    assert error["message"].startswith("Brands ids are positive integers")


def _raw_path(app: Flask, path: str, key: str) -> Response:
    """Send ``path`` as PATH_INFO verbatim, as a real server would (the test client re-parses ``//``)."""
    environ = EnvironBuilder(path="/", headers={"X-API-Key": key}).get_environ()
    environ["PATH_INFO"] = path
    return Response.from_app(app, environ)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1//products",
        "/api//v1/products",
        "/api/v1/products//1",
        "/api/v1//products/1",
        "/api/v1/products/",
        "/api/v1/products/1/",
        "/api/v1/\x00",
        "/api/v1/products/\x00",
    ],
)
def test_odd_api_paths_are_json_404_not_an_html_redirect(
    app: Flask, all_abilities_key: Any, path: str
) -> None:
    """Werkzeug's merge_slashes answered ``/api/v1//products`` with an HTML 308 before any handler ran."""
    response = _raw_path(app, path, all_abilities_key.raw_key)
    assert "Location" not in response.headers
    assert_error(response, 404, "not_found")
