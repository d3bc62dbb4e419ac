"""Exact row counts of the module tables, kept by database triggers, for list totals.

Every list answers ``meta.total``. Unfiltered, that is ``COUNT(*)`` over the whole table,
which PostgreSQL can only compute by reading it: at 100,000 products, 8-12 ms of server
time on every ``GET /api/v1/products``, which cut the production shape's throughput to
0.04-0.08x of ``/healthz`` in ``make bench``. So each module table gets statement-level
triggers (with transition tables: a bulk insert of a million rows is one trigger run, not a
million) that record how many rows each statement added or removed, in the same
transaction: the total is exact, never an estimate. Filtered lists (``q``,
``updated_since``) still count their matches.

``row_counts`` holds *deltas*, one row per writing statement, and the total is their sum.
A single counter row per table was tried first and rejected: every writer to a table then
holds that row's lock until it commits (writers queue, and two transactions touching two
tables in opposite orders deadlock), and a transaction making N single-row inserts leaves
N versions of the one row, which every later update walks: seeding 165,000 inventory rows
ran for over 13 minutes instead of one. Appending a delta row locks nothing anyone else
wants. Folding deltas inside the writer's transaction was tried next and rejected for the
same reason (its own deleted rows pile up in the index until it commits). So writers only
append, and the API folds: at most every ``FOLD_INTERVAL`` seconds per table and process,
a list request folds the table's committed deltas into one row in a short transaction of
its own (``fold_if_due``; ``FOR UPDATE SKIP LOCKED``, so folds never wait for each other),
and a reader sums a handful of rows through an index.

A data load that bypasses triggers (``session_replication_role = replica``) must call
``SELECT row_counts_refresh()`` afterwards.

SQLite has no statement-level triggers, but it has one writer at a time and updates rows in
place, so neither objection above applies to it: each counted table gets one counter row,
kept by row-level triggers (``SQLITE_TABLE_STATEMENTS``). ``COUNT(*)`` over 100,000 products
cost 0.6 ms of CPU per list request there, nearly half of the request; each written row now
pays about 15 us (a bulk seed of 171,526 rows: 3.7 -> 6.2 s). Both databases read
the same ``COALESCE((SELECT SUM(delta) ...), (SELECT COUNT(*) ...))``, which counts only
when a table has no counter row.

``create_all`` builds all this through the DDL events below; migrations ``d4a1c9e7b2f0``
(PostgreSQL) and ``e2b8c4d6f1a3`` (SQLite) build it for deployed databases (and env.py keeps
autogenerate away from ``row_counts``).
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import DDL, Table, column, event, table, text
from sqlalchemy.exc import SQLAlchemyError

from app.catalogue import MODULES
from app.extensions import db

log = logging.getLogger(__name__)

ROW_COUNTS_TABLE = "row_counts"
# A lightweight handle for queries: the table is DDL-managed, not a model.
row_counts = table(ROW_COUNTS_TABLE, column("table_name"), column("delta"))
# A table's deltas are folded into one row at most this often per process (seconds).
FOLD_INTERVAL = 10.0

CREATE_STATEMENTS = (
    "CREATE TABLE IF NOT EXISTS row_counts "
    "(id bigserial PRIMARY KEY, table_name text NOT NULL, delta bigint NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_row_counts_table_name ON row_counts (table_name) INCLUDE (delta)",
    # Record one statement's change: an append, which locks nothing others need.
    "CREATE OR REPLACE FUNCTION row_counts_add(counted text, change bigint) RETURNS void "
    "LANGUAGE plpgsql AS $$ BEGIN IF change <> 0 THEN "
    "INSERT INTO row_counts (table_name, delta) VALUES (counted, change); END IF; END $$",
    # Fold a table's committed deltas into one row (run in a short transaction of its own).
    "CREATE OR REPLACE FUNCTION row_counts_fold(counted text) RETURNS void "
    "LANGUAGE plpgsql AS $$ BEGIN "
    "IF (SELECT count(*) FROM row_counts WHERE table_name = counted) > 1 THEN "
    "WITH folded AS (DELETE FROM row_counts WHERE id IN (SELECT id FROM row_counts "
    "WHERE table_name = counted FOR UPDATE SKIP LOCKED) RETURNING delta) "
    "INSERT INTO row_counts (table_name, delta) SELECT counted, sum(delta) FROM folded "
    "HAVING count(*) > 0; END IF; END $$",
    "CREATE OR REPLACE FUNCTION row_counts_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN PERFORM row_counts_add(TG_TABLE_NAME, (SELECT count(*) FROM inserted_rows)); "
    "RETURN NULL; END $$",
    "CREATE OR REPLACE FUNCTION row_counts_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN PERFORM row_counts_add(TG_TABLE_NAME, -(SELECT count(*) FROM deleted_rows)); "
    "RETURN NULL; END $$",
    "CREATE OR REPLACE FUNCTION row_counts_after_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN DELETE FROM row_counts WHERE table_name = TG_TABLE_NAME; "
    "INSERT INTO row_counts (table_name, delta) VALUES (TG_TABLE_NAME, 0); RETURN NULL; END $$",
    # Recount every counted table (after a load that bypassed the triggers).
    "CREATE OR REPLACE FUNCTION row_counts_refresh() RETURNS void LANGUAGE plpgsql AS $$ "
    "DECLARE counted text; BEGIN FOR counted IN SELECT DISTINCT table_name FROM row_counts LOOP "
    "DELETE FROM row_counts WHERE table_name = counted; "
    "EXECUTE format('INSERT INTO row_counts (table_name, delta) SELECT %%L, count(*) FROM %%I', "
    "counted, counted); END LOOP; END $$",
)
# Per table; %(table)s is filled in by DDL. The first row is counted under the lock that
# CREATE TRIGGER takes, so no write slips between the count and the triggers.
TABLE_STATEMENTS = (
    "CREATE TRIGGER %(table)s_count_insert AFTER INSERT ON %(table)s "
    "REFERENCING NEW TABLE AS inserted_rows FOR EACH STATEMENT EXECUTE FUNCTION row_counts_after_insert()",
    "CREATE TRIGGER %(table)s_count_delete AFTER DELETE ON %(table)s "
    "REFERENCING OLD TABLE AS deleted_rows FOR EACH STATEMENT EXECUTE FUNCTION row_counts_after_delete()",
    "CREATE TRIGGER %(table)s_count_truncate AFTER TRUNCATE ON %(table)s "
    "FOR EACH STATEMENT EXECUTE FUNCTION row_counts_after_truncate()",
    "DELETE FROM row_counts WHERE table_name = '%(table)s'",
    "INSERT INTO row_counts (table_name, delta) SELECT '%(table)s', count(*) FROM %(table)s",
)
DROP_STATEMENTS = (
    "DROP TABLE IF EXISTS row_counts",
    "DROP FUNCTION IF EXISTS row_counts_after_insert, row_counts_after_delete, "
    "row_counts_after_truncate, row_counts_refresh, row_counts_add, row_counts_fold",
)


# SQLite: one counter row per table, changed by each inserted or deleted row.
SQLITE_CREATE_STATEMENTS = (
    "CREATE TABLE IF NOT EXISTS row_counts "
    "(id INTEGER PRIMARY KEY, table_name TEXT NOT NULL, delta INTEGER NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS ix_row_counts_table_name ON row_counts (table_name)",
)
SQLITE_TABLE_STATEMENTS = (
    "CREATE TRIGGER %(table)s_count_insert AFTER INSERT ON %(table)s BEGIN "
    "UPDATE row_counts SET delta = delta + 1 WHERE table_name = '%(table)s'; END",
    "CREATE TRIGGER %(table)s_count_delete AFTER DELETE ON %(table)s BEGIN "
    "UPDATE row_counts SET delta = delta - 1 WHERE table_name = '%(table)s'; END",
    "DELETE FROM row_counts WHERE table_name = '%(table)s'",
    "INSERT INTO row_counts (table_name, delta) SELECT '%(table)s', count(*) FROM %(table)s",
)
SQLITE_DROP_STATEMENTS = ("DROP TABLE IF EXISTS row_counts",)


# Folds one table's deltas (``row_counts_fold``); bind ``t`` to the table's name.
FOLD = text("SELECT row_counts_fold(:t)")

_last_folds: dict[str, float] = {}
_folds_lock = threading.Lock()


def fold_if_due(table_name: str) -> None:
    """Fold ``table_name``'s deltas into one row if this process has not done so lately."""
    now = time.monotonic()
    with _folds_lock:
        if now - _last_folds.get(table_name, float("-inf")) < FOLD_INTERVAL:
            return
        _last_folds[table_name] = now
    # Its own short transaction: the API request itself reads in autocommit, and a fold
    # must never sit inside a long one (its deleted rows would linger until commit). The
    # answer is already read: a failed fold is logged, and the next one catches up.
    try:
        with db.engine.begin() as connection:
            connection.execute(FOLD, {"t": table_name})
    except SQLAlchemyError:
        log.warning("Could not fold the row counts of %s; will retry", table_name, exc_info=True)


def counted_tables() -> list[Table]:
    """The tables whose rows are counted: one per catalogue module."""
    return [module.model.__table__ for module in MODULES if module.model is not None]


for _dialect, _create, _per_table, _drop in (
    ("postgresql", CREATE_STATEMENTS, TABLE_STATEMENTS, DROP_STATEMENTS),
    ("sqlite", SQLITE_CREATE_STATEMENTS, SQLITE_TABLE_STATEMENTS, SQLITE_DROP_STATEMENTS),
):
    for _statement in _create:
        event.listen(db.metadata, "before_create", DDL(_statement).execute_if(dialect=_dialect))
    for _table in counted_tables():
        for _statement in _per_table:
            event.listen(_table, "after_create", DDL(_statement).execute_if(dialect=_dialect))
    for _statement in _drop:
        event.listen(db.metadata, "after_drop", DDL(_statement).execute_if(dialect=_dialect))
