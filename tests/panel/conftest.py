"""Panel fixtures: an admin, and a client helper that signs in and sends the CSRF header."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app.extensions import db
from app.models.api_keys import ApiKey
from app.models.users import User

ADMIN_PASSWORD = "correct horse battery"
_FORM_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_HEADER_TOKEN = re.compile(r'"X-CSRFToken": ?"([^"]+)"')


def form_csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _FORM_TOKEN.search(html)
    assert match, "no csrf_token field on the page"
    return match.group(1)


@dataclass
class PanelClient:
    """A test client that signs in through the form and sends CSRF and htmx headers."""

    client: FlaskClient
    csrf_token: str | None = None
    remote_addr: str = "127.0.0.1"

    def login(self, email: str, password: str = ADMIN_PASSWORD, **kwargs: Any) -> TestResponse:
        """Sign in through the form (with its CSRF token); remember the page's header token."""
        page = self.client.get("/login")
        data = {"email": email, "password": password, "csrf_token": form_csrf_token(page.text), **kwargs}
        response = self.client.post("/login", data=data, environ_base={"REMOTE_ADDR": self.remote_addr})
        if response.status_code == 302:
            self.refresh_token()
        return response

    def refresh_token(self) -> str:
        """Read the CSRF token htmx would send, from the API Keys page."""
        page = self.client.get("/settings/api-keys")
        match = _HEADER_TOKEN.search(page.text)
        assert match, f"no hx-headers CSRF token (status {page.status_code})"
        self.csrf_token = match.group(1)
        return self.csrf_token

    def headers(self, htmx: bool = True, csrf: bool = True) -> dict[str, str]:
        """Headers htmx would send: HX-Request and X-CSRFToken."""
        headers: dict[str, str] = {}
        if htmx:
            headers["HX-Request"] = "true"
        if csrf and self.csrf_token:
            headers["X-CSRFToken"] = self.csrf_token
        return headers

    def get(self, url: str, htmx: bool = False, **kwargs: Any) -> TestResponse:
        """GET, as htmx when ``htmx`` is true."""
        return self.client.get(url, headers=self.headers(htmx=htmx, csrf=False), **kwargs)

    def post(
        self, url: str, data: Any = None, htmx: bool = True, csrf: bool = True, **kw: Any
    ) -> TestResponse:
        """POST as htmx does: form data, HX-Request and the CSRF header."""
        return self.client.post(url, data=data or {}, headers=self.headers(htmx, csrf), **kw)

    def delete(self, url: str, htmx: bool = True, csrf: bool = True) -> TestResponse:
        """DELETE as htmx does (parameters in the URL, token in the header)."""
        return self.client.delete(url, headers=self.headers(htmx, csrf))


@pytest.fixture
def admin(make_user: Any) -> User:
    """An admin who can sign in."""
    return make_user(email="admin@example.com", name="Ada Admin", password=ADMIN_PASSWORD, is_admin=True)


@pytest.fixture
def panel(client: FlaskClient) -> PanelClient:
    """An anonymous panel client (call ``.login(...)``)."""
    return PanelClient(client)


@pytest.fixture
def signed_in(panel: PanelClient, admin: User) -> PanelClient:
    """A panel client signed in as the admin, holding the CSRF token."""
    response = panel.login(admin.email)
    assert response.status_code == 302, response.text
    return panel


@pytest.fixture
def count_keys(app: Flask) -> Any:
    """Return how many keys are stored."""

    def counter() -> int:
        with app.app_context():
            return db.session.scalar(select(func.count()).select_from(ApiKey)) or 0

    return counter


@pytest.fixture
def load_key(app: Flask) -> Any:
    """Load a key's stored state by prefix (fresh from the database)."""

    def loader(prefix: str) -> ApiKey | None:
        with app.app_context():
            key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
            if key is not None:
                db.session.expunge(key)
            return key

    return loader
