"""Usage insight (SPEC §13): every API request of an identified key, counted per key x
operation x status code x UTC hour, with no database write per request.

* ``count`` (called by the API guard's response hook) adds one to an in-process
  buffer (``app.usage.counting``): a dictionary update under a lock, about a microsecond.
* ``flush`` drains the buffer into ``key_usage_hourly`` with an upsert that adds
  (``app.usage.store``), so every process of a deployment writes its own counts and the
  totals stay exact across workers, with or without Redis.
* Flushes happen every ``USAGE_FLUSH_SECONDS`` (default 10) on APScheduler's background
  scheduler, started in each process when it first counts (after gunicorn forks its workers);
  on graceful shutdown (gunicorn's ``worker_exit`` hook, and ``atexit`` for waitress's Ctrl-C or SIGTERM);
  and before this process reads usage (the key's page, the CLI), so its own counts are never
  behind. ``USAGE_FLUSH_SECONDS=0`` turns the scheduler off (the tests flush explicitly).
* Retention (``app.usage.retention``): each periodic flush also deletes a few bounded batches
  of rows older than ``USAGE_HOURLY_DAYS`` / ``USAGE_DAILY_DAYS``; ``flask usage prune`` deletes
  them all. The flushes before a read and at shutdown do not prune: they stay as short as can be.
* A flush that fails (database down or locked) gives the counts back to the buffer and the
  next flush retries. What a crash (SIGKILL, power loss) can lose: the counts since the last
  flush of that process, at most ``USAGE_FLUSH_SECONDS`` of its requests.
"""

from __future__ import annotations

import weakref

from flask import Flask

from app.usage.counting import (
    EXTENSION_NAME,
    Usage,
    buffer_of,
    count,
    flush,
    operation_of,
    periodic_flush,
    prune,
)
from app.usage.retention import Retention


def init_app(app: Flask) -> None:
    """Give the app its usage counting; a process's flush scheduler starts with its first count.

    Reads ``USAGE_FLUSH_SECONDS``, ``USAGE_HOURLY_DAYS`` and ``USAGE_DAILY_DAYS``.
    """
    kept = Retention(app.config["USAGE_HOURLY_DAYS"], app.config["USAGE_DAILY_DAYS"])
    app.extensions[EXTENSION_NAME] = Usage(app.config["USAGE_FLUSH_SECONDS"], weakref.ref(app), kept)


__all__ = ["buffer_of", "count", "flush", "init_app", "operation_of", "periodic_flush", "prune"]
