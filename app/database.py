"""Per-connection database settings: SQLite gets foreign keys, WAL and a busy timeout."""

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


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets API reads go on while the panel writes; the busy timeout makes writers
    # wait for each other instead of failing with "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def init_app(app: Flask) -> None:
    """Install the SQLite connection hook on this app's engine (no-op elsewhere)."""
    with app.app_context():
        engine: Engine = db.engine
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
