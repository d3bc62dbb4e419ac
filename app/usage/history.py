"""Reading usage back: which keys share a history, and counts per day, operation and status.

A rolled key's history carries over (SPEC §13): the keys of one roll chain share a rate-limit
bucket (``ApiKey.bucket_name``), so "this key's usage" is the usage of every key whose
bucket is this key's bucket. The readers flush this process's buffer first
(``app.usage.flush``), so what this process counted is never missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, or_, select

from app import usage
from app.extensions import db
from app.models.api_keys import ApiKey
from app.models.usage import KeyUsage

SUCCEEDED = "Succeeded"
REFUSED = "Refused"
LIMITED = "Limited"
BAD_REQUESTS = "Bad requests"
SERVER_ERRORS = "Server errors"
# The outcomes of SPEC §13, in the order charts stack them.
OUTCOMES = (SUCCEEDED, REFUSED, LIMITED, BAD_REQUESTS)


def outcome_of(status: int) -> str:
    """The outcome a status code counts as: 2xx/304 succeeded, 401/403 refused, 429 limited,
    other 4xx bad requests, 5xx server errors (not one of the charted four)."""
    if 200 <= status < 300 or status == 304:
        return SUCCEEDED
    if status in (401, 403):
        return REFUSED
    if status == 429:
        return LIMITED
    if 400 <= status < 500:
        return BAD_REQUESTS
    return SERVER_ERRORS


def chain_key_ids(key: ApiKey) -> list[int]:
    """The ids of ``key`` and of every key of its roll chain (they share its bucket)."""
    bucket = key.bucket_name
    in_chain = or_(ApiKey.bucket == bucket, ApiKey.prefix == bucket, ApiKey.id == key.id)
    return list(db.session.scalars(select(ApiKey.id).where(in_chain)))


@dataclass(frozen=True)
class DayCount:
    """Requests of one UTC day, operation and status, and the latest of them."""

    day: date
    operation: str
    status: int
    count: int
    last_at: datetime


def window_start(days: int, now: datetime | None = None) -> datetime:
    """Midnight UTC ``days - 1`` days before today: a window of ``days`` whole UTC days."""
    today = (now or datetime.now(UTC)).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days - 1)


def daily_counts(key_ids: list[int], days: int, now: datetime | None = None) -> list[DayCount]:
    """Counts per UTC day, operation and status for ``key_ids`` over the last ``days`` days,
    oldest day first; the keys of a chain are summed."""
    usage.flush()
    table = KeyUsage.__table__
    # date() exists on both databases (PostgreSQL: a date; SQLite: "YYYY-MM-DD" text).
    day = func.date(table.c.hour).label("day")
    rows = db.session.execute(
        select(day, table.c.operation, table.c.status, func.sum(table.c.count), func.max(table.c.last_at))
        .where(table.c.key_id.in_(key_ids), table.c.hour >= window_start(days, now))
        .group_by(day, table.c.operation, table.c.status)
        .order_by(day, table.c.operation, table.c.status)
    ).all()
    return [
        DayCount(
            day=_as_date(row[0]),
            operation=row[1],
            status=row[2],
            count=int(row[3]),
            last_at=_as_utc(row[4]),
        )
        for row in rows
    ]


def last_used(key_ids: list[int]) -> datetime | None:
    """The latest request counted for ``key_ids``, ever (None: never used)."""
    usage.flush()
    value = db.session.scalar(select(func.max(KeyUsage.last_at)).where(KeyUsage.key_id.in_(key_ids)))
    return _as_utc(value) if value is not None else None


def _as_date(value: date | str) -> date:
    # SQLite's date() gives text ("2026-12-05"); PostgreSQL a date.
    return date.fromisoformat(value) if isinstance(value, str) else value


def _as_utc(value: datetime | str) -> datetime:
    # An aggregate loses the column type on SQLite: naive UTC text or datetime comes back.
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def used_operations(key_ids: list[int], days: int, now: datetime | None = None) -> set[str]:
    """Operations ``key_ids`` used in the window: any request to them not refused (401/403).

    A 403 means the key lacked the ability, so it does not make the ability "used"; a 404, a
    400 or a 429 does (the key holds the ability and its client calls it).
    """
    return {
        count.operation for count in daily_counts(key_ids, days, now) if outcome_of(count.status) != REFUSED
    }
