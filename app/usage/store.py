"""Writing buffered counts into ``key_usage_hourly`` and ``key_usage_daily``: upserts that add,
safe with many writers.

``INSERT ... ON CONFLICT (key_id, hour, operation, status) DO UPDATE SET count = count +
excluded.count`` is atomic per row on PostgreSQL and SQLite (3.24+): two processes flushing
the same cell at once both land, neither overwrites the other. Both tables are written in the
caller's transaction, so the daily roll-up always equals the sum of its hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, func
from sqlalchemy.dialects import postgresql, sqlite

from app.models.usage import KeyUsage, KeyUsageDaily

HOURLY: Table = KeyUsage.__table__  # type: ignore[assignment]
DAILY: Table = KeyUsageDaily.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Cell:
    """What one row of ``key_usage_hourly`` is keyed by."""

    key_id: int
    hour: datetime
    operation: str
    status: int


@dataclass
class Tally:
    """The requests counted in one cell since the last flush, and the latest of them."""

    count: int
    last_at: datetime


def add_counts(connection: Connection, tallies: dict[Cell, Tally]) -> None:
    """Add ``tallies`` to the hourly and the daily rows, creating the rows that do not exist yet."""
    if not tallies:
        return
    hourly = [_row(cell, tally, hour=cell.hour) for cell, tally in tallies.items()]
    days: dict[tuple[int, Any, str, int], dict[str, Any]] = {}
    for cell, tally in tallies.items():
        day = cell.hour.date()
        row = days.get((cell.key_id, day, cell.operation, cell.status))
        if row is None:
            days[cell.key_id, day, cell.operation, cell.status] = _row(cell, tally, day=day)
        else:
            row["count"] += tally.count
            row["last_at"] = max(row["last_at"], tally.last_at)
    connection.execute(_upsert(HOURLY, connection.dialect.name), hourly)
    connection.execute(_upsert(DAILY, connection.dialect.name), list(days.values()))


def _row(cell: Cell, tally: Tally, **when: Any) -> dict[str, Any]:
    return {
        "key_id": cell.key_id,
        **when,
        "operation": cell.operation,
        "status": cell.status,
        "count": tally.count,
        "last_at": tally.last_at,
    }


def _upsert(table: Table, dialect: str) -> Any:
    if dialect == "postgresql":
        insert = postgresql.insert(table)
        latest = func.greatest(table.c.last_at, insert.excluded.last_at)
    elif dialect == "sqlite":
        insert = sqlite.insert(table)
        # SQLite's two-argument max() is the scalar maximum, not the aggregate.
        latest = func.max(table.c.last_at, insert.excluded.last_at)
    else:  # pragma: no cover - init_app accepts only these two
        raise RuntimeError(f"no usage upsert for {dialect}")
    return insert.on_conflict_do_update(
        index_elements=[column.name for column in table.primary_key.columns],
        set_={"count": table.c.count + insert.excluded.count, "last_at": latest},
    )
