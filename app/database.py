"""SQLite engine hooks: per-connection settings, and statements run outside the request gate."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app import (
    models,  # noqa: F401  (register every table on the metadata)
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


def _execute_outside_gate(cursor: Any, statement: str, parameters: Any, _context: Any) -> bool:
    # SQLite runs a statement's heavy part (a count, a scan, a sort, a busy wait) in its first
    # step, inside execute() and without the GIL: other requests may use the gate meanwhile.
    # The rows are fetched back inside the gate, where their cheap steps hand the GIL to no one.
    with gate.outside():
        cursor.execute(statement, parameters)
    return True  # executed: SQLAlchemy must not run it again


def _execute_no_params_outside_gate(cursor: Any, statement: str, _context: Any) -> bool:
    with gate.outside():
        cursor.execute(statement)
    return True


def _executemany_outside_gate(cursor: Any, statement: str, parameters: Any, _context: Any) -> bool:
    with gate.outside():
        cursor.executemany(statement, parameters)
    return True


def init_app(app: Flask) -> None:
    """Install the SQLite hooks on this app's engine (no-op elsewhere)."""
    with app.app_context():
        engine: Engine = db.engine
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "do_execute", _execute_outside_gate)
        event.listen(engine, "do_execute_no_params", _execute_no_params_outside_gate)
        event.listen(engine, "do_executemany", _executemany_outside_gate)
