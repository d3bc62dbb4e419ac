"""People and policy (SPEC §15): list, add, deactivate, reactivate accounts, reset a password.

The Users page and ``flask users`` call these functions, so every rule lives once; they own
their transactions, and a refusal writes nothing. Key changes go through the key service
(``app.keys.service``: ``lock_key``, ``hand_over``, ``switch_off``, ``cut_over``), which owns
key edits and their audit events; this module decides which keys and commits them together
with the account's change.

Offboarding leaves nothing behind: a deactivated user owns no working key (``ApiKey.is_working``).
Their working keys move to another active owner or are switched off in the same transaction,
and a rolling key (in its grace period, which the key service does not let anyone deactivate)
is cut over instead. The last active admin can never be deactivated: the user's row and every
active admin's row are locked first (PostgreSQL ``FOR NO KEY UPDATE``, in id order; on SQLite
the first write takes the database's write lock), so two admins deactivating each other at
once end with one of them refused, never with no admin.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update

from app import accounts, audit
from app.db import dialect
from app.extensions import db
from app.keys import service as keys_service
from app.models.api_keys import ApiKey
from app.models.types import utcnow
from app.models.users import User
from app.validation.errors import Conflict, InvalidInput, NotFound, summarise

# What "Add user" creates: value -> label (the form's choices read this).
KINDS = {"person": "Person", "admin": "Admin", "system": "System account"}
CHOOSE_FATE = "Choose what becomes of the keys: move them to another active owner, or deactivate them."


def _invalid(field_name: str, message: str) -> InvalidInput:
    errors = {field_name: [message]}
    return InvalidInput(summarise(errors), errors)


@dataclass(frozen=True)
class Account:
    """One row of the Users page: the user and how many working keys they own."""

    user: User
    working_keys: int


def list_accounts(now: datetime | None = None) -> list[Account]:
    """Every account, active ones first, then by name, each with its working-key count.

    Accounts are few (people and integrations, not customers), so the page lists them all.
    """
    now = now or utcnow()
    counts = dict(
        db.session.execute(
            select(ApiKey.owner_id, func.count()).where(ApiKey.is_working(now)).group_by(ApiKey.owner_id)
        ).all()
    )
    users = db.session.scalars(select(User).order_by(User.deactivated_at.is_not(None), User.name, User.id))
    return [Account(user, counts.get(user.id, 0)) for user in users]


def working_keys(user: User, now: datetime | None = None) -> list[ApiKey]:
    """The keys ``user`` owns that the API serves now, oldest first."""
    now = now or utcnow()
    stmt = select(ApiKey).where(ApiKey.owner_id == user.id, ApiKey.is_working(now)).order_by(ApiKey.id)
    return list(db.session.scalars(stmt))


def find(email: str) -> User:
    """The user with this email (any case), or NotFound naming it."""
    user = accounts.find_user_by_email(email) if email and email.strip() else None
    if user is None:
        raise NotFound(f"no user with email {email.strip().lower()!r}")
    return user


def _new_owner(email: str) -> User:
    try:
        return find(email)
    except NotFound as exc:
        raise _invalid("move_keys_to", f"Cannot move the keys: {exc.message}.") from None


def get(user_id: int) -> User:
    """The user with this id, or NotFound."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    return user


def active_owners(excluding: User | None = None) -> list[User]:
    """Active accounts that may receive keys (everyone but ``excluding``), people before systems."""
    stmt = select(User).where(User.is_active).order_by(User.is_system, User.name, User.id)
    if excluding is not None:
        stmt = stmt.where(User.id != excluding.id)
    return list(db.session.scalars(stmt))


@dataclass(frozen=True)
class NewAccount:
    """A new account and, for an admin or a person, its generated password (shown once)."""

    user: User
    password: str | None


def add_user(email: str, name: str, kind: str, *, actor: str) -> NewAccount:
    """Create a person, an admin or a system account (``KINDS``); people get a generated password.

    A system account has no password and never signs in.
    """
    if kind not in KINDS:
        raise _invalid("kind", f"Kind must be one of: {', '.join(KINDS)}.")
    password = None if kind == "system" else accounts.generate_password()
    user = accounts.create_user(
        email, name, password=password, is_admin=kind == "admin", is_system=kind == "system", actor=actor
    )
    return NewAccount(user, password)


def _lock_users(ids: list[int], *, with_admins: bool) -> dict[int, User]:
    """Lock and read fresh the users ``ids`` (and every active admin when ``with_admins``)."""
    if dialect() == "sqlite":
        # A write first takes the database's write lock (SQLite has no row locks).
        db.session.execute(update(User).where(User.id.in_(ids)).values(deactivated_at=User.deactivated_at))
    wanted = User.id.in_(ids)
    if with_admins:
        wanted = or_(wanted, and_(User.is_admin.is_(True), User.is_active))
    # NO KEY UPDATE: a key row may still be inserted for these users meanwhile (its foreign key
    # takes KEY SHARE); a new key's owner check (FOR SHARE) waits for this transaction.
    rows = db.session.scalars(
        select(User)
        .where(wanted)
        .order_by(User.id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).all()
    return {user.id: user for user in rows}


@dataclass
class Offboarding:
    """What a deactivation did: the user, where the keys went, and which keys."""

    user: User
    new_owner: User | None = None
    moved: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    cut_over: list[str] = field(default_factory=list)

    @property
    def keys_went(self) -> str:
        """One line: where the working keys went."""
        if self.moved:
            return (
                f"{len(self.moved)} working key(s) moved to {self.new_owner.email if self.new_owner else '?'}"
            )
        stopped = len(self.deactivated) + len(self.cut_over)
        return f"{stopped} working key(s) deactivated" if stopped else "no working keys"


def deactivate_user(
    email: str, *, move_keys_to: str | None = None, deactivate_keys: bool = False, actor: str
) -> Offboarding:
    """Deactivate an account: its working keys move to ``move_keys_to`` or are deactivated
    (exactly one), its sessions end, and it can no longer sign in. One transaction, audited as
    ``user.deactivated`` plus an event per key. The last active admin is refused (Conflict)."""
    if bool(move_keys_to) == bool(deactivate_keys):
        raise _invalid("keys", CHOOSE_FATE)
    user = find(email)
    target = _new_owner(move_keys_to) if move_keys_to else None
    if target is not None and target.id == user.id:
        raise _invalid(
            "move_keys_to", "Keys cannot move to the user being deactivated; choose another owner."
        )
    try:
        locked = _lock_users([user.id, *([target.id] if target else [])], with_admins=user.is_admin)
        user = locked[user.id]
        target = locked[target.id] if target else None
        if not user.is_active:
            raise Conflict(f"{user.email} is already deactivated")
        if target is not None and not target.is_active:
            raise _invalid(
                "move_keys_to", f"{target.email} is deactivated; keys can only move to an active owner."
            )
        others = [u for u in locked.values() if u.is_admin and u.is_active and u.id != user.id]
        if user.is_admin and not others:
            raise Conflict(
                f"{user.email} is the last active admin: make another admin first, then deactivate"
            )
        now = utcnow()
        done = Offboarding(user, new_owner=target)
        _settle_keys(done, now, actor=actor)
        user.deactivated_at = now
        # Every open session of the account ends on its next request.
        user.session_token = secrets.token_hex(16)
        details: dict[str, object] = {"email": user.email, "keys": done.keys_went}
        if target is not None:
            details["moved_to"] = target.email
        audit.record("user.deactivated", actor=actor, details=details)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return done


def _settle_keys(done: Offboarding, now: datetime, *, actor: str) -> None:
    """Move or stop every working key of ``done.user``, each locked by the key service.

    Asked again until none is left: a key rolled while this ran (its new key has the same
    owner) is committed before its old key's lock is released, so the next round finds it.
    """
    user, target = done.user, done.new_owner
    reason = f"owner {user.email} deactivated"
    seen: set[str] = set()
    while True:
        prefixes = [
            prefix
            for prefix in db.session.scalars(
                select(ApiKey.prefix)
                .where(ApiKey.owner_id == user.id, ApiKey.is_working(now))
                .order_by(ApiKey.id)
            )
            if prefix not in seen
        ]
        if not prefixes:
            return
        for prefix in prefixes:
            seen.add(prefix)
            key = keys_service.lock_key(prefix)
            if key.owner_id != user.id or not key.is_working(now):
                continue
            if target is not None:
                keys_service.hand_over(key, target, actor=actor, reason=reason)
                done.moved.append(prefix)
            elif key.is_rolling(now):
                keys_service.cut_over(key, actor=actor, details={"reason": reason})
                done.cut_over.append(prefix)
            else:
                keys_service.switch_off(key, actor=actor, details={"reason": reason})
                done.deactivated.append(prefix)
        db.session.flush()


def reactivate_user(email: str, *, actor: str) -> User:
    """Undo an account's deactivation (not its keys'), audited as ``user.reactivated``."""
    user = find(email)
    try:
        user = _lock_users([user.id], with_admins=False)[user.id]
        if user.is_active:
            raise Conflict(f"{user.email} is already active")
        user.deactivated_at = None
        audit.record("user.reactivated", actor=actor, details={"email": user.email})
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return user


def reset_password(email: str, *, password: str | None = None, actor: str) -> tuple[User, str | None]:
    """Set a new password (``password``, or a generated one, returned to show once) and end the
    account's sessions; audited as ``user.password_reset``. A system account has none."""
    user = find(email)
    if user.is_system:
        raise Conflict(f"{user.email} is a system account: it never signs in, so it has no password")
    generated = accounts.generate_password() if password is None else None
    hashed = accounts.password_hash(password if password is not None else generated or "")
    user.password_hash = hashed
    user.session_token = secrets.token_hex(16)
    audit.record(
        "user.password_reset", actor=actor, details={"email": user.email, "generated": generated is not None}
    )
    db.session.commit()
    return user, generated
