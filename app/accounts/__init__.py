"""User accounts: creation, password checks and lookup. Owns its transactions."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from typing import Any

from flask import current_app
from marshmallow import Schema, ValidationError, fields, pre_load, validate
from sqlalchemy import func, select

from app import audit
from app.extensions import db
from app.keys.hashing import BCRYPT_MAX_BYTES, check_secret, hash_secret
from app.models.types import utcnow
from app.models.users import EMAIL_MAX_LENGTH, User
from app.validation.errors import Conflict, InvalidInput, flatten_errors, summarise

PASSWORD_MIN_LENGTH = 8
UNKNOWN_EMAIL = "unknown email"


@functools.cache
def _dummy_hash(rounds: int) -> str:
    """A hash to check against when the email is unknown, so timing does not tell."""
    return hash_secret(secrets.token_hex(16), rounds)


class UserSchema(Schema):
    """Validated input for a new user."""

    # The one email rule every path (CLI, demo admin, tests' factories) goes through; 254 is
    # RFC 5321's limit for an address in a path, and the column's size.
    email = fields.Email(
        required=True,
        error_messages={"invalid": "Not a valid email address."},
        validate=[
            validate.Length(
                max=EMAIL_MAX_LENGTH, error=f"Email must be at most {EMAIL_MAX_LENGTH} characters."
            ),
            # An invisible character would make a look-alike of another user's email.
            validate.Predicate("isprintable", error="Email must not hold invisible or control characters."),
        ],
    )
    name = fields.String(
        required=True, validate=validate.Length(min=1, max=120, error="Name must be 1 to 120 characters.")
    )
    password = fields.String(
        load_default=None,
        validate=validate.Length(
            min=PASSWORD_MIN_LENGTH, error=f"Password must be at least {PASSWORD_MIN_LENGTH} characters."
        ),
    )

    @pre_load
    def normalise(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """Trim the name and lower-case the email so lookups are case-insensitive."""
        data = dict(data)
        if isinstance(data.get("email"), str):
            data["email"] = data["email"].strip().lower()
        if isinstance(data.get("name"), str):
            data["name"] = data["name"].strip()
        return data


def find_user_by_email(email: str) -> User | None:
    """Return the user with this email (case-insensitive), or None."""
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def loggable_email(typed: str) -> str:
    """What logs and the audit log may name for an email typed at sign-in: only a user's email.

    Anything else is ``unknown email (<tag>)``: a password typed into the Email field must not
    be stored. The tag (HMAC-SHA256 of the text under ``SECRET_KEY``, 8 hex digits) lets repeated
    attempts with the same text be told apart without revealing it.
    """
    user = find_user_by_email(typed) if typed else None
    if user is not None:
        return user.email
    secret = current_app.config["SECRET_KEY"]
    key = secret if isinstance(secret, bytes) else secret.encode("utf-8")
    tag = hmac.new(key, b"sign-in email\0" + typed.encode("utf-8"), hashlib.sha256).hexdigest()[:8]
    return f"{UNKNOWN_EMAIL} ({tag})"


def _load_user_input(raw: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """``raw`` through ``UserSchema`` (``kwargs``: e.g. ``only``), and a password bcrypt can take."""
    try:
        data = UserSchema(**kwargs).load(raw)
    except ValidationError as exc:
        errors = flatten_errors(exc.messages)  # type: ignore[arg-type]
        raise InvalidInput(summarise(errors), errors) from None
    if data.get("password") is not None and len(data["password"].encode("utf-8")) > BCRYPT_MAX_BYTES:
        errors = {"password": [f"Password must be at most {BCRYPT_MAX_BYTES} bytes."]}
        raise InvalidInput(summarise(errors), errors)
    return data


def password_hash(password: str) -> str:
    """Check ``password`` against the password rules (InvalidInput) and return its bcrypt hash."""
    checked = _load_user_input({"password": password}, only=("password",))["password"]
    return hash_secret(checked, current_app.config["PASSWORD_BCRYPT_ROUNDS"])


def create_user(
    email: str,
    name: str,
    *,
    password: str | None = None,
    is_admin: bool = False,
    is_system: bool = False,
    actor: str,
) -> User:
    """Create a person or system account (audited as ``user.created``); refuses duplicates."""
    data = _load_user_input({"email": email, "name": name, "password": password})
    if is_system and is_admin:
        errors = {"admin": ["A system account cannot be an admin."]}
        raise InvalidInput(summarise(errors), errors)
    if is_system and data["password"] is not None:
        errors = {"password": ["A system account does not sign in, so it has no password."]}
        raise InvalidInput(summarise(errors), errors)
    if find_user_by_email(data["email"]) is not None:
        raise Conflict(f"email: a user with email {data['email']} already exists")
    rounds = current_app.config["PASSWORD_BCRYPT_ROUNDS"]
    user = User(
        email=data["email"],
        name=data["name"],
        is_admin=is_admin,
        is_system=is_system,
        password_hash=hash_secret(data["password"], rounds) if data["password"] else None,
        session_token=secrets.token_hex(16),
    )
    db.session.add(user)
    kind = "system" if is_system else ("admin" if is_admin else "user")
    audit.record("user.created", actor=actor, details={"email": user.email, "name": user.name, "kind": kind})
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    """Return the admin with these credentials, or None; same work whether or not they exist."""
    user = find_user_by_email(email) if email else None
    if user is not None and user.password_hash:
        hashed = user.password_hash
    else:
        hashed = _dummy_hash(current_app.config["PASSWORD_BCRYPT_ROUNDS"])
    matches = check_secret(password, hashed)
    if user is None or not matches or not can_sign_in(user):
        return None
    return user


def can_sign_in(user: User) -> bool:
    """Only an active admin (never a system account) signs in to the panel."""
    return user.is_admin and not user.is_system and user.is_active


def record_sign_in(user: User) -> None:
    """Note a successful sign-in: the user's last sign-in time and a ``session.signed_in`` event."""
    user.last_sign_in_at = utcnow()
    audit.record("session.signed_in", actor=user.email)
    db.session.commit()


def sign_out(user: User) -> None:
    """End every session of ``user``: old session cookies stop matching (audited)."""
    user.session_token = secrets.token_hex(16)
    audit.record("session.signed_out", actor=user.email)
    db.session.commit()


def load_session_user(session_id: str) -> User | None:
    """Flask-Login loader: ``"<id>:<token>"`` must match the user's current session token."""
    user_id, _, token = session_id.partition(":")
    if not user_id.isdigit() or not token:
        return None
    user = db.session.get(User, int(user_id))
    # A deactivated account's sessions end on their next request (its token is rotated at
    # deactivation too; this holds whatever the token).
    if user is None or user.session_token is None or not user.is_active:
        return None
    return user if secrets.compare_digest(user.session_token, token) else None


def count_admins() -> int:
    """Return how many admins can sign in (active ones)."""
    stmt = select(func.count()).select_from(User).where(User.is_admin.is_(True), User.is_active)
    return db.session.scalar(stmt) or 0


def generate_password() -> str:
    """Return a random password fit to print once for the demo admin."""
    return secrets.token_urlsafe(12)
