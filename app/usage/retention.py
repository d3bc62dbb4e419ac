"""Retention of usage counts (SPEC §13): hourly rows kept ``USAGE_HOURLY_DAYS`` (default 90),
daily rows ``USAGE_DAILY_DAYS`` (default 730); older rows are deleted so the tables stop growing.

Deletes go in bounded batches (``BATCH_SIZE`` rows a statement, each statement its own short
transaction), so a prune never holds SQLite's write lock, or many PostgreSQL row locks, for
long. The periodic flush runs at most ``FLUSH_STATEMENTS`` of them, so it stays short and a
backlog (a first upgrade, a lowered setting) drains over a few flushes; ``flask usage prune``
loops until nothing is left. Before each batch a read (an index probe on ``hour`` / ``day``)
checks that an old row exists, so a flush with nothing to delete takes no write lock at all.

The SQL differs per database: SQLite deletes by ``rowid``, PostgreSQL by ``ctid`` and skips
rows another worker's prune has locked (``FOR UPDATE SKIP LOCKED``), so two workers pruning at
once split the work instead of waiting for each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Executable,
    Table,
    bindparam,
    delete,
    func,
    literal,
    literal_column,
    select,
)

from app.models.usage import KeyUsage, KeyUsageDaily

BATCH_SIZE = 5000
# Statements one periodic flush may run: at most 20,000 rows, a fraction of a second.
FLUSH_STATEMENTS = 4

HOURLY: Table = KeyUsage.__table__  # type: ignore[assignment]
DAILY: Table = KeyUsageDaily.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Retention:
    """How long each table keeps its rows, in days (``USAGE_HOURLY_DAYS``, ``USAGE_DAILY_DAYS``,
    read and checked by ``app.config``)."""

    hourly_days: int
    daily_days: int

    def cutoffs(self, now: datetime | None = None) -> list[tuple[Column[Any], datetime | date]]:
        """(column, cutoff) per table: rows whose column is before the cutoff are expired."""
        now = (now or datetime.now(UTC)).astimezone(UTC)
        return [
            (HOURLY.c.hour, now - timedelta(days=self.hourly_days)),
            (DAILY.c.day, (now - timedelta(days=self.daily_days)).date()),
        ]


def prune(
    engine: Engine,
    retention: Retention,
    *,
    batch_size: int = BATCH_SIZE,
    max_statements: int | None = None,
    now: datetime | None = None,
) -> int:
    """Delete the expired rows of both tables, ``batch_size`` at most per statement, and stop
    after ``max_statements`` deletes (None: when none is left). Returns the rows deleted."""
    deleted = 0
    statements = 0
    for column, cutoff in retention.cutoffs(now):
        while max_statements is None or statements < max_statements:
            if not _any_before(engine, column, cutoff):
                break
            with engine.begin() as connection:
                count = connection.execute(
                    _delete(column, engine.dialect.name), {"cutoff": cutoff, "batch": batch_size}
                )
            statements += 1
            deleted += max(count.rowcount, 0)
    return deleted


def _any_before(engine: Engine, column: Column[Any], cutoff: datetime | date) -> bool:
    probe = select(literal(1)).select_from(column.table).where(column < cutoff).limit(1)
    with engine.connect() as connection:
        return connection.execute(probe).first() is not None


def _delete(column: Column[Any], dialect: str) -> Executable:
    """One bounded delete of rows whose ``column`` is before ``:cutoff``, ``:batch`` at most."""
    table = column.table
    old = column < bindparam("cutoff", type_=column.type)
    if dialect == "postgresql":
        # ctid = ANY(ARRAY(...)) is a TID scan over the rows the index found.
        ctid = literal_column("ctid")
        rows = select(ctid).select_from(table).where(old).limit(bindparam("batch"))
        rows = rows.with_for_update(skip_locked=True)
        return delete(table).where(ctid == func.any(func.array(rows.scalar_subquery())))
    if dialect == "sqlite":
        # SQLite's DELETE ... LIMIT needs a compile option most builds lack: select the rowids.
        rowid = literal_column("rowid")
        rows = select(rowid).select_from(table).where(old).limit(bindparam("batch"))
        return delete(table).where(rowid.in_(rows.scalar_subquery()))
    raise RuntimeError(f"no usage prune for {dialect}")  # pragma: no cover - only these two run
