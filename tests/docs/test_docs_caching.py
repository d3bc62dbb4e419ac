"""The docs endpoints are cheap: rendered once per process, revalidated by ETag, limited per address."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app import create_app
from app.docs import page, spec
from app.extensions import limiter
from tests.conftest import base_config

DOCS = ["/api/openapi.json", "/api/openapi.yaml", "/api/docs"]


@pytest.fixture
def make_docs_app(tmp_path: Path) -> Iterator[Any]:
    """Factory: ``make_docs_app(**config)``, a database-free app with fresh limiter counters."""
    made: list[Flask] = []

    def factory(**config: Any) -> Flask:
        application = create_app({**base_config(f"sqlite:///{tmp_path / 'docs.db'}"), **config})
        with application.app_context():
            limiter.reset()
        made.append(application)
        return application

    yield factory
    for application in made:
        with application.app_context():
            limiter.reset()


@pytest.mark.parametrize("path", DOCS)
def test_matching_if_none_match_gets_304_without_a_body(docs_app: Flask, path: str) -> None:
    """A strong ETag of the body, Cache-Control no-cache, and 304 while it still matches."""
    client = docs_app.test_client()
    first = client.get(path)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/"), "a strong validator"
    assert first.headers["Cache-Control"] == "no-cache"
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag
    other = client.get(path, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.data == first.data


@pytest.mark.parametrize("path", DOCS)
def test_etag_changes_exactly_when_the_body_does(make_docs_app: Any, path: str) -> None:
    """Same body (any request, any Host) → same ETag; another PUBLIC_BASE_URL → another body and ETag."""
    relative = make_docs_app().test_client()
    one = relative.get(path)
    two = relative.get(path, headers={"Host": "other.example.com"})
    assert one.data == two.data and one.headers["ETag"] == two.headers["ETag"]
    restarted = make_docs_app().test_client().get(path)
    assert restarted.data == one.data and restarted.headers["ETag"] == one.headers["ETag"]
    public = make_docs_app(PUBLIC_BASE_URL="https://stock.example.com").test_client().get(path)
    assert public.data != one.data and public.headers["ETag"] != one.headers["ETag"]


def test_each_body_is_rendered_once_per_process(make_docs_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Twenty requests for each endpoint render the page, the JSON and the YAML once each."""
    calls = {"page": 0, "json": 0, "yaml": 0}

    def counting(name: str, real: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(page, "build", counting("page", page.build))
    monkeypatch.setattr(spec, "to_json", counting("json", spec.to_json))
    monkeypatch.setattr(spec, "to_yaml", counting("yaml", spec.to_yaml))
    client = make_docs_app(DOCS_RATE_LIMIT="1000/minute").test_client()
    for _ in range(20):
        for path in DOCS:
            assert client.get(path).status_code == 200
    assert calls == {"page": 1, "json": 1, "yaml": 1}
    # The cache belongs to the app (app.extensions), not the module: a new app renders anew.
    assert make_docs_app().test_client().get("/api/docs").status_code == 200
    assert calls["page"] == 2


@pytest.mark.parametrize("path", DOCS)
def test_an_answer_within_the_limit_has_limit_headers_but_no_retry_after(
    make_docs_app: Any, path: str
) -> None:
    """Retry-After tells a client to wait: only a 429 says that (it was on every 200)."""
    client = make_docs_app(DOCS_RATE_LIMIT="5/minute").test_client()
    response = client.get(path)
    assert response.status_code == 200
    assert "Retry-After" not in response.headers
    assert response.headers["X-RateLimit-Limit"] == "5"
    assert response.headers["X-RateLimit-Remaining"] == "4"
    assert int(response.headers["X-RateLimit-Reset"]) > 0
    again = client.get(path, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and "Retry-After" not in again.headers
    assert again.headers["X-RateLimit-Remaining"] == "3"


def test_docs_are_limited_per_address(make_docs_app: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Past DOCS_RATE_LIMIT an address gets the API's JSON 429 with Retry-After; others don't."""
    caplog.set_level(logging.INFO, logger="stockgate.security")
    client = make_docs_app(DOCS_RATE_LIMIT="3/minute").test_client()
    here = {"REMOTE_ADDR": "203.0.113.7"}
    statuses = [client.get(path, environ_base=here).status_code for path in DOCS]
    assert statuses == [200, 200, 200]
    refused = client.get("/api/docs", environ_base=here)
    assert refused.status_code == 429 and refused.is_json
    error = refused.get_json()["error"]
    assert error["code"] == "rate_limited" and "documentation" in error["message"]
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.headers["X-RateLimit-Limit"] == "3"
    # A 304 counts too: a conditional request is still a request.
    assert (
        client.get("/api/openapi.json", environ_base=here, headers={"If-None-Match": '"x"'}).status_code
        == 429
    )
    elsewhere = client.get("/api/docs", environ_base={"REMOTE_ADDR": "198.51.100.2"})
    assert elsewhere.status_code == 200
    # Each refusal is one structured security event, with the address.
    events = [r.getMessage() for r in caplog.records if r.name == "stockgate.security"]
    assert len(events) == 2
    assert all('"event": "docs.throttled"' in e and '"address": "203.0.113.7"' in e for e in events)
