"""Unused keys (SPEC §13): active keys nobody has used for N days, found and switched off.

"Used" is ``ApiKey.last_used_at``: set (at most once a minute) by every request the key
authenticates, whatever it then answers. A key never used counts from its creation. Only
keys that still work are candidates: active, not expired, not rolled past their cutover.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select

from app import audit
from app.extensions import db
from app.models.api_keys import ApiKey, KeyStatus
from app.models.types import iso_utc, utcnow

MIN_DAYS = 1
MAX_DAYS = 3650


def unused_keys(days: int, now: datetime | None = None) -> list[ApiKey]:
    """Working keys not used for ``days`` days (or never used and older than that), oldest use first."""
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    statement = (
        select(ApiKey)
        .where(
            ApiKey.is_working(now),
            or_(
                ApiKey.last_used_at < cutoff,
                and_(ApiKey.last_used_at.is_(None), ApiKey.created_at < cutoff),
            ),
        )
        .order_by(ApiKey.last_used_at.asc().nulls_first(), ApiKey.created_at, ApiKey.id)
    )
    return list(db.session.scalars(statement))


def deactivate_unused(
    days: int, *, actor: str, dry_run: bool = False, now: datetime | None = None
) -> list[ApiKey]:
    """Deactivate every key ``unused_keys`` finds, each audited, in one transaction; return them.

    With ``dry_run`` nothing is written: the same keys are returned.
    """
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise ValueError(f"days must be between {MIN_DAYS} and {MAX_DAYS}")
    keys = unused_keys(days, now)
    if dry_run:
        return keys
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
    return keys
