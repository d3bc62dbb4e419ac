"""The API never writes the panel's cookie, although Flask opens the cookie session for every request.

The panel's session is not permanent (it ends with the browser, and ``app.panel.session_lifetime``
bounds it on the server), so Flask rewrites the cookie only when a request changes the session,
and the API never reads nor changes it.
"""

from __future__ import annotations

from typing import Any

from flask import Flask


def test_an_api_answer_sets_no_cookie_even_for_a_browser_holding_one(
    app: Flask, client: Any, make_key: Any
) -> None:
    created = make_key(abilities=["brands:list"])
    with client.session_transaction() as session:
        session["_user_id"] = "1"
    response = client.get("/api/v1/brands", headers={"X-API-Key": created.raw_key})
    assert response.status_code == 200, response.get_json()
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
    login = client.get("/login")
    assert "Set-Cookie" in login.headers  # the panel's session is still opened and written


def test_the_panels_session_cookie_is_not_permanent(client: Any) -> None:
    """What keeps Flask from re-sending the cookie on every API answer: no Expires, no Max-Age."""
    cookie = client.get("/login").headers["Set-Cookie"]
    assert "Expires" not in cookie and "Max-Age" not in cookie
