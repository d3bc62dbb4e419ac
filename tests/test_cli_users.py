"""flask users list / deactivate / reactivate / reset-password (SPEC §15): offboarding leaves no
working key behind, the last admin stays, every error is one line and writes nothing."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import accounts
from app.accounts import people as users
from app.extensions import db
from app.keys import rolling
from app.keys import service as keys_service
from app.keys.verification import verify
from app.models.api_keys import ApiKey, KeyStatus
from app.models.audit import AuditEvent
from app.models.types import utcnow
from app.models.users import User
from app.validation.errors import Conflict, InvalidInput
from tests.test_cli import _one_line_error


def _events(app, action):
    with app.app_context():
        stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return [(event.key_prefix, event.details) for event in db.session.scalars(stmt)]


def _state(app):
    """Everything an offboarding may change: users, keys and the audit log."""
    with app.app_context():
        people = db.session.execute(
            select(User.email, User.deactivated_at, User.session_token).order_by(User.id)
        ).all()
        keys = db.session.execute(
            select(ApiKey.prefix, ApiKey.owner_id, ApiKey.status).order_by(ApiKey.id)
        ).all()
        events = db.session.scalar(select(func.count()).select_from(AuditEvent))
        return people, keys, events


def _working_keys_of(app, email):
    with app.app_context():
        return [key.prefix for key in users.working_keys(users.find(email))]


@pytest.fixture
def leaver(make_user):
    return make_user(email="leaver@example.com", name="Lee Leaver")


@pytest.fixture
def heir(make_user):
    return make_user(email="heir@example.com", name="Hal Heir", is_system=True)


@pytest.mark.both_databases
def test_users_list_shows_kind_status_working_keys_and_last_sign_in(app, runner, make_user, make_key, leaver):
    """One line per account; only working keys count (not inactive, revoked or expired ones)."""
    admin = make_user(email="ada@example.com", name="Ada", is_admin=True, password="correct horse")
    make_user(email="sync@example.com", name="Sync", is_system=True)
    for name in ("one", "two", "off", "gone"):
        make_key(owner=leaver, name=name)
    with app.app_context():
        prefixes = [k.prefix for k in db.session.scalars(select(ApiKey).order_by(ApiKey.id))]
        keys_service.deactivate_key(prefixes[2], actor="tests")
        keys_service.revoke_key(prefixes[3], actor="tests")
        accounts.record_sign_in(db.session.get(User, admin.id))
    result = runner.invoke(args=["users", "list"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert lines["leaver@example.com"].split()[-3:] == ["Active", "2", "-"]
    assert " Admin " in lines["ada@example.com"] and "UTC" in lines["ada@example.com"]
    assert " System " in lines["sync@example.com"]
    header = ["EMAIL", "NAME", "KIND", "STATUS", "WORKING", "KEYS", "LAST", "SIGN-IN"]
    assert result.stdout.splitlines()[0].split() == header


@pytest.mark.both_databases
def test_deactivate_moving_keys_hands_every_working_key_to_the_new_owner(app, runner, make_key, leaver, heir):
    """The keys keep working for the integration, now owned by the heir; each move is audited."""
    working = [make_key(owner=leaver, name=f"k{n}") for n in range(2)]
    inactive = make_key(owner=leaver, name="off")
    with app.app_context():
        keys_service.deactivate_key(inactive.key.prefix, actor="tests")
    result = runner.invoke(
        args=["users", "deactivate", "leaver@example.com", "--move-keys-to", "HEIR@example.com"]
    )
    assert result.exit_code == 0, result.output
    assert "2 working key(s) moved to heir@example.com" in result.stdout
    assert _working_keys_of(app, "heir@example.com") == [c.key.prefix for c in working]
    assert _working_keys_of(app, "leaver@example.com") == []
    with app.app_context():
        assert all(verify(c.raw_key).ok for c in working)
        assert not users.find("leaver@example.com").is_active
    updates = _events(app, "key.updated")
    assert [prefix for prefix, _ in updates] == [c.key.prefix for c in working]
    assert updates[0][1]["changes"] == {"owner": {"old": "leaver@example.com", "new": "heir@example.com"}}
    [(_, details)] = _events(app, "user.deactivated")
    assert details["moved_to"] == "heir@example.com" and "2 working key(s) moved" in details["keys"]
    listed = runner.invoke(args=["audit", "list", "--limit", "10"]).stdout
    assert "user.deactivated" in listed and "key.updated" in listed


@pytest.mark.both_databases
def test_deactivate_keys_switches_them_off_and_cuts_a_rolling_key_over(app, runner, make_key, leaver):
    """Nothing left working: a plain key is deactivated; a rolling key (which nobody may
    deactivate) is cut over, and its new key is deactivated."""
    plain = make_key(owner=leaver, name="plain")
    old = make_key(owner=leaver, name="rolled")
    with app.app_context():
        new = rolling.roll_key(old.key.prefix, actor="tests", grace="24h")
        new_prefix, new_raw = new.key.prefix, new.raw_key
    result = runner.invoke(args=["users", "deactivate", "leaver@example.com", "--deactivate-keys"])
    assert result.exit_code == 0, result.output
    assert _working_keys_of(app, "leaver@example.com") == []
    with app.app_context():
        assert not verify(plain.raw_key).ok and not verify(new_raw).ok and not verify(old.raw_key).ok
    assert sorted(p for p, _ in _events(app, "key.deactivated")) == sorted([plain.key.prefix, new_prefix])
    assert [p for p, _ in _events(app, "key.roll_ended")] == [old.key.prefix]
    assert "deactivated" in _events(app, "user.deactivated")[0][1]["keys"]


BAD_DEACTIVATIONS = {
    "neither": (["leaver@example.com"], "exactly one of --move-keys-to EMAIL and --deactivate-keys"),
    "both": (
        ["leaver@example.com", "--move-keys-to", "heir@example.com", "--deactivate-keys"],
        "exactly one",
    ),
    "unknown-user": (["nobody@example.com", "--deactivate-keys"], "no user with email 'nobody@example.com'"),
    "unknown-heir": (["leaver@example.com", "--move-keys-to", "nobody@example.com"], "no user with email"),
    "same-user": (["leaver@example.com", "--move-keys-to", "Leaver@example.com"], "choose another owner"),
    "deactivated-heir": (
        ["leaver@example.com", "--move-keys-to", "gone@example.com"],
        "only move to an active owner",
    ),
    "already-deactivated": (["gone@example.com", "--deactivate-keys"], "already deactivated"),
    "last-admin": (["ada@example.com", "--deactivate-keys"], "last active admin"),
}


@pytest.mark.parametrize("args,needle", BAD_DEACTIVATIONS.values(), ids=BAD_DEACTIVATIONS.keys())
def test_a_refused_deactivation_is_one_line_and_changes_nothing(
    app, runner, make_user, make_key, leaver, heir, args, needle
):
    """Unknown emails, a deactivated or same new owner, the last admin: one line, nothing written."""
    make_user(email="ada@example.com", name="Ada", is_admin=True, password="correct horse")
    make_user(email="gone@example.com", name="Gone")
    make_key(owner=leaver)
    with app.app_context():
        users.deactivate_user("gone@example.com", deactivate_keys=True, actor="tests")
    before = _state(app)
    result = runner.invoke(args=["users", "deactivate", *args])
    assert needle in _one_line_error(result)
    assert _state(app) == before


def test_reactivate_restores_the_account_not_its_keys(app, runner, make_key, leaver):
    """Reactivated, the user may own working keys again, but their old keys stay switched off."""
    created = make_key(owner=leaver)
    offboard = runner.invoke(args=["users", "deactivate", "leaver@example.com", "--deactivate-keys"])
    assert offboard.exit_code == 0, offboard.output
    result = runner.invoke(args=["users", "reactivate", "leaver@example.com"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert users.find("leaver@example.com").is_active
        assert keys_service.get_key(created.key.prefix).status is KeyStatus.INACTIVE
    assert _events(app, "user.reactivated") == [(None, {"email": "leaver@example.com"})]
    again = runner.invoke(args=["users", "reactivate", "leaver@example.com"])
    assert "already active" in _one_line_error(again)
    unknown = runner.invoke(args=["users", "reactivate", "nobody@example.com"])
    assert "no user with email" in _one_line_error(unknown)


def test_a_deactivated_user_gets_no_new_key_and_no_key_back(app, runner, make_key, leaver):
    """'A deactivated user owns no working key' holds afterwards too: creating a key for them or
    activating one of their keys is refused until they are reactivated."""
    created = make_key(owner=leaver)
    offboard = runner.invoke(args=["users", "deactivate", "leaver@example.com", "--deactivate-keys"])
    assert offboard.exit_code == 0, offboard.output
    make = runner.invoke(
        args=["keys", "create", "--name", "X", "--owner", "leaver@example.com", "--ability", "products:list"]
    )
    assert "leaver@example.com is deactivated" in _one_line_error(make)
    activate = runner.invoke(args=["keys", "activate", created.key.prefix])
    assert "its owner leaver@example.com is deactivated" in _one_line_error(activate)
    assert _working_keys_of(app, "leaver@example.com") == []


def test_reset_password_prints_a_new_password_once_and_audits_it(app, runner, make_user):
    """The way back in: the new password signs in, the old one no longer does."""
    make_user(email="ada@example.com", name="Ada", is_admin=True, password="old password")
    result = runner.invoke(args=["users", "reset-password", "ada@example.com"])
    assert result.exit_code == 0, result.output
    password = result.stdout.split("Password (shown once): ")[1].strip()
    with app.app_context():
        assert accounts.authenticate("ada@example.com", password) is not None
        assert accounts.authenticate("ada@example.com", "old password") is None
    [(_, details)] = _events(app, "user.password_reset")
    assert details == {"email": "ada@example.com", "generated": True}
    assert password not in str(details)


def test_reset_password_from_stdin_is_not_echoed(app, runner, make_user):
    """--password-stdin sets the password read; nothing of it is printed."""
    make_user(email="ada@example.com", name="Ada", is_admin=True, password="old password")
    result = runner.invoke(
        args=["users", "reset-password", "ada@example.com", "--password-stdin"], input="brand new secret\n"
    )
    assert result.exit_code == 0, result.output
    assert "brand new" not in result.output
    with app.app_context():
        assert accounts.authenticate("ada@example.com", "brand new secret") is not None


BAD_RESETS = {
    "unknown": (["nobody@example.com"], None, "no user with email"),
    "system": (["sync@example.com"], None, "system account"),
    "short": (["ada@example.com", "--password-stdin"], "short\n", "at least 8"),
    "empty-stdin": (["ada@example.com", "--password-stdin"], "", "no password"),
}


@pytest.mark.parametrize("args,stdin,needle", BAD_RESETS.values(), ids=BAD_RESETS.keys())
def test_a_refused_password_reset_is_one_line_and_changes_nothing(
    app, runner, make_user, args, stdin, needle
):
    """An unknown email, a system account, a bad password: one line, nothing written."""
    make_user(email="ada@example.com", name="Ada", is_admin=True, password="old password")
    make_user(email="sync@example.com", name="Sync", is_system=True)
    with app.app_context():
        before = db.session.execute(select(User.password_hash, User.session_token)).all()
    result = runner.invoke(args=["users", "reset-password", *args], input=stdin)
    assert needle in _one_line_error(result)
    with app.app_context():
        assert db.session.execute(select(User.password_hash, User.session_token)).all() == before
    assert _events(app, "user.password_reset") == []


@pytest.mark.both_databases
def test_two_admins_deactivating_each_other_at_once_leave_one_admin(app, make_user, in_parallel):
    """Both rows are locked before the count: one deactivation lands, the other is refused."""
    make_user(email="ada@example.com", name="Ada", is_admin=True, password="correct horse")
    make_user(email="bob@example.com", name="Bob", is_admin=True, password="correct horse")
    outcomes = in_parallel(
        lambda: users.deactivate_user("ada@example.com", deactivate_keys=True, actor="bob@example.com"),
        lambda: users.deactivate_user("bob@example.com", deactivate_keys=True, actor="ada@example.com"),
    )
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Conflict", "Offboarding"]
    assert "last active admin" in next(o for o in outcomes if isinstance(o, Conflict)).message
    with app.app_context():
        assert accounts.count_admins() == 1


@pytest.mark.both_databases
def test_a_key_created_while_its_owner_is_deactivated_is_refused_or_moved(
    app, make_user, make_key, in_parallel
):
    """A new key for the leaver at the same moment either lands before the offboarding (and is
    moved with the rest) or waits for it and is refused: never a working key left behind."""
    leaver = make_user(email="leaver@example.com", name="Lee")
    make_user(email="heir@example.com", name="Hal")
    make_key(owner=leaver)
    outcomes = in_parallel(
        lambda: users.deactivate_user("leaver@example.com", move_keys_to="heir@example.com", actor="tests"),
        lambda: keys_service.create_key(
            name="late", owner="leaver@example.com", abilities=["products:list"], actor="tests"
        ),
    )
    assert not isinstance(outcomes[0], Exception), outcomes[0]
    assert outcomes[1] is None or isinstance(outcomes[1], keys_service.CreatedKey | InvalidInput | Conflict)
    assert _working_keys_of(app, "leaver@example.com") == []


def test_an_expired_key_is_not_working_and_stays_with_its_owner(app, make_key, leaver):
    """Only working keys are settled: an expired key is not working, so it is left as it is."""
    created = make_key(owner=leaver, expires_at=utcnow() + timedelta(days=1))
    with app.app_context():
        key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == created.key.prefix))
        key.expires_at = utcnow() - timedelta(days=1)
        db.session.commit()
        done = users.deactivate_user("leaver@example.com", deactivate_keys=True, actor="tests")
        assert done.deactivated == [] and done.keys_went == "no working keys"
