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
from app.models.usage import KeyUsageDaily

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
    in_chain = or_(ApiKey.in_chain(bucket), ApiKey.id == key.id)
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
    oldest day first; the keys of a chain are summed. Read from the daily roll-up: at most
    days x operations x statuses rows per key, however busy the key was."""
    usage.flush()
    table = KeyUsageDaily.__table__
    rows = db.session.execute(
        select(
            table.c.day, table.c.operation, table.c.status, func.sum(table.c.count), func.max(table.c.last_at)
        )
        .where(table.c.key_id.in_(key_ids), table.c.day >= window_start(days, now).date())
        .group_by(table.c.day, table.c.operation, table.c.status)
        .order_by(table.c.day, table.c.operation, table.c.status)
    ).all()
    return [
        DayCount(day=row[0], operation=row[1], status=row[2], count=int(row[3]), last_at=_as_utc(row[4]))
        for row in rows
    ]


def _as_utc(value: datetime | str) -> datetime:
    # An aggregate loses the column type on SQLite: naive UTC text (or a datetime) comes back.
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
