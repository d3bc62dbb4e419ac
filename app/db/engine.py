"""Engine options and per-connection settings for the two databases Stockgate runs on."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


def engine_options(database_url: str) -> dict[str, Any]:
    """SQLAlchemy engine options per database: bounded waits when a server goes away."""
    if database_url.startswith("postgresql"):
        # Never hang a request on an unreachable server: fail fast, answer 503. A pooled
        # connection the server dropped (a restart, a failover, a proxy's idle timeout) is
        # replaced before use: SQLAlchemy's pre-ping, about a cheap round trip a request
        # (docs/decisions/008-speed-code.md).
        return {"connect_args": {"connect_timeout": 3}, "pool_timeout": 5, "pool_pre_ping": True}
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


def private_sqlite_file(engine: Engine) -> None:
    """Have ``engine``'s SQLite file created with mode 0600 (owner only) before SQLite opens it.

    SQLite would create it with the umask's mode (usually world-readable) and gives its -wal
    and -shm files the database file's mode, so creating the empty file first covers all three
    with no moment where they are readable by others. An existing file is left as it is.
    """
    path = engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return

    def create(*_args: Any) -> None:
        # Any failure (say, a missing directory) is left for SQLite to report in its own words.
        with contextlib.suppress(OSError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))

    event.listen(engine, "do_connect", create)


def install_hooks(engine: Engine) -> None:
    """Attach the per-database connection hooks to ``engine``."""
    if engine.dialect.name == "sqlite":
        private_sqlite_file(engine)
        event.listen(engine, "connect", configure_sqlite)
