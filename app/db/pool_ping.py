"""PostgreSQL: ping a pooled connection before use only when it has sat idle, not on every request.

SQLAlchemy's ``pool_pre_ping`` sends ``SELECT 1`` on every checkout, which is every request:
one more round trip each (docs/decisions/008-speed-code.md).

A connection in steady use has just proven itself alive. One that sat in the pool for
``IDLE_SECONDS`` or more may have been cut meanwhile (a server restart, a failover, a proxy's
idle timeout), so it is pinged first, and a dead one is replaced before the request uses it:
raising ``DisconnectionError`` from the pool's checkout event makes SQLAlchemy discard the
connection and check out a fresh one (its documented protocol for custom pings).

If the server goes away while connections are in steady use, a request that meets a dead
connection fails with 503 -- as it would under ``pool_pre_ping``, which only checks at
checkout -- and SQLAlchemy then invalidates the whole pool, so the next request reconnects.
Recovery needs no restart either way (tests/serving/test_cluster.py).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

IDLE_SECONDS = 1.0
_CHECKED_IN_AT = "stockgate_checked_in_at"


def install(engine: Engine) -> None:
    """Ping this engine's connections at checkout once they have been idle ``IDLE_SECONDS``."""
    dialect = engine.dialect

    def note_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is None:  # just connected: nothing to doubt yet
            return
        if time.monotonic() - checked_in_at < IDLE_SECONDS:
            return
        # The dialect's own ping (what pool_pre_ping runs). A connection whose ping fails in any
        # way is not worth keeping: the pool replaces it, and if the server is down the new
        # connection's error is what the request answers (503).
        try:
            alive = dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"connection failed its ping after idling: {exc}") from exc
        if not alive:
            raise DisconnectionError("connection was closed while idle in the pool")

    event.listen(engine, "checkin", note_checkin)
    event.listen(engine, "checkout", ping_if_idle)
