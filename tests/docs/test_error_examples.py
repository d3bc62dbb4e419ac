"""The documented error examples are what the API answers: each case asked of the API, compared whole."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError
from werkzeug.test import TestResponse

from app.api import listing, ratelimit


@dataclass
class Api:
    """The app under test, a key factory, and monkeypatch for the cases that need the server's help."""

    client: FlaskClient
    make_key: Any
    monkeypatch: pytest.MonkeyPatch

    def key(self, abilities: list[str], **fields: Any) -> dict[str, str]:
        """Headers carrying a new key with ``abilities``."""
        created = self.make_key(name="Docs examples", abilities=abilities, **fields)
        return {"X-API-Key": created.raw_key}


def _bad_request(api: Api, example: dict[str, Any]) -> TestResponse:
    (name,) = example["details"]
    return api.client.get(f"/api/v1/products?{name}=0", headers=api.key(["products:list"]))


def _missing_key(api: Api, _example: dict[str, Any]) -> TestResponse:
    return api.client.get("/api/v1/products")


def _forbidden(api: Api, example: dict[str, Any]) -> TestResponse:
    slug = example["details"]["required_ability"].split(":")[0]
    return api.client.get(f"/api/v1/{slug}/1", headers=api.key([f"{slug}:list"]))


def _not_found(api: Api, example: dict[str, Any]) -> TestResponse:
    return api.client.get(f"/api/v1/products/{example['details']['id']}", headers=api.key(["products:show"]))


def _method_not_allowed(api: Api, _example: dict[str, Any]) -> TestResponse:
    return api.client.post("/api/v1/products")


def _rate_limited(api: Api, example: dict[str, Any]) -> TestResponse:
    limit = example["details"]["limit"]
    # The one value that depends on the clock: pinned to the documented Retry-After example.
    api.monkeypatch.setattr(ratelimit.Window, "retry_after", property(lambda _window: 42))
    headers = api.key(["products:list"], rate_limit=limit)
    for _ in range(limit):
        assert api.client.get("/api/v1/products", headers=headers).status_code == 200
    return api.client.get("/api/v1/products", headers=headers)


def _service_unavailable(api: Api, _example: dict[str, Any]) -> TestResponse:
    def database_down(*_args: Any) -> None:
        raise OperationalError("SELECT", {}, ConnectionError("server closed the connection"))

    api.monkeypatch.setattr(listing, "fetch_page", database_down)
    return api.client.get("/api/v1/products", headers=api.key(["products:list"]))


# Documented error code -> how to make the API answer it.
CASES: dict[str, Callable[[Api, dict[str, Any]], TestResponse]] = {
    "bad_request": _bad_request,
    "missing_key": _missing_key,
    "forbidden": _forbidden,
    "not_found": _not_found,
    "method_not_allowed": _method_not_allowed,
    "rate_limited": _rate_limited,
    "service_unavailable": _service_unavailable,
}


def _documented(app: Flask) -> dict[str, tuple[int, dict[str, Any]]]:
    """Documented error code -> (status, example body), from the served document."""
    document = app.test_client().get("/api/openapi.json").get_json()
    examples = {}
    for response in document["components"]["responses"].values():
        example = response.get("content", {}).get("application/json", {}).get("example")
        if example is not None:
            examples[example["error"]["code"]] = (response["x-status"], example)
    return examples


def test_every_documented_error_example_has_a_case_here(docs_app: Flask) -> None:
    assert set(_documented(docs_app)) == set(CASES)


# What is compared is text the API writes, not SQL: one database is enough.
@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("code", CASES)
def test_the_documented_error_example_is_what_the_api_answers(
    app: Flask, client: FlaskClient, make_key: Any, monkeypatch: pytest.MonkeyPatch, code: str
) -> None:
    status, example = _documented(app)[code]
    # The request id is the client's to choose: send the documented one, the API echoes it.
    client.environ_base["HTTP_X_REQUEST_ID"] = example["error"]["request_id"]
    response = CASES[code](Api(client, make_key, monkeypatch), example["error"])
    assert response.status_code == status
    assert response.get_json() == example
