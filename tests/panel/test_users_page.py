"""Settings -> Users over HTTP (SPEC §15): the accounts, "Add user" with a password shown once,
offboarding that leaves no working key behind, reactivation, and who may do any of it."""

import logging
import re

import pytest
from sqlalchemy import select

from app.accounts import people as users
from app.extensions import db
from app.models.api_keys import ApiKey, KeyStatus
from app.models.audit import AuditEvent
from app.models.users import User
from tests.panel.conftest import ADMIN_PASSWORD, PanelClient


def _user(app, email):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        db.session.expunge(user)
        return user


def _row(html, user_id):
    match = re.search(rf'<tr id="user-{user_id}".*?</tr>', html, re.S)
    assert match, f"no row for user {user_id}"
    return match.group(0)


@pytest.fixture
def leaver(make_user):
    return make_user(email="leaver@example.com", name="Lee Leaver")


@pytest.mark.both_databases
def test_users_page_lists_every_account_with_its_working_keys(signed_in, make_user, make_key, leaver, app):
    """Name, email, kind, status, working keys (a link to the filtered key list), last sign-in."""
    sync = make_user(email="sync@example.com", name="Nightly sync", is_system=True)
    make_key(owner=sync, name="a")
    make_key(owner=sync, name="b")
    off = make_key(owner=sync, name="off")
    with app.app_context():
        from app.keys import service

        service.deactivate_key(off.key.prefix, actor="tests")
    page = signed_in.get("/settings/users")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert "<h1>Users</h1>" in page.text and 'aria-current="page">Users</a>' in page.text
    row = _row(page.text, sync.id)
    assert "Nightly sync" in row and "System" in row and "Active" in row
    assert 'href="/settings/api-keys?q=sync@example.com"' in row and ">2</a>" in row
    admin_row = _row(page.text, _user(app, "admin@example.com").id)
    assert "Admin" in admin_row and "<time" in admin_row  # signed in just now
    assert "Never" in _row(page.text, leaver.id) and "Person" in _row(page.text, leaver.id)
    keys = signed_in.get("/settings/api-keys?q=sync%40example.com")
    assert keys.text.count('class="key-row') == 3  # the link's list: the owner's keys


def test_only_admins_see_the_users_page(client, panel):
    """Anonymous visitors are sent to sign in."""
    response = client.get("/settings/users")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_add_user_shows_a_generated_password_once(signed_in, app, caplog):
    """An admin gets a password, in a fragment no cache or history keeps, never logged."""
    caplog.set_level(logging.DEBUG)
    form = signed_in.get("/settings/users/new", htmx=True)
    assert form.status_code == 200 and 'id="user-form"' in form.text
    response = signed_in.post(
        "/settings/users", {"name": "Ops Person", "email": "Ops@Example.com", "kind": "admin"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert 'hx-history="false"' in response.text
    password = re.search(r'id="new-password"[^>]*value="([^"]+)"', response.text).group(1)
    assert password not in caplog.text
    assert 'hx-swap-oob="beforeend:#user-rows"' in response.text
    fresh = PanelClient(app.test_client())
    assert fresh.login("ops@example.com", password).status_code == 302
    page = signed_in.get("/settings/users")
    assert password not in page.text


def test_add_system_account_has_no_password(signed_in, app):
    """A system account never signs in: no password is made or shown."""
    response = signed_in.post(
        "/settings/users", {"name": "ERP sync", "email": "erp@example.com", "kind": "system"}
    )
    assert response.status_code == 200
    assert "new-password" not in response.text and "never signs in" in response.text
    user = _user(app, "erp@example.com")
    assert user.is_system and user.password_hash is None


BAD_NEW_USERS = {
    "long-email": ({"email": "a" * 64 + "@" + "b" * 186 + ".com", "name": "X"}, "at most 254 characters"),
    "bad-email": ({"email": "not-an-email", "name": "X"}, "Not a valid email address."),
    "no-name": ({"email": "x@example.com", "name": ""}, "Name is required."),
    "duplicate": ({"email": "ADMIN@example.com", "name": "X"}, "already exists"),
    "unknown-kind": ({"email": "x@example.com", "name": "X", "kind": "root"}, "Not a valid choice"),
}


@pytest.mark.parametrize("data,needle", BAD_NEW_USERS.values(), ids=BAD_NEW_USERS.keys())
def test_bad_new_user_is_a_422_next_to_its_field_and_writes_nothing(signed_in, app, data, needle):
    """The service's rules (accounts.UserSchema) answer inline; no account is made."""
    with app.app_context():
        before = db.session.scalars(select(User.email)).all()
    response = signed_in.post("/settings/users", {"kind": "person", **data})
    assert response.status_code == 422
    assert needle in response.text and 'class="field__error"' in response.text
    with app.app_context():
        assert db.session.scalars(select(User.email)).all() == before


@pytest.mark.both_databases
def test_deactivate_lists_working_keys_and_moves_them(signed_in, app, make_user, make_key, leaver):
    """The confirmation names the working keys; moving them keeps them working for the heir."""
    heir = make_user(email="heir@example.com", name="Hal Heir", is_system=True)
    working = make_key(owner=leaver, name="Storefront")
    confirm = signed_in.get(f"/settings/users/{leaver.id}/deactivate", htmx=True)
    assert confirm.status_code == 200
    assert "Storefront" in confirm.text and working.key.prefix in confirm.text
    assert f'<option value="{heir.id}">' in confirm.text and f'value="{leaver.id}"' not in confirm.text
    response = signed_in.post(
        f"/settings/users/{leaver.id}/deactivate", {"fate": "move", "new_owner": str(heir.id)}
    )
    assert response.status_code == 200, response.text
    assert "1 working key(s) moved to heir@example.com" in response.text
    assert "Deactivated" in _row(response.text, leaver.id) and "Reactivate" in response.text
    with app.app_context():
        key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == working.key.prefix))
        assert key.owner.email == "heir@example.com" and key.status is KeyStatus.ACTIVE
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions[-2:] == ["key.updated", "user.deactivated"]


def test_deactivate_keys_switches_them_off(signed_in, app, make_key, leaver):
    """The other choice: the keys are deactivated, and the user owns no working key."""
    created = make_key(owner=leaver)
    response = signed_in.post(f"/settings/users/{leaver.id}/deactivate", {"fate": "deactivate"})
    assert response.status_code == 200, response.text
    with app.app_context():
        assert (
            db.session.scalar(select(ApiKey.status).where(ApiKey.prefix == created.key.prefix))
            is KeyStatus.INACTIVE
        )
        assert users.working_keys(users.find("leaver@example.com")) == []


@pytest.mark.parametrize(
    "data,needle",
    [
        ({}, "Choose what becomes of the keys"),
        ({"fate": "move", "new_owner": ""}, "Choose the active owner"),
        ({"fate": "move", "new_owner": "999"}, "Choose the active owner"),
    ],
    ids=["no-choice", "no-owner", "unknown-owner"],
)
def test_deactivate_without_a_fate_for_the_keys_is_a_422_and_changes_nothing(
    signed_in, app, make_key, leaver, data, needle
):
    """Nothing is left behind silently: no choice, no deactivation."""
    make_key(owner=leaver)
    response = signed_in.post(f"/settings/users/{leaver.id}/deactivate", data)
    assert response.status_code == 422
    assert needle in response.text
    assert _user(app, "leaver@example.com").is_active


def test_the_last_active_admin_cannot_be_deactivated(signed_in, app):
    """A clear 409, and the admin stays."""
    admin = _user(app, "admin@example.com")
    response = signed_in.post(f"/settings/users/{admin.id}/deactivate", {"fate": "deactivate"})
    assert response.status_code == 409
    assert "last active admin" in response.text
    assert _user(app, "admin@example.com").is_active


def test_a_deactivated_admin_is_signed_out_and_cannot_sign_in(signed_in, app, make_user):
    """Their open session ends on its next request; the right password no longer works."""
    other = make_user(email="bob@example.com", name="Bob", is_admin=True, password=ADMIN_PASSWORD)
    bob = PanelClient(app.test_client())
    assert bob.login("bob@example.com").status_code == 302
    assert bob.get("/settings/users").status_code == 200
    response = signed_in.post(f"/settings/users/{other.id}/deactivate", {"fate": "deactivate"})
    assert response.status_code == 200, response.text
    after = bob.get("/settings/users")
    assert after.status_code == 302 and "/login" in after.headers["Location"]
    assert PanelClient(app.test_client()).login("bob@example.com").status_code == 401


def test_deactivated_session_ends_even_with_its_old_token(signed_in, app, make_user):
    """The user loader itself refuses a deactivated account (not only the rotated token)."""
    bob = make_user(email="bob@example.com", name="Bob", is_admin=True, password=ADMIN_PASSWORD)
    with app.app_context():
        from app import accounts

        user = db.session.get(User, bob.id)
        session_id = user.get_id()
        from app.models.types import utcnow

        user.deactivated_at = utcnow()
        db.session.commit()
        assert accounts.load_session_user(session_id) is None


def test_reactivate_restores_the_account_not_the_keys(signed_in, app, make_key, leaver):
    """The row comes back Active; the keys stay deactivated."""
    created = make_key(owner=leaver)
    signed_in.post(f"/settings/users/{leaver.id}/deactivate", {"fate": "deactivate"})
    response = signed_in.post(f"/settings/users/{leaver.id}/reactivate")
    assert response.status_code == 200
    assert "Active" in response.text and "Deactivate" in response.text
    with app.app_context():
        assert (
            db.session.scalar(select(ApiKey.status).where(ApiKey.prefix == created.key.prefix))
            is KeyStatus.INACTIVE
        )
    again = signed_in.post(f"/settings/users/{leaver.id}/reactivate")
    assert again.status_code == 409 and "already active" in again.text


def test_a_deactivated_user_is_not_offered_as_a_key_owner(signed_in, app, leaver):
    """The create-key form offers active owners only."""
    users_page = signed_in.post(f"/settings/users/{leaver.id}/deactivate", {"fate": "deactivate"})
    assert users_page.status_code == 200
    form = signed_in.get("/settings/api-keys/new", htmx=True)
    assert "leaver@example.com" not in form.text


def test_unknown_user_is_a_404(signed_in):
    """A user id that does not exist."""
    assert signed_in.get("/settings/users/999/deactivate", htmx=True).status_code == 404
    assert signed_in.post("/settings/users/999/reactivate").status_code == 404


def test_changes_need_the_csrf_token(signed_in, leaver, app):
    """Every state change is a POST with a CSRF token."""
    response = signed_in.post(f"/settings/users/{leaver.id}/deactivate", {"fate": "deactivate"}, csrf=False)
    assert response.status_code == 400
    assert _user(app, "leaver@example.com").is_active
