"""API, probe and static requests skip the cookie session; the panel and the docs keep theirs."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, request
from flask.sessions import NullSession, SecureCookieSession

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/api/v1/products", NullSession),
        ("/api/v1/no-such-module", NullSession),
        ("/healthz", NullSession),
        ("/readyz", NullSession),
        ("/static/css/panel.css", NullSession),
        ("/api/docs", SecureCookieSession),
        ("/api/openapi.json", SecureCookieSession),
        ("/api/v1", SecureCookieSession),
        ("/settings/api-keys", SecureCookieSession),
        ("/login", SecureCookieSession),
    ],
)
def test_only_api_probe_and_static_requests_get_the_null_session(
    app: Flask, backend: str, path: str, kind: type
) -> None:
    with app.test_request_context(path):
        opened = app.session_interface.open_session(app, request)
    assert type(opened) is kind


def test_an_api_answer_sets_no_cookie_even_for_a_browser_holding_one(
    app: Flask, backend: str, client: Any, make_key: Any
) -> None:
    created = make_key(abilities=["brands:list"])
    with client.session_transaction() as session:
        session["_user_id"] = "1"
        session.permanent = True  # a permanent session is re-sent on every request it opens
    response = client.get("/api/v1/brands", headers={"X-API-Key": created.raw_key})
    assert response.status_code == 200, response.get_json()
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
    login = client.get("/login")
    assert "Set-Cookie" in login.headers  # the panel's session is still opened and refreshed
