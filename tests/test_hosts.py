"""The Host header is not trusted: no client-chosen host reaches a URL, a header or a body."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.extensions import limiter
from tests.conftest import base_config

EVIL = "evil.example"
HOSTILE = {"Host": EVIL, "X-Forwarded-Host": EVIL, "X-Forwarded-Proto": "https"}
# Documentation, an API list (links), and panel URLs that redirect, including paths Werkzeug
# would "correct" with a 308 to an absolute URL built from the Host header.
URLS = [
    "/api/openapi.json",
    "/api/openapi.yaml",
    "/api/docs",
    "/",
    "/settings/api-keys",
    "/settings//api-keys",
    "/api/v1//products",
    "/static//css/panel.css",
]


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Behind one trusted proxy: X-Forwarded-For/Proto are honoured, X-Forwarded-Host is not."""
    return {**app_config, "PROXY_FIX_HOPS": 1}


def _assert_clean(response: Any) -> None:
    """``evil.example`` appears in no header and nowhere in the body."""
    for name, value in response.headers.items():
        assert EVIL not in value, f"{name}: {value}"
    assert EVIL not in response.get_data(as_text=True), f"{EVIL} in the body of {response.request.path}"


def _docs_app(tmp_path: Path, **config: Any) -> Flask:
    """An app for requests that never touch the database (docs, routing)."""
    application = create_app({**base_config(f"sqlite:///{tmp_path / 'hosts.db'}"), **config})
    with application.app_context():
        limiter.reset()
    return application


@pytest.mark.parametrize("url", URLS)
def test_hostile_host_reaches_no_url_header_or_body(client: FlaskClient, url: str) -> None:
    """Docs, redirects (htmx's too) and routing corrections never carry the Host sent."""
    for headers in (HOSTILE, {**HOSTILE, "HX-Request": "true"}):
        response = client.get(url, headers=headers)
        assert response.status_code in (200, 302, 401, 404), response.status_code
        _assert_clean(response)
        for name in ("Location", "HX-Redirect", "HX-Location"):
            if name in response.headers:
                assert response.headers[name].startswith("/"), response.headers[name]


def test_api_links_never_carry_the_hostile_host(
    app: Flask, client: FlaskClient, make_key: Any, make_user: Any
) -> None:
    """An API list's self/next/prev links are relative: here, seeded products span several pages."""
    owner = make_user(email="links@example.com", name="Links")
    key = make_key(owner=owner, abilities=["products:list"])
    from app.seed import seed_demo

    with app.app_context():
        seed_demo(scale=5)
    response = client.get("/api/v1/products?per_page=2&page=2", headers={**HOSTILE, "X-API-Key": key.raw_key})
    assert response.status_code == 200, response.get_data(as_text=True)
    _assert_clean(response)
    links = response.get_json()["links"]
    assert links["self"] == "/api/v1/products?per_page=2&page=2"
    assert links["prev"] == "/api/v1/products?per_page=2&page=1"
    assert links["next"] == "/api/v1/products?per_page=2&page=3"


def test_public_base_url_is_the_only_absolute_origin(app: Flask, client: FlaskClient, make_key: Any) -> None:
    """With PUBLIC_BASE_URL set, servers, curl lines and links use it, whatever the Host says."""
    app.config["PUBLIC_BASE_URL"] = "https://stock.example.com"
    key = make_key(abilities=["products:list"])
    document = client.get("/api/openapi.json", headers=HOSTILE)
    assert document.get_json()["servers"] == [{"url": "https://stock.example.com"}]
    page = client.get("/api/docs", headers=HOSTILE)
    assert 'curl -sS "https://stock.example.com/api/v1/' in page.get_data(as_text=True)
    listed = client.get("/api/v1/products", headers={**HOSTILE, "X-API-Key": key.raw_key})
    assert listed.get_json()["links"]["self"] == "https://stock.example.com/api/v1/products?page=1"
    for response in (document, page, listed):
        _assert_clean(response)


def test_without_public_base_url_examples_use_a_relative_server(tmp_path: Path) -> None:
    """servers is "/" and curl lines start with $STOCKGATE_URL, which the page tells you to set."""
    client = _docs_app(tmp_path).test_client()
    assert client.get("/api/openapi.json").get_json()["servers"] == [{"url": "/"}]
    html = client.get("/api/docs").get_data(as_text=True)
    assert 'curl -sS "$STOCKGATE_URL/api/v1/' in html
    assert "export STOCKGATE_URL=" in html
    assert "http://localhost" not in html


def test_untrusted_host_is_refused_with_400(tmp_path: Path) -> None:
    """With TRUSTED_HOSTS, Flask answers another Host with 400; under /api/ as JSON."""
    client = _docs_app(tmp_path, TRUSTED_HOSTS=["stock.example.com", ".example.org"]).test_client()
    refused = client.get("/api/openapi.json", headers={"Host": EVIL})
    assert refused.status_code == 400 and refused.is_json
    assert refused.get_json()["error"]["code"] == "bad_request"
    assert client.get("/healthz", headers={"Host": EVIL}).status_code == 400
    assert client.get("/api/openapi.json", headers={"Host": "stock.example.com"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "api.example.org:8443"}).status_code == 200


def test_forwarded_host_is_ignored_unless_configured(tmp_path: Path) -> None:
    """X-Forwarded-Host counts only with PROXY_FIX_X_HOST; then TRUSTED_HOSTS still applies."""
    trusted = ["stock.example.com"]
    ignored = _docs_app(tmp_path, PROXY_FIX_HOPS=1, TRUSTED_HOSTS=trusted).test_client()
    assert (
        ignored.get("/healthz", headers={"Host": "stock.example.com", "X-Forwarded-Host": EVIL}).status_code
        == 200
    )
    honoured = _docs_app(tmp_path, PROXY_FIX_HOPS=1, PROXY_FIX_X_HOST=1, TRUSTED_HOSTS=trusted).test_client()
    headers = {"Host": "127.0.0.1:8000", "X-Forwarded-Host": EVIL}
    assert honoured.get("/healthz", headers=headers).status_code == 400
    headers["X-Forwarded-Host"] = "stock.example.com"
    assert honoured.get("/healthz", headers=headers).status_code == 200


def test_production_without_trusted_hosts_warns_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Production starts without TRUSTED_HOSTS (no URL depends on the Host) but says so once."""
    with caplog.at_level(logging.WARNING):
        _docs_app(tmp_path, STOCKGATE_ENV="production")
    assert any("TRUSTED_HOSTS is not set" in record.getMessage() for record in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        _docs_app(tmp_path, STOCKGATE_ENV="production", TRUSTED_HOSTS=["stock.example.com"])
        _docs_app(tmp_path, STOCKGATE_ENV="development")
    assert not any("TRUSTED_HOSTS" in record.getMessage() for record in caplog.records)


def _proxy_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if "PROXY_FIX_HOPS is 0" in record.getMessage()]


@pytest.mark.parametrize(
    ("header", "value"),
    [("X-Forwarded-For", "198.51.100.7"), ("Forwarded", "for=198.51.100.7"), ("X-Real-IP", "198.51.100.7")],
)
def test_production_behind_an_untrusted_proxy_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, header: str, value: str
) -> None:
    """PROXY_FIX_HOPS=0 while a proxy forwards: every client would share its address; said once."""
    client = _docs_app(tmp_path, STOCKGATE_ENV="production").test_client()
    with caplog.at_level(logging.WARNING):
        assert client.get("/healthz").status_code == 200
        assert _proxy_warnings(caplog) == []
        for _ in range(3):
            assert client.get("/healthz", headers={header: value}).status_code == 200
        client.get("/healthz", headers={"X-Forwarded-For": "198.51.100.8"})
    (warning,) = _proxy_warnings(caplog)
    assert warning.startswith(f"{header} arrived") and "set PROXY_FIX_HOPS" in warning
    assert value not in warning  # the client's words are not repeated in the log


@pytest.mark.parametrize(
    "config",
    [{"STOCKGATE_ENV": "production", "PROXY_FIX_HOPS": 1}, {"STOCKGATE_ENV": "development"}],
    ids=["production-with-hops", "development"],
)
def test_forwarded_headers_are_not_remarked_on_when_trusted_or_in_development(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, config: dict[str, Any]
) -> None:
    """A configured proxy count, or a development server, says nothing about forwarded headers."""
    client = _docs_app(tmp_path, **config).test_client()
    with caplog.at_level(logging.WARNING):
        assert client.get("/healthz", headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 200
    assert _proxy_warnings(caplog) == []
