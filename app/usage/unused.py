"""Unused keys (SPEC §13): active keys nobody has used for N days, found and switched off.

"Used" is ``ApiKey.last_used_at``: set (at most once a minute) by every request the key
authenticates, whatever it then answers. A key is a candidate only when it was created more
than N days ago, used or not: a key younger than that has not had N days to be used (its last
use cannot be older than its creation, but the rule does not lean on that). Only keys that
still work and that the key service lets be deactivated are candidates: active, not expired,
not rolled (a rolling key is cut over with "End grace", never deactivated, see
``keys.service.refusal``; one past its cutover is dead already).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select

from app import audit
from app.extensions import db
from app.keys import service
from app.keys.service import KeyAction
from app.models.api_keys import ApiKey, KeyStatus
from app.models.types import iso_utc, utcnow

MIN_DAYS = 1
MAX_DAYS = 3650


def _unused(days: int, now: datetime) -> ColumnElement[bool]:
    """SQL: a working, unrolled key created more than ``days`` ago and not used since then."""
    cutoff = now - timedelta(days=days)
    return and_(
        ApiKey.is_working(now),
        ApiKey.successor_id.is_(None),  # a rolling key is stopped by its cutover (or End grace)
        ApiKey.created_at < cutoff,
        or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < cutoff),
    )


def unused_keys(days: int, now: datetime | None = None) -> list[ApiKey]:
    """Working keys created more than ``days`` days ago and not used for ``days`` days (or never
    used), oldest use first."""
    statement = (
        select(ApiKey)
        .where(_unused(days, now or utcnow()))
        .order_by(ApiKey.last_used_at.asc().nulls_first(), ApiKey.created_at, ApiKey.id)
    )
    return list(db.session.scalars(statement))


def deactivate_unused(
    days: int, *, actor: str, dry_run: bool = False, now: datetime | None = None
) -> list[ApiKey]:
    """Deactivate every key ``unused_keys`` finds, each audited, in one transaction; return them.

    Each key is locked first (``keys.service.lock_key``, as every other edit takes it) and
    checked again once locked: a key used, edited, rolled or switched off meanwhile is left
    alone. With ``dry_run`` nothing is written: the keys found are returned.
    """
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise ValueError(f"days must be between {MIN_DAYS} and {MAX_DAYS}")
    now = now or utcnow()
    found = unused_keys(days, now)
    if dry_run:
        return found
    try:
        # One lock order for everyone (key id), so two runs never wait for each other.
        locked = [service.lock_key(key.prefix) for key in sorted(found, key=lambda key: key.id)]
        still = {key.id for key in locked if service.refusal(key, KeyAction.DEACTIVATE, now) is None}
        if still:
            still = set(db.session.scalars(select(ApiKey.id).where(ApiKey.id.in_(still), _unused(days, now))))
        keys = [key for key in found if key.id in still]
        for key in keys:
            key.status = KeyStatus.INACTIVE
            audit.record(
                "key.deactivated",
                actor=actor,
                key_prefix=key.prefix,
                details={
                    "reason": "unused",
                    "days": days,
                    "last_used_at": iso_utc(key.last_used_at) if key.last_used_at else None,
                },
            )
        # All or nothing: a failure half-way leaves every key as it was.
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return keys
