"""Who may reach which panel URL, and what everyone else gets."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models.users import User
from tests.panel.conftest import PanelClient

PREFIX = "sgk_AAAAAAAA"
PAGES = [
    ("GET", "/settings/api-keys"),
    ("GET", "/settings/api-keys?q=x&status=active&sort=name&dir=asc&page=2"),
    ("GET", "/settings/api-keys/new"),
    ("GET", f"/settings/api-keys/{PREFIX}"),
    ("GET", f"/settings/api-keys/{PREFIX}/row"),
    ("GET", f"/settings/api-keys/{PREFIX}/edit"),
]
STATE_CHANGES = [
    ("POST", "/settings/api-keys"),
    ("POST", f"/settings/api-keys/{PREFIX}"),
    ("POST", f"/settings/api-keys/{PREFIX}/activate"),
    ("POST", f"/settings/api-keys/{PREFIX}/deactivate"),
    ("DELETE", f"/settings/api-keys/{PREFIX}"),
]


@pytest.mark.parametrize(("method", "url"), PAGES)
def test_anonymous_visitor_is_sent_to_sign_in(client: FlaskClient, method: str, url: str) -> None:
    response = client.open(url, method=method)
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")


@pytest.mark.parametrize(("method", "url"), PAGES)
def test_anonymous_htmx_request_gets_a_whole_page_redirect(
    client: FlaskClient, method: str, url: str
) -> None:
    response = client.open(url, method=method, headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login"


@pytest.mark.parametrize(("method", "url"), STATE_CHANGES)
def test_anonymous_state_change_is_refused(app: Flask, method: str, url: str) -> None:
    client = app.test_client()
    response = client.open(url, method=method)
    # Without a session there is no CSRF token either: refused before any view runs.
    assert response.status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        "/logout",
        # GET /settings/api-keys/<prefix> is the key's page; POST on it edits the key.
        f"/settings/api-keys/{PREFIX}/activate",
        f"/settings/api-keys/{PREFIX}/deactivate",
    ],
)
def test_state_changes_by_get_are_not_allowed(signed_in: PanelClient, url: str) -> None:
    assert signed_in.get(url).status_code == 405


@pytest.mark.parametrize(("method", "url"), PAGES)
def test_admin_demoted_after_sign_in_is_refused(
    app: Flask, signed_in: PanelClient, admin: User, method: str, url: str
) -> None:
    with app.app_context():
        db.session.get(User, admin.id).is_admin = False
        db.session.commit()
    response = signed_in.client.open(url, method=method)
    assert response.status_code == 403
    assert "Only admins" in response.text


@pytest.mark.parametrize(("method", "url"), PAGES)
def test_signed_in_admin_reaches_every_page(
    signed_in: PanelClient, make_key: Any, method: str, url: str
) -> None:
    created = make_key(name="Seed")
    response = signed_in.client.open(url.replace(PREFIX, created.key.prefix), method=method)
    assert response.status_code == 200
