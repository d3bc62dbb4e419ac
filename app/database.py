"""Engine hooks: SQLite's per-connection settings and slow statements outside the request gate;
PostgreSQL's ping of connections that sat idle (``app.pool_ping``)."""

from __future__ import annotations

from collections.abc import Callable
from time import thread_time
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app import (
    models,  # noqa: F401  (register every table on the metadata)
    pool_ping,
    row_counts,  # noqa: F401  (the DDL events of the counted tables)
)
from app.extensions import db
from app.request_gate import gate


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets API reads go on while the panel writes; the busy timeout makes writers
    # wait for each other instead of failing with "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# A read whose execute() has so far taken less than this runs inside the gate: releasing the
# gate costs two or three thread switches, more than such a statement takes (a key lookup or a
# page of 25 rows: 20-50 us). Measured on the embedded list of 25 products at 16 connections:
# 29 voluntary context switches per request with every statement outside, 17 with quick reads
# inside, and 1.55 -> 1.37 ms of CPU per request.
QUICK_READ_SECONDS = 0.0002
_MAX_TRACKED_STATEMENTS = 2_000
# Typical execute() time per SELECT text (a moving average of this thread's CPU time: wall time
# would count the wait for the GIL after SQLite hands it back, which other threads' work sets).
# Statements are built once per shape with bound parameters, so the texts are few; the cap
# only guards against surprises.
_typical_seconds: dict[str, float] = {}


def _execute_outside_gate_unless_quick(statement: str, execute: Callable[[], object]) -> None:
    """Run ``execute`` outside the request gate, unless ``statement`` is a read known to be quick.

    SQLite runs a statement's heavy part (a count, a scan, a sort, a busy wait for a writer)
    inside execute() and without the GIL, so other requests may use the gate meanwhile. The
    rows are fetched back inside the gate. Writes always run outside: they may wait for another
    process's write lock (busy_timeout).
    """
    if not statement.startswith("SELECT"):
        with gate.outside():
            execute()
        return
    typical = _typical_seconds.get(statement)
    started = thread_time()
    if typical is not None and typical < QUICK_READ_SECONDS:
        execute()
        elapsed = thread_time() - started
    else:
        with gate.outside():
            started = thread_time()
            execute()
            elapsed = thread_time() - started
    if typical is None:
        if len(_typical_seconds) >= _MAX_TRACKED_STATEMENTS:
            _typical_seconds.clear()
        _typical_seconds[statement] = elapsed
    else:
        _typical_seconds[statement] = typical + (elapsed - typical) / 8


def _do_execute(cursor: Any, statement: str, parameters: Any, _context: Any) -> bool:
    _execute_outside_gate_unless_quick(statement, lambda: cursor.execute(statement, parameters))
    return True  # executed: SQLAlchemy must not run it again


def _do_execute_no_params(cursor: Any, statement: str, _context: Any) -> bool:
    _execute_outside_gate_unless_quick(statement, lambda: cursor.execute(statement))
    return True


def _do_executemany(cursor: Any, statement: str, parameters: Any, _context: Any) -> bool:
    with gate.outside():
        cursor.executemany(statement, parameters)
    return True


def init_app(app: Flask) -> None:
    """Install the hooks for this app's engine: SQLite's, or PostgreSQL's idle ping."""
    with app.app_context():
        engine: Engine = db.engine
    if engine.dialect.name == "postgresql":
        pool_ping.install(engine)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "do_execute", _do_execute)
        event.listen(engine, "do_execute_no_params", _do_execute_no_params)
        event.listen(engine, "do_executemany", _do_executemany)
