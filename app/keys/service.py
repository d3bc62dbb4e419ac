"""The key lifecycle: create, edit, activate, deactivate, revoke, find. Owns its transactions.

The panel, the CLI and the tests all call these functions, so every rule lives once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from app import audit
from app.errors import Conflict, InvalidInput, NotFound, flatten_errors, summarise
from app.extensions import db
from app.keys.format import build_key, generate_key_id, is_prefix
from app.keys.hashing import hash_secret
from app.keys.inputs import KeyCreateSchema, KeyEditSchema
from app.models.api_keys import ApiKey, KeyStatus
from app.models.types import utcnow
from app.models.users import User

# A 47-bit key id collides almost never; retry a few times rather than fail the user.
_PREFIX_ATTEMPTS = 5

# The fields a ``key.updated`` event compares, old -> new (only those that changed are kept).
AUDITED_FIELDS = ("name", "abilities", "rate_limit", "expires_at", "allowed_ips", "description")


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
    return user


def create_key(
    *,
    name: Any,
    owner: User | str | int | None,
    abilities: Any,
    rate_limit: Any = None,
    expires_at: Any = None,
    allowed_ips: Any = None,
    description: Any = None,
    created_by: User | None = None,
    actor: str,
) -> CreatedKey:
    """Validate and store a new key; return it with the full key, shown once.

    ``allowed_ips``: addresses or CIDR ranges (None or empty: any address); ``description``:
    optional text up to 500 characters.
    """
    raw_input: dict[str, Any] = {"name": name, "abilities": abilities}
    optional = {
        "rate_limit": rate_limit,
        "expires_at": expires_at,
        "allowed_ips": allowed_ips,
        "description": description,
    }
    raw_input.update({field: value for field, value in optional.items() if value is not None})
    data = _load(KeyCreateSchema(), raw_input)
    owner_user = _resolve_owner(owner)
    rounds = current_app.config["API_KEY_BCRYPT_ROUNDS"]
    for _ in range(_PREFIX_ATTEMPTS):
        raw_key = build_key(generate_key_id())
        key = ApiKey(
            name=data["name"],
            prefix=raw_key[:12],
            key_hash=hash_secret(raw_key, rounds),
            owner=owner_user,
            abilities=list(data["abilities"]),
            status=KeyStatus.ACTIVE,
            rate_limit=data["rate_limit"],
            expires_at=data["expires_at"],
            allowed_ips=data["allowed_ips"],
            description=data["description"],
            created_by=created_by,
        )
        db.session.add(key)
        audit.record(
            "key.created",
            actor=actor,
            key_prefix=key.prefix,
            details={"owner": owner_user.email, **audited_values(key)},
        )
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            continue
        return CreatedKey(key=key, raw_key=raw_key)
    raise Conflict("could not allocate a unique key prefix; try again")


def get_key(prefix: str) -> ApiKey:
    """Return the key with this prefix, or raise NotFound."""
    key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix)) if is_prefix(prefix) else None
    if key is None:
        raise NotFound(f"no API key with prefix {prefix!r}")
    return key


def _refuse_if_revoked(key: ApiKey, action: str) -> None:
    if key.status is KeyStatus.REVOKED:
        raise Conflict(f"key {key.prefix} is revoked; revocation is final, it cannot be {action}")


def activate_key(prefix: str, *, actor: str) -> ApiKey:
    """Make an inactive key usable again (a revoked key stays revoked)."""
    key = get_key(prefix)
    _refuse_if_revoked(key, "activated")
    key.status = KeyStatus.ACTIVE
    audit.record("key.activated", actor=actor, key_prefix=key.prefix)
    db.session.commit()
    return key


def deactivate_key(prefix: str, *, actor: str) -> ApiKey:
    """Switch a key off until it is activated again."""
    key = get_key(prefix)
    _refuse_if_revoked(key, "deactivated")
    key.status = KeyStatus.INACTIVE
    audit.record("key.deactivated", actor=actor, key_prefix=key.prefix)
    db.session.commit()
    return key


def revoke_key(prefix: str, *, actor: str) -> ApiKey:
    """Revoke a key for good; revoking twice is refused so mistakes are visible."""
    key = get_key(prefix)
    if key.status is KeyStatus.REVOKED:
        raise Conflict(f"key {key.prefix} is already revoked")
    key.status = KeyStatus.REVOKED
    key.revoked_at = utcnow()
    audit.record("key.revoked", actor=actor, key_prefix=key.prefix)
    db.session.commit()
    return key


def edit_key(prefix: str, *, actor: str, reason: str | None = None, **changes: Any) -> ApiKey:
    """Change name, abilities, rate limit, expiry, allowed IPs or description; the next request
    sees the change.

    The ``key.updated`` event holds old -> new for each field that really changed (and
    ``reason``, when the change came from somewhere other than the edit form); an edit that
    changes nothing writes no event.
    """
    key = get_key(prefix)
    _refuse_if_revoked(key, "edited")
    data = _load(KeyEditSchema(), changes)
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
    db.session.commit()
    return key


def _audit_value(value: Any) -> Any:
    """``value`` as the audit log stores it: JSON, times in UTC ISO 8601 with ``Z``."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
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


# Status filter values the panel and CLI accept; "all" hides revoked keys.
STATUS_FILTERS = ("all", "active", "inactive", "expired", "revoked", "expiring")
# "Expiring soon" (SPEC §12): an active key whose expiry is this close gets a warning.
EXPIRING_SOON = timedelta(days=14)


def search_keys(
    query: str = "", status: str = "all", *, now: datetime | None = None
) -> Select[tuple[ApiKey]]:
    """Return a select of keys matching ``query`` by name, prefix, owner name or email.

    ``%`` and ``_`` in the query match literally. The caller adds ordering and paging.
    """
    now = now or utcnow()
    stmt = select(ApiKey).join(ApiKey.owner).options(contains_eager(ApiKey.owner))
    text = query.strip()
    if text:
        stmt = stmt.where(
            or_(
                ApiKey.name.icontains(text, autoescape=True),
                ApiKey.prefix.icontains(text, autoescape=True),
                User.name.icontains(text, autoescape=True),
                User.email.icontains(text, autoescape=True),
            )
        )
    not_expired = or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now)
    if status == "all":
        stmt = stmt.where(ApiKey.status != KeyStatus.REVOKED)
    elif status == "active":
        stmt = stmt.where(ApiKey.status == KeyStatus.ACTIVE, not_expired)
    elif status == "expired":
        stmt = stmt.where(ApiKey.status == KeyStatus.ACTIVE, ~not_expired)
    elif status == "expiring":
        stmt = stmt.where(
            ApiKey.status == KeyStatus.ACTIVE,
            ApiKey.expires_at > now,
            ApiKey.expires_at <= now + EXPIRING_SOON,
        )
    elif status in ("inactive", "revoked"):
        stmt = stmt.where(ApiKey.status == KeyStatus(status))
    else:
        errors = {"status": [f"Status must be one of: {', '.join(STATUS_FILTERS)}."]}
        raise InvalidInput(summarise(errors), errors)
    return stmt
