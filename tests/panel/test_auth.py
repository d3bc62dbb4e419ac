"""Signing in and out of the panel."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models.users import User
from tests.panel.conftest import ADMIN_PASSWORD, PanelClient, form_csrf_token


def test_admin_signs_in_and_lands_on_api_keys(panel: PanelClient, admin: User) -> None:
    response = panel.login(admin.email)
    assert response.status_code == 302
    assert response.location == "/settings/api-keys"
    page = panel.get("/settings/api-keys")
    assert page.status_code == 200
    assert "<h1>API Keys</h1>" in page.text


def test_sign_in_page_has_email_password_and_sign_in(client: FlaskClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert '<label for="email">Email</label>' in page.text
    assert '<label for="password">Password</label>' in page.text
    assert ">Sign in</button>" in page.text


def test_sign_in_page_is_never_cached(panel: PanelClient, admin: User) -> None:
    # It holds a CSRF token, and after a failure the email that was typed.
    assert panel.client.get("/login").headers["Cache-Control"] == "no-store"
    failed = panel.login(admin.email, "wrong password")
    assert failed.status_code == 401
    assert failed.headers["Cache-Control"] == "no-store"


def test_email_is_case_insensitive(panel: PanelClient, admin: User) -> None:
    assert panel.login("  ADMIN@Example.com ").status_code == 302


@pytest.mark.parametrize("password", ["wrong password", "", "x" * 100])
def test_wrong_password_is_refused_with_a_message(panel: PanelClient, admin: User, password: str) -> None:
    response = panel.login(admin.email, password)
    assert response.status_code in (400, 401)
    assert response.location != "/settings/api-keys"
    assert panel.get("/settings/api-keys").status_code == 302


def test_unknown_email_gets_the_same_message_as_a_wrong_password(panel: PanelClient, admin: User) -> None:
    unknown = panel.login("nobody@example.com", "whatever-password")
    wrong = panel.login(admin.email, "whatever-password")
    assert unknown.status_code == wrong.status_code == 401
    assert "Email or password is not right" in unknown.text
    assert "Email or password is not right" in wrong.text


def test_non_admin_cannot_sign_in(panel: PanelClient, make_user: Any) -> None:
    person = make_user(email="clerk@example.com", password=ADMIN_PASSWORD, is_admin=False)
    response = panel.login(person.email)
    assert response.status_code == 401
    assert panel.get("/settings/api-keys").status_code == 302


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/settings/api-keys",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/\t/evil.example",
    ],
)
def test_next_to_another_site_is_ignored(panel: PanelClient, admin: User, target: str) -> None:
    page = panel.client.get("/login", query_string={"next": target})
    response = panel.client.post(
        "/login",
        query_string={"next": target},
        data={
            "email": admin.email,
            "password": ADMIN_PASSWORD,
            "next": target,
            "csrf_token": form_csrf_token(page.text),
        },
    )
    assert response.status_code == 302
    assert response.location == "/settings/api-keys"


def test_next_to_a_panel_path_is_followed(panel: PanelClient, admin: User) -> None:
    response = panel.login(admin.email, next="/settings/api-keys?q=shop&status=active")
    assert response.location == "/settings/api-keys?q=shop&status=active"


def test_anonymous_visit_remembers_where_to_go_after_sign_in(client: FlaskClient) -> None:
    response = client.get("/settings/api-keys?q=abc")
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")
    page = client.get(response.location)
    assert 'name="next" type="hidden" value="/settings/api-keys?q=abc"' in page.text


def test_sign_out_by_get_is_not_allowed(signed_in: PanelClient) -> None:
    assert signed_in.client.get("/logout").status_code == 405


def test_sign_out_ends_the_session_and_a_copied_cookie_stops_working(
    app: Flask, signed_in: PanelClient, admin: User
) -> None:
    cookie = signed_in.client.get_cookie("session")
    assert cookie is not None
    stolen = app.test_client()
    stolen.set_cookie("session", cookie.value)
    assert stolen.get("/settings/api-keys").status_code == 200

    response = signed_in.client.post("/logout", data={"csrf_token": signed_in.csrf_token})
    assert response.status_code == 302
    assert response.location == "/login"

    assert signed_in.client.get("/settings/api-keys").status_code == 302
    assert stolen.get("/settings/api-keys").status_code == 302
    with app.app_context():
        assert db.session.get(User, admin.id).session_token != admin.session_token


def test_sign_out_without_csrf_token_is_refused(signed_in: PanelClient) -> None:
    assert signed_in.client.post("/logout").status_code == 400
    assert signed_in.get("/settings/api-keys").status_code == 200


def test_sign_in_without_csrf_token_is_refused_with_the_form_again(client: FlaskClient, admin: User) -> None:
    response = client.post("/login", data={"email": admin.email, "password": ADMIN_PASSWORD})
    assert response.status_code == 400
    assert "Please sign in again" in response.text
    assert client.get("/settings/api-keys").status_code == 302


def test_session_cookie_is_http_only_and_same_site_lax(panel: PanelClient, admin: User) -> None:
    response = panel.login(admin.email)
    set_cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie
    assert "SameSite=Lax" in set_cookie


def test_an_admin_can_sign_in_and_out_again_and_again(panel: PanelClient, admin: User) -> None:
    for _ in range(8):
        assert panel.login(admin.email).status_code == 302
        panel.client.post("/logout", data={"csrf_token": panel.csrf_token})
