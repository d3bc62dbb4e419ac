"""Responses written by orjson read back exactly as Flask's own encoder would have written them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider

from app.json_provider import OrjsonProvider

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


@dataclass
class Line:
    sku: str
    quantity: int


VALUES: dict[str, Any] = {
    "text": 'Café “Zürich” \u2013 東京 \u2028 "quoted" \\ back',
    "number": 12,
    "big": 2**53 + 1,
    "fraction": 0.1,
    "flags": [True, False, None],
    "money": Decimal("19.90"),
    "when": datetime(2026, 11, 28, 9, 30, tzinfo=UTC),
    "day": date(2026, 11, 28),
    "nested": {"line": Line("SKU-1", 3), "empty": {}, "list": []},
    7: "an integer key",
}


def _read(provider: DefaultJSONProvider, value: Any) -> tuple[Any, bytes, str]:
    response = provider.response(value)
    return json.loads(response.get_data()), response.get_data(), response.mimetype


def test_the_app_writes_responses_with_orjson(app: Flask, backend: str) -> None:
    assert isinstance(app.json, OrjsonProvider)
    assert app.json.sort_keys is False  # "data", "meta", "links" stay in the documented order


def test_a_response_decodes_to_what_flasks_encoder_writes(app: Flask, backend: str) -> None:
    with app.app_context():
        ours, body, mimetype = _read(app.json, VALUES)
        reference = DefaultJSONProvider(app)
        reference.sort_keys = False  # as the app sets it (and mixed keys cannot be sorted)
        flasks, flask_body, _ = _read(reference, VALUES)
    assert ours == flasks
    assert ours["when"] == "Sat, 28 Nov 2026 09:30:00 GMT"  # Flask's date format, as before
    assert ours["money"] == "19.90"
    assert ours["7"] == "an integer key"
    assert mimetype == "application/json"
    assert body.endswith(b"}\n") and flask_body.endswith(b"}\n")
    assert list(ours) == [*list(VALUES)[:-1], "7"]  # insertion order, not sorted


def test_sorted_keys_and_indented_debug_output_are_kept(app: Flask, backend: str) -> None:
    with app.app_context():
        app.json.sort_keys = True
        assert list(_read(app.json, {"b": 1, "a": 2})[0]) == ["a", "b"]
        app.json.sort_keys = False
        app.debug = True
        assert _read(app.json, {"b": 1})[1] == b'{\n  "b": 1\n}\n'


def test_what_orjson_refuses_is_written_as_flask_writes_it(app: Flask, backend: str) -> None:
    with app.app_context():
        assert _read(app.json, {"id": 10**20})[1] == b'{"id":100000000000000000000}\n'


def test_a_value_no_encoder_knows_is_still_an_error(app: Flask, backend: str) -> None:
    with app.app_context(), pytest.raises(TypeError):
        app.json.response({"value": object()})
