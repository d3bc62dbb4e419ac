"""The key lifecycle: create, edit, activate, deactivate, revoke, find. Owns its transactions.

The panel, the CLI and the tests all call these functions, so every rule lives once: what a
key in each state allows (``refusal``, ``allowed_actions``; the panel's buttons ask it too),
and how a change takes its key (``change``: the row locked, so changes made at the same time
apply one after the other instead of overwriting each other).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import ColumnElement, Select, and_, false, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from app import audit
from app.db import dialect
from app.extensions import db
from app.keys import search
from app.keys.format import build_key, generate_key_id, is_prefix, prefix_of
from app.keys.hashing import hash_secret
from app.keys.inputs import KeyCreateSchema, KeyEditSchema, max_expiry
from app.models.api_keys import ApiKey, KeyStatus
from app.models.types import iso_utc, utcnow
from app.models.users import User
from app.validation.errors import Conflict, InvalidInput, NotFound, flatten_errors, summarise

# A 47-bit key id collides almost never; retry a few times rather than fail the user.
_PREFIX_ATTEMPTS = 5

# The fields a ``key.updated`` event compares, old -> new (only those that changed are kept).
# The owner changes only when a user is offboarded (``hand_over``); it is audited as an email.
AUDITED_FIELDS = (
    "name",
    "owner",
    "abilities",
    "rate_limit",
    "expires_at",
    "allowed_ips",
    "description",
    "warehouses",
    "marketplaces",
    "hidden_fields",
)


@dataclass(frozen=True)
class CreatedKey:
    """A new key row and the full key, which exists only in this object."""

    key: ApiKey
    raw_key: str


def _load(schema: Any, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    try:
        return schema.load(data, **kwargs)
    except ValidationError as exc:
        errors = flatten_errors(exc.messages)  # type: ignore[arg-type]
        raise InvalidInput(summarise(errors), errors) from None


def _resolve_owner(owner: User | str | int | None) -> User:
    if isinstance(owner, User):
        return owner
    user: User | None = None
    if isinstance(owner, int):
        user = db.session.get(User, owner)
    elif isinstance(owner, str) and owner.strip():
        user = db.session.scalar(select(User).where(User.email == owner.strip().lower()))
    if user is None:
        errors = {"owner": [f"Unknown owner: {owner!s}." if owner else "Owner is required."]}
        raise InvalidInput(summarise(errors), errors)
    if not user.is_active:
        errors = {"owner": [inactive_owner(user)]}
        raise InvalidInput(summarise(errors), errors)
    return user


def inactive_owner(user: User) -> str:
    """Why a deactivated user cannot own a working key (the one message for it)."""
    return f"{user.email} is deactivated: a deactivated user owns no working key. Reactivate them first."


def lock_owner(owner_id: int) -> User:
    """The key owner's row, read fresh and share-locked until the transaction ends.

    A deactivation (``app.accounts.people``) locks the user's row for update: a new or re-activated key
    waits for it to commit and then sees the owner deactivated, instead of slipping a working
    key past it. On SQLite the caller's earlier write already holds the database's write lock.
    """
    user = db.session.scalar(
        select(User)
        .where(User.id == owner_id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    if user is None:  # users are never deleted; this only guards the invariant
        raise NotFound(f"no user with id {owner_id}")
    return user


def _refuse_inactive_owner(key: ApiKey) -> None:
    owner = lock_owner(key.owner_id)
    if not owner.is_active:
        raise Conflict(f"key {key.prefix} cannot work: its owner {inactive_owner(owner)}")


def create_key(
    *,
    name: Any,
    owner: User | str | int | None,
    abilities: Any,
    rate_limit: Any = None,
    expires_at: Any = None,
    allowed_ips: Any = None,
    description: Any = None,
    warehouses: Any = None,
    marketplaces: Any = None,
    hidden_fields: Any = None,
    created_by: User | None = None,
    actor: str,
) -> CreatedKey:
    """Validate and store a new key; return it with the full key, shown once.

    ``allowed_ips``: addresses or CIDR ranges (None or empty: any address); ``description``:
    optional text up to 500 characters; ``warehouses``, ``marketplaces``, ``hidden_fields``:
    the data scope (SPEC §16; None or empty: no narrowing). A scope that leaves the key no
    readable record is allowed (the access preview shows the zeros).
    """
    raw_input: dict[str, Any] = {"name": name, "abilities": abilities}
    optional = {
        "rate_limit": rate_limit,
        "expires_at": expires_at,
        "allowed_ips": allowed_ips,
        "description": description,
        "warehouses": warehouses,
        "marketplaces": marketplaces,
        "hidden_fields": hidden_fields,
    }
    raw_input.update({field: value for field, value in optional.items() if value is not None})
    data = _load(KeyCreateSchema(), raw_input)
    owner_user = _resolve_owner(owner)

    def create(secret: Secret) -> CreatedKey:
        created = mint(
            {**data, "abilities": list(data["abilities"]), "owner": owner_user}, secret, created_by
        )
        _refuse_inactive_owner(created.key)
        details = {"owner": owner_user.email, **audited_values(created.key)}
        audit.record("key.created", actor=actor, key_prefix=created.key.prefix, details=details)
        db.session.commit()
        return created

    return with_unique_prefix(create)


@dataclass(frozen=True)
class Secret:
    """A new full key and its bcrypt hash, made before the row that will hold the hash."""

    raw_key: str
    key_hash: str


def new_secret() -> Secret:
    """A fresh full key and its hash at ``API_KEY_BCRYPT_ROUNDS`` (the slow part of making a key)."""
    raw_key = build_key(generate_key_id())
    return Secret(raw_key, hash_secret(raw_key, current_app.config["API_KEY_BCRYPT_ROUNDS"]))


def mint(values: dict[str, Any], secret: Secret, created_by: User | None) -> CreatedKey:
    """Add a new active key with ``values`` (its fields) and ``secret`` to the session: the one
    place a key row is made, for a new key and for a roll's successor. The caller commits."""
    key = ApiKey(
        **values,
        prefix=prefix_of(secret.raw_key),
        key_hash=secret.key_hash,
        status=KeyStatus.ACTIVE,
        created_by=created_by,
    )
    db.session.add(key)
    db.session.flush()
    return CreatedKey(key=key, raw_key=secret.raw_key)


def with_unique_prefix(attempt: Callable[[Secret], CreatedKey], first: Secret | None = None) -> CreatedKey:
    """Run ``attempt`` (mint a key with the secret given, and commit) until its prefix is unique.

    Two keys share a prefix about once in 62**8 draws; on that collision the transaction is
    rolled back and ``attempt`` runs again with a new secret.
    """
    secret = first or new_secret()
    for _ in range(_PREFIX_ATTEMPTS):
        try:
            return attempt(secret)
        except IntegrityError:
            db.session.rollback()
            secret = new_secret()
    raise Conflict("could not allocate a unique key prefix; try again")


def get_key(prefix: str) -> ApiKey:
    """Return the key with this prefix, or raise NotFound."""
    key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix)) if is_prefix(prefix) else None
    if key is None:
        raise NotFound(f"no API key with prefix {prefix!r}")
    return key


class KeyAction(enum.StrEnum):
    """What an admin can do to a key: the panel's buttons and the CLI's commands."""

    EDIT = "edit"
    ACTIVATE = "activate"
    DEACTIVATE = "deactivate"
    ROLL = "roll"
    END_GRACE = "end_grace"
    REVOKE = "revoke"


_DONE = {
    KeyAction.EDIT: "edited",
    KeyAction.ACTIVATE: "activated",
    KeyAction.DEACTIVATE: "deactivated",
    KeyAction.ROLL: "rolled",
    KeyAction.END_GRACE: "cut over",
}


def refusal(key: ApiKey, action: KeyAction, now: datetime | None = None) -> str | None:
    """Why ``action`` cannot be done to ``key`` now, or None when it can.

    A revoked key allows nothing. A key past its roll cutover is dead (SPEC §7): Revoke only,
    so the API keeps answering ``key_rolled`` (naming the new key) rather than ``key_inactive``.
    A rolling key (in its grace period) can be edited, revoked or cut over now ("End grace"),
    not deactivated: that would turn its coming ``key_rolled`` into ``key_inactive``, and
    ending the grace period stops it at once anyway. Only an active, unexpired, unrolled key
    rolls. Activating an active key or deactivating an inactive one is refused like revoking
    twice: the admin or script meant something else, and no second event is written.
    """
    now = now or utcnow()
    prefix = key.prefix
    if key.status is KeyStatus.REVOKED:
        if action is KeyAction.REVOKE:
            return f"key {prefix} is already revoked"
        if action is KeyAction.ROLL:
            return f"key {prefix} is revoked; only an active key can be rolled"
        return f"key {prefix} is revoked; revocation is final, it cannot be {_DONE[action]}"
    if action is KeyAction.REVOKE:
        return None
    if key.is_past_cutover(now):
        if action is KeyAction.ROLL:
            return f"key {prefix} is already rolled; roll its new key instead"
        if action is KeyAction.END_GRACE:
            return f"key {prefix} is already rolled; there is no grace period to end"
        return f"key {prefix} is rolled and past its cutover; it can only be revoked, not {_DONE[action]}"
    rolling = key.successor_id is not None
    if action is KeyAction.END_GRACE:
        return None if rolling else f"key {prefix} is not rolling; there is no grace period to end"
    if action is KeyAction.ROLL:
        if rolling:
            return f"key {prefix} is rolling; roll its new key instead"
        if key.status is not KeyStatus.ACTIVE:
            return f"key {prefix} is {key.status.value}; only an active key can be rolled"
        if key.is_expired(now):
            return f"key {prefix} has expired; only an active key can be rolled"
        return None
    if action is KeyAction.DEACTIVATE and rolling:
        return f"key {prefix} is rolling; end its grace period to stop it now"
    wanted = {KeyAction.ACTIVATE: KeyStatus.ACTIVE, KeyAction.DEACTIVATE: KeyStatus.INACTIVE}.get(action)
    if wanted is not None and key.status is wanted:
        return f"key {prefix} is already {wanted.value}"
    if action is KeyAction.ACTIVATE and not key.owner.is_active:
        return f"key {prefix} cannot be activated: its owner {inactive_owner(key.owner)}"
    return None


def allowed_actions(key: ApiKey, now: datetime | None = None) -> frozenset[KeyAction]:
    """The actions ``key`` allows now (the panel offers exactly these)."""
    now = now or utcnow()
    return frozenset(action for action in KeyAction if refusal(key, action, now) is None)


def lock_key(prefix: str) -> ApiKey:
    """Load the key for a change, its row locked until the transaction ends, read fresh.

    Every key of its roll chain is locked with it, in id order: a limit edit writes to the
    whole chain, and one order for everyone means two changes never wait for each other.
    PostgreSQL: ``SELECT ... FOR UPDATE``. SQLite has no row locks (and SQLAlchemy leaves
    ``FOR UPDATE`` out there): a write as the transaction's first statement takes the
    database's write lock, as ``BEGIN IMMEDIATE`` would, and another writer waits for the
    commit (``busy_timeout``) instead of acting on what it read before.
    """
    table = ApiKey.__table__
    bucket = (
        db.session.scalar(
            select(func.coalesce(table.c.bucket, table.c.prefix)).where(table.c.prefix == prefix)
        )
        if is_prefix(prefix)
        else None
    )
    if bucket is None:
        raise NotFound(f"no API key with prefix {prefix!r}")
    if dialect() == "sqlite":
        db.session.execute(update(table).where(ApiKey.in_chain(bucket)).values(bucket=table.c.bucket))
    chain = db.session.scalars(
        select(ApiKey)
        .where(ApiKey.in_chain(bucket))
        .order_by(ApiKey.id)
        .with_for_update(of=ApiKey)
        .execution_options(populate_existing=True)
    ).all()
    key = next((key for key in chain if key.prefix == prefix), None)
    if key is None:  # keys are never deleted; this only guards the invariant
        raise NotFound(f"no API key with prefix {prefix!r}")
    return key


@contextmanager
def change(prefix: str, action: KeyAction) -> Iterator[ApiKey]:
    """The key for one ``action``, locked (``lock_key``); the block makes the change and commits.

    Conflict (nothing written) when the key does not allow ``action`` now; if the block raises,
    the transaction is rolled back, which writes nothing and releases the lock.
    """
    try:
        key = lock_key(prefix)
        reason = refusal(key, action)
        if reason is not None:
            raise Conflict(reason)
        yield key
    except BaseException:
        db.session.rollback()
        raise


def activate_key(prefix: str, *, actor: str) -> ApiKey:
    """Make an inactive key usable again (a revoked key stays revoked, a rolled one rolled)."""
    with change(prefix, KeyAction.ACTIVATE) as key:
        _refuse_inactive_owner(key)
        key.status = KeyStatus.ACTIVE
        audit.record("key.activated", actor=actor, key_prefix=key.prefix)
        db.session.commit()
    return key


def deactivate_key(prefix: str, *, actor: str) -> ApiKey:
    """Switch a key off until it is activated again."""
    with change(prefix, KeyAction.DEACTIVATE) as key:
        switch_off(key, actor=actor)
        db.session.commit()
    return key


def switch_off(key: ApiKey, *, actor: str, details: dict[str, Any] | None = None) -> None:
    """Deactivate ``key``, taken with ``change`` or ``lock_key`` (audited); the caller commits."""
    key.status = KeyStatus.INACTIVE
    audit.record("key.deactivated", actor=actor, key_prefix=key.prefix, details=details)


def cut_over(key: ApiKey, *, actor: str, details: dict[str, Any] | None = None) -> None:
    """End a rolling key's grace period now (``key.roll_ended``); the caller commits."""
    now = utcnow()
    key.sunset_at = now
    audit.record(
        "key.roll_ended",
        actor=actor,
        key_prefix=key.prefix,
        details={"sunset_at": iso_utc(now), **(details or {})},
    )


def hand_over(key: ApiKey, new_owner: User, *, actor: str, reason: str) -> None:
    """Give ``key`` (locked with ``lock_key``) to ``new_owner``: a ``key.updated`` event with the
    owner old -> new and ``reason``. The caller commits (an offboarding moves all keys at once)."""
    _apply(key, {"owner": new_owner}, actor=actor, reason=reason)


def revoke_key(prefix: str, *, actor: str) -> ApiKey:
    """Revoke a key for good; revoking twice is refused so mistakes are visible."""
    with change(prefix, KeyAction.REVOKE) as key:
        key.status = KeyStatus.REVOKED
        key.revoked_at = utcnow()
        audit.record("key.revoked", actor=actor, key_prefix=key.prefix)
        db.session.commit()
    return key


CHAIN_LIMIT_REASON = "The keys of a roll chain share one rate limit: set on {prefix}"


def edit_key(prefix: str, *, actor: str, reason: str | None = None, **changes: Any) -> ApiKey:
    """Change name, abilities, rate limit, expiry, allowed IPs, description or data scope; the
    next request sees the change. See ``update_key``."""
    with change(prefix, KeyAction.EDIT) as key:
        return update_key(key, actor=actor, reason=reason, **changes)


def update_key(key: ApiKey, *, actor: str, reason: str | None = None, **changes: Any) -> ApiKey:
    """Apply an edit to ``key``, taken with ``change(prefix, KeyAction.EDIT)``, and commit.

    The ``key.updated`` event holds old -> new for each field that really changed (and
    ``reason``, when the change came from somewhere other than the edit form); an edit that
    changes nothing writes no event. A roll chain counts against one bucket, so it has one
    limit: a new rate limit is set on every working key of the chain, each audited.
    """
    data = _load(KeyEditSchema(), changes)
    _apply(key, data, actor=actor, reason=reason)
    if "rate_limit" in data:
        others = db.session.scalars(
            select(ApiKey).where(ApiKey.in_chain(key.bucket_name), ApiKey.id != key.id).order_by(ApiKey.id)
        )
        shared = CHAIN_LIMIT_REASON.format(prefix=key.prefix)
        for other in others:
            if refusal(other, KeyAction.EDIT) is None:
                _apply(other, {"rate_limit": data["rate_limit"]}, actor=actor, reason=shared)
    db.session.commit()
    return key


def _apply(key: ApiKey, data: dict[str, Any], *, actor: str, reason: str | None) -> None:
    """Set validated fields on ``key`` and record what really changed as ``key.updated``."""
    before = audited_values(key)
    for field_name, value in data.items():
        setattr(key, field_name, list(value) if isinstance(value, list | tuple) else value)
    after = audited_values(key)
    diff = {
        name: {"old": before[name], "new": after[name]}
        for name in before
        if not _same(before[name], after[name])
    }
    if diff:
        details: dict[str, Any] = {"changes": diff}
        if reason:
            details["reason"] = reason
        audit.record("key.updated", actor=actor, key_prefix=key.prefix, details=details)


def _audit_value(value: Any) -> Any:
    """``value`` as the audit log stores it: JSON, times in UTC ISO 8601 with ``Z``."""
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, User):
        return value.email
    if isinstance(value, list | tuple):
        return list(value)
    return value


def _same(old: Any, new: Any) -> bool:
    """True when a field did not change (a list in another order is the same list)."""
    if isinstance(old, list) and isinstance(new, list):
        return sorted(map(str, old)) == sorted(map(str, new))
    return bool(old == new)


def audited_values(key: ApiKey) -> dict[str, Any]:
    """The fields of ``key`` that ``key.updated`` compares, as the audit log stores them."""
    return {name: _audit_value(getattr(key, name)) for name in AUDITED_FIELDS if hasattr(key, name)}


# Status filter values the panel and CLI accept; "all" hides revoked keys, "working" (the
# panel's default, SPEC §7) also hides dead keys (rolled, past their cutover), which "rolled" lists.
# "over_lifetime": working keys over KEY_MAX_LIFETIME_DAYS (``ApiKey.is_over_lifetime``); none
# without a policy.
STATUS_FILTERS = (
    "all",
    "working",
    "active",
    "inactive",
    "expired",
    "revoked",
    "expiring",
    "rolled",
    "over_lifetime",
)
# "Expiring soon" (SPEC §12): an active key whose expiry is this close gets a warning.
EXPIRING_SOON = timedelta(days=14)


def over_lifetime(key: ApiKey, now: datetime | None = None) -> bool:
    """True when ``key`` is over the lifetime policy (``KEY_MAX_LIFETIME_DAYS``); False without one."""
    now = now or utcnow()
    latest = max_expiry(now)
    return latest is not None and key.is_over_lifetime(now, latest)


def search_keys(
    query: str = "", status: str = "all", *, now: datetime | None = None
) -> Select[tuple[ApiKey]]:
    """Return a select of keys matching ``query`` by name, prefix, owner name or email.

    The one key search: the panel's table and ``flask keys list --search`` both call it.
    ``%`` and ``_`` in the query match literally (``keys.search`` says how it stays fast).
    The caller adds ordering and paging.
    """
    now = now or utcnow()
    stmt = select(ApiKey).join(ApiKey.owner).options(contains_eager(ApiKey.owner))
    text = query.strip()
    if text:
        stmt = stmt.where(search.matching(text))
    conditions = _status_conditions(now)
    if status not in conditions:
        errors = {"status": [f"Status must be one of: {', '.join(STATUS_FILTERS)}."]}
        raise InvalidInput(summarise(errors), errors)
    return stmt.where(conditions[status])


def _status_conditions(now: datetime) -> dict[str, ColumnElement[bool]]:
    """SQL for each status filter, from the model's own state rules (``ApiKey`` hybrids)."""
    not_revoked = ApiKey.status != KeyStatus.REVOKED
    dead = ApiKey.is_past_cutover(now)
    latest = max_expiry(now)
    return {
        "all": not_revoked,
        "working": and_(not_revoked, ~dead),
        "rolled": and_(not_revoked, dead),
        "active": ApiKey.is_working(now),
        "expired": and_(ApiKey.status == KeyStatus.ACTIVE, ApiKey.is_expired(now)),
        "expiring": and_(ApiKey.is_working(now), ApiKey.expires_at <= now + EXPIRING_SOON),
        "inactive": ApiKey.status == KeyStatus.INACTIVE,
        "revoked": ApiKey.status == KeyStatus.REVOKED,
        "over_lifetime": ApiKey.is_over_lifetime(now, latest) if latest is not None else false(),
    }
