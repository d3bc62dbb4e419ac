"""Writing buffered counts into ``key_usage_hourly``: an upsert that adds, safe with many writers.

``INSERT ... ON CONFLICT (key_id, hour, operation, status) DO UPDATE SET count = count +
excluded.count`` is atomic per row on PostgreSQL and SQLite (3.24+): two processes flushing
the same cell at once both land, neither overwrites the other.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func
from sqlalchemy.dialects import postgresql, sqlite

from app.models.usage import KeyUsage
from app.usage.buffer import Cell, Tally

_TABLE = KeyUsage.__table__
_PRIMARY_KEY = [column.name for column in _TABLE.primary_key.columns]


def add_counts(connection: Connection, tallies: dict[Cell, Tally]) -> None:
    """Add ``tallies`` to the hourly rows, creating the rows that do not exist yet."""
    if not tallies:
        return
    rows = [
        {
            "key_id": cell.key_id,
            "hour": cell.hour,
            "operation": cell.operation,
            "status": cell.status,
            "count": tally.count,
            "last_at": tally.last_at,
        }
        for cell, tally in tallies.items()
    ]
    connection.execute(_upsert(connection.dialect.name), rows)


def _upsert(dialect: str) -> Any:
    if dialect == "postgresql":
        insert = postgresql.insert(_TABLE)
        latest = func.greatest(_TABLE.c.last_at, insert.excluded.last_at)
    elif dialect == "sqlite":
        insert = sqlite.insert(_TABLE)
        # SQLite's two-argument max() is the scalar maximum, not the aggregate.
        latest = func.max(_TABLE.c.last_at, insert.excluded.last_at)
    else:  # pragma: no cover - init_app accepts only these two
        raise RuntimeError(f"no usage upsert for {dialect}")
    return insert.on_conflict_do_update(
        index_elements=_PRIMARY_KEY,
        set_={"count": _TABLE.c.count + insert.excluded.count, "last_at": latest},
    )
