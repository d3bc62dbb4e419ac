"""Reading usage back: which keys a report covers, and counts per day, operation, status and key.

A rolled key's history carries over (SPEC §13): the keys of one roll chain share a rate-limit
bucket (``ApiKey.bucket_name``). The chain's newest key (the one nobody replaced) reports the
whole chain, each key's share told apart, so during a grace period an admin sees whether the
old key is still called; an older key reports its own requests only (``reported_keys``).
The readers flush this process's buffer first (``app.usage.flush``), so what this process
counted is never missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import or_, select

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


def chain_keys(key: ApiKey) -> list[ApiKey]:
    """``key`` and every key of its roll chain (they share its bucket), oldest first."""
    in_chain = or_(ApiKey.in_chain(key.bucket_name), ApiKey.id == key.id)
    return list(db.session.scalars(select(ApiKey).where(in_chain).order_by(ApiKey.id)))


def chain_key_ids(key: ApiKey) -> list[int]:
    """The ids of ``key`` and of every key of its roll chain, oldest first."""
    return [member.id for member in chain_keys(key)]


def reported_keys(key: ApiKey, chain: list[ApiKey] | None = None) -> list[ApiKey]:
    """The keys whose requests ``key``'s usage report counts, oldest first: the whole roll chain
    for its newest key (no successor), only ``key`` itself for a key that was rolled.
    ``chain``: ``chain_keys(key)`` when the caller has it already."""
    if key.successor_id is not None:
        return [key]
    return chain if chain is not None else chain_keys(key)


@dataclass(frozen=True)
class DayCount:
    """Requests of one key, UTC day, operation and status, and the latest of them."""

    day: date
    operation: str
    status: int
    count: int
    last_at: datetime
    key_id: int = 0


def window_start(days: int, now: datetime | None = None) -> datetime:
    """Midnight UTC ``days - 1`` days before today: a window of ``days`` whole UTC days."""
    today = (now or datetime.now(UTC)).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days - 1)


def daily_counts(key_ids: list[int], days: int, now: datetime | None = None) -> list[DayCount]:
    """Counts per key, UTC day, operation and status for ``key_ids`` over the last ``days``
    days, oldest day first. Read from the daily roll-up: at most days x operations x statuses
    rows per key, however busy the key was."""
    usage.flush()
    table = KeyUsageDaily.__table__
    rows = db.session.execute(
        select(table.c.day, table.c.operation, table.c.status, table.c.count, table.c.last_at, table.c.key_id)
        .where(table.c.key_id.in_(key_ids), table.c.day >= window_start(days, now).date())
        .order_by(table.c.day, table.c.operation, table.c.status, table.c.key_id)
    ).all()
    return [
        DayCount(day, operation, status, int(count), _as_utc(last_at), key_id)
        for day, operation, status, count, last_at, key_id in rows
    ]


def _as_utc(value: datetime | str) -> datetime:
    # Naive UTC (SQLite's text, or an expression that lost the column type) or an aware datetime.
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
