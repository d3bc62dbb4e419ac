"""Column types shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def iso_utc(value: datetime) -> str:
    """``value`` as ISO 8601 in UTC to the second, ending in ``Z`` (``2026-01-31T12:00:00Z``):
    the one way Stockgate writes a time for machines (API, audit details, CLI, ``datetime=``)."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes stored as naive UTC on every database.

    SQLite has no time zones and PostgreSQL's ``timestamptz`` would convert to the
    session zone; storing naive UTC everywhere makes expiry comparisons identical on both.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Convert an aware datetime to naive UTC; refuse naive input (ambiguous)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Mark the stored naive UTC value as UTC again."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC)
