"""Users: passwords, sign-in checks and session tokens."""

import pytest

from app import accounts
from app.validation.errors import Conflict, InvalidInput

# Both databases: unique emails and user lookups.
pytestmark = pytest.mark.both_databases


def test_password_over_72_bytes_is_refused_clearly(app):
    """bcrypt's 72-byte limit is a validation message, never a crash."""
    with app.app_context(), pytest.raises(InvalidInput, match="72 bytes"):
        accounts.create_user("a@example.com", "A", password="é" * 40, is_admin=True, actor="tests")


def test_authenticate_accepts_only_admins_with_the_right_password(app, make_user):
    """Wrong password, unknown email, non-admin and system accounts all fail the same way."""
    make_user(email="admin@example.com", password="s3cret-pass", is_admin=True)
    make_user(email="staff@example.com", password="s3cret-pass")
    with app.app_context():
        assert accounts.authenticate("ADMIN@example.com", "s3cret-pass").email == "admin@example.com"
        assert accounts.authenticate("admin@example.com", "wrong-pass") is None
        assert accounts.authenticate("ghost@example.com", "s3cret-pass") is None
        assert accounts.authenticate("staff@example.com", "s3cret-pass") is None
        assert accounts.authenticate("admin@example.com", "x" * 500) is None


def test_rotating_the_session_token_ends_old_sessions(app, make_user):
    """After sign-out the old session id no longer loads the user."""
    user = make_user(password="s3cret-pass", is_admin=True)
    with app.app_context():
        from app.extensions import db
        from app.models.users import User

        row = db.session.get(User, user.id)
        old = row.get_id()
        assert accounts.load_session_user(old).id == user.id
        accounts.sign_out(row)
        assert accounts.load_session_user(old) is None
        assert accounts.load_session_user(row.get_id()).id == user.id
        for junk in ("", "x", "1", "1:", ":abc", "abc:def"):
            assert accounts.load_session_user(junk) is None


def test_system_accounts_have_no_password(app):
    """A sync job's account cannot be given a password."""
    with app.app_context(), pytest.raises(InvalidInput):
        accounts.create_user("bot@example.com", "Bot", password="s3cret-pass", is_system=True, actor="tests")


def test_duplicate_email_conflicts(app, make_user):
    """Emails are unique regardless of case."""
    make_user(email="a@example.com")
    with app.app_context(), pytest.raises(Conflict):
        accounts.create_user("A@Example.com", "Other", actor="tests")


def email_of_length(length):
    """A well-formed email of exactly ``length`` characters (up to 260; no label over 63)."""
    return "a" * 64 + "@" + "b" * (length - 197) + "." + "c" * 63 + "." + "d" * 63 + ".com"


def test_an_email_of_254_characters_is_the_longest_accepted(app):
    """254 characters (RFC 5321) fit the column on both databases; 255 is a clear refusal."""
    with app.app_context():
        assert len(accounts.create_user(email_of_length(254), "Long", actor="tests").email) == 254
        with pytest.raises(InvalidInput, match="at most 254 characters"):
            accounts.create_user(email_of_length(255), "Longer", actor="tests")
