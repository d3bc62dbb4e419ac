"""Errors under /api/ are JSON envelopes: never HTML, never a stack trace, never a 5xx for bad input."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app import create_app
from app.catalogue import MODULES
from app.keys.format import build_key
from tests.api.api_helpers import assert_error
from tests.conftest import base_config

WRITE_METHODS = ["POST", "PUT", "PATCH", "DELETE"]


@pytest.mark.parametrize(
    "path", ["/api/v1/nope", "/api/v1/", "/api/v2/products", "/api/nope", "/api/v1/brands/1/x"]
)
def test_unknown_api_paths_are_json_404(call: Any, path: str) -> None:
    error = assert_error(call(path), 404, "not_found")
    assert "/api/docs" in error["message"]


def test_paths_outside_the_api_keep_the_html_404(call: Any) -> None:
    response = call("/definitely-not-here")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


@pytest.mark.parametrize("method", WRITE_METHODS)
def test_write_methods_are_405_json_on_every_list_and_show(
    call: Any, all_abilities_key: Any, method: str
) -> None:
    for module in MODULES:
        for path in (f"/api/v1/{module.slug}", f"/api/v1/{module.slug}/1"):
            response = call(path, all_abilities_key.raw_key, method=method, json={"name": "x"})
            error = assert_error(response, 405, "method_not_allowed")
            assert method in error["message"]
            assert "GET" in response.headers["Allow"]
            assert method not in response.headers["Allow"]


@pytest.mark.parametrize(
    ("record_id", "shown"),
    [
        ("abc", "'abc'"),
        ("0", "'0'"),
        ("-1", "'-1'"),
        ("1.5", "'1.5'"),
        (str(2**31), f"'{2**31}'"),
        (str(10**20), f"'{10**20}'"),
        ("%00", "'\\u0000'"),
        ("\uff11", "'\uff11'"),
        ("9" * 5000, "'" + "9" * 40 + "...'"),
    ],
)
def test_an_id_that_is_not_a_positive_integer_is_a_404_saying_what_ids_are(
    call: Any, all_abilities_key: Any, record_id: str, shown: str
) -> None:
    """Not "No such endpoint": the endpoint exists, the id is what is wrong (SPEC §6)."""
    error = assert_error(call(f"/api/v1/products/{record_id}", all_abilities_key.raw_key), 404, "not_found")
    assert error["message"] == f"Products ids are positive integers (1 to 2147483647); {shown} is not one."
    assert error["details"] == {"id": shown.strip("'")}


def test_every_module_says_what_its_ids_are(call: Any, all_abilities_key: Any) -> None:
    for module in MODULES:
        error = assert_error(call(f"/api/v1/{module.slug}/abc", all_abilities_key.raw_key), 404, "not_found")
        assert error["message"].startswith(f"{module.name} ids are positive integers")


def test_an_unknown_id_names_the_module_and_the_id(call: Any, all_abilities_key: Any) -> None:
    response = call("/api/v1/purchase-orders/2147483647", all_abilities_key.raw_key)
    error = assert_error(response, 404, "not_found")
    assert error["message"] == "No record with id 2147483647 in Purchase Orders."
    assert error["details"] == {"id": 2147483647}


def test_a_bad_id_is_checked_after_the_key_like_any_request(call: Any, make_key: Any) -> None:
    """No key: the 401 of any endpoint; a key without the show ability: the 403 naming it."""
    assert_error(call("/api/v1/products/abc"), 401, "missing_key")
    lister = make_key(name="Lister", abilities=["products:list"])
    error = assert_error(call("/api/v1/products/abc", lister.raw_key), 403, "forbidden")
    assert error["details"] == {"required_ability": "products:show"}


def test_a_key_in_the_id_segment_is_not_echoed(call: Any, all_abilities_key: Any) -> None:
    key = build_key("AbCdEfGh")
    response = call(f"/api/v1/products/{key}", all_abilities_key.raw_key)
    error = assert_error(response, 404, "not_found")
    assert "looks like an API key" in error["message"]
    assert "sgk_AbCdEfGh" not in response.get_data(as_text=True)


def test_an_unexpected_error_is_a_500_json_without_trace(
    app: Flask, call: Any, all_abilities_key: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise RuntimeError("boom: internal detail")

    monkeypatch.setitem(app.view_functions, "api.brands_list", broken)
    response = call("/api/v1/brands", all_abilities_key.raw_key)
    assert_error(response, 500, "internal_error")
    text = response.get_data(as_text=True)
    assert "boom" not in text and "Traceback" not in text
    # Still counted and visible: the limit headers are on the 500 too.
    assert "X-RateLimit-Remaining" in response.headers


def test_database_unreachable_is_503_json(tmp_path: Path) -> None:
    # Nothing listens on port 1: every connection attempt fails at once.
    config = base_config("postgresql+psycopg://postgres@127.0.0.1:1/stockgate?connect_timeout=2")
    app = create_app(config)
    response = app.test_client().get("/api/v1/brands", headers={"X-API-Key": build_key("AAAAAAAA")})
    error = assert_error(response, 503, "service_unavailable")
    assert "database" in error["message"]
    assert response.headers["Retry-After"]


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        ("sync-2026-01-31.0001_a", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("", False),
        ("has space", False),
        ("semi;colon", False),
        ("ünïcode", False),
    ],
)
def test_every_api_response_names_its_request_id(client, make_key, sent, echoed):
    """SPEC §6: a valid client id is echoed, anything else replaced by a new one; errors repeat it."""
    key = make_key(abilities=["products:list"])
    headers = {"X-Request-Id": sent}
    for response in (
        client.get("/api/v1/products", headers={**headers, "X-API-Key": key.raw_key}),
        client.get("/api/v1/brands", headers={**headers, "X-API-Key": key.raw_key}),  # 403
        client.get("/api/v1/nowhere", headers=headers),  # routing 404, before any blueprint
        client.get("/api/v1/products", headers=headers),  # 401
        client.get("/api/openapi.json", headers=headers),
    ):
        rid = response.headers["X-Request-Id"]
        assert (rid == sent) is echoed
        assert re.fullmatch(r"[A-Za-z0-9._-]{1,128}", rid)
        if response.status_code >= 400:
            assert response.get_json()["error"]["request_id"] == rid


def test_two_requests_without_an_id_get_different_ids(client):
    """A new id per request, never a constant."""
    ids = {client.get("/api/v1/products").headers["X-Request-Id"] for _ in range(3)}
    assert len(ids) == 3
