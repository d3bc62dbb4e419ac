"""Engine options and per-connection settings for the two databases Stockgate runs on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.db import pool_ping


def engine_options(database_url: str) -> dict[str, Any]:
    """SQLAlchemy engine options per database: bounded waits when a server goes away."""
    if database_url.startswith("postgresql"):
        # Never hang a request on an unreachable server: fail fast, answer 503. No
        # pool_pre_ping: app.db.pool_ping pings only connections that sat idle.
        return {"connect_args": {"connect_timeout": 3}, "pool_timeout": 5}
    return {}


def configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """Per-connection SQLite settings: foreign keys on, WAL, and writers that wait for each other."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets API reads go on while the panel writes; the busy timeout makes writers
    # wait for each other instead of failing with "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def install_hooks(engine: Engine) -> None:
    """Attach the per-database connection hooks to ``engine``."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", configure_sqlite)
    elif engine.dialect.name == "postgresql":
        pool_ping.install(engine)
