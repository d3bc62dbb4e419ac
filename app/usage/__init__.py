"""Usage insight (SPEC §13): every API request of an identified key, counted per key x
operation x status code x UTC hour, with no database write per request.

* ``count`` (called by the API guard's response hook) adds one to an in-process
  buffer (``app.usage.buffer``): a dictionary update under a lock, about a microsecond.
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

import atexit
import logging
import os
import threading
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask, current_app

from app.catalogue import ENDPOINT_ABILITIES, KEY_ONLY_ENDPOINTS
from app.extensions import db
from app.models.usage import KEY_OPERATION, OTHER_OPERATION
from app.usage import retention
from app.usage.buffer import Cell, UsageBuffer
from app.usage.retention import Retention
from app.usage.store import add_counts

EXTENSION_NAME = "stockgate.usage"

log = logging.getLogger(__name__)


@dataclass
class ProcessUsage:
    """One process's buffer and flush scheduler."""

    buffer: UsageBuffer = field(default_factory=UsageBuffer)
    scheduler: BackgroundScheduler | None = None
    start_lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Usage:
    """The app's usage counting: its settings, and the state of each process that counts.

    State is per process id: gunicorn forks its workers from a preloaded app, and a child must
    not write the parent's counts nor expect the parent's scheduler thread (threads do not
    survive a fork). ``dict.setdefault`` is atomic, so two first requests of a threaded worker
    agree on one state.
    """

    interval: int
    # Weak: the scheduler's job and ``atexit`` must not keep an app (a test's) alive.
    app_ref: weakref.ref[Flask]
    retention: Retention
    processes: dict[int, ProcessUsage] = field(default_factory=dict)


def init_app(app: Flask) -> None:
    """Give the app its usage counting; a process's flush scheduler starts with its first count.

    Reads ``USAGE_FLUSH_SECONDS``, ``USAGE_HOURLY_DAYS`` and ``USAGE_DAILY_DAYS``.
    """
    kept = Retention(app.config["USAGE_HOURLY_DAYS"], app.config["USAGE_DAILY_DAYS"])
    app.extensions[EXTENSION_NAME] = Usage(app.config["USAGE_FLUSH_SECONDS"], weakref.ref(app), kept)


def buffer_of(app: Flask) -> UsageBuffer:
    """This process's buffer of not yet written counts for ``app``."""
    return _process(app.extensions[EXTENSION_NAME], start=False).buffer


def operation_of(endpoint: str | None) -> str:
    """The operation a request to ``endpoint`` counts under: its ability, ``key`` or ``other``."""
    if endpoint in KEY_ONLY_ENDPOINTS:
        return KEY_OPERATION
    return ENDPOINT_ABILITIES.get(endpoint or "", OTHER_OPERATION)


def count(key_id: int, operation: str, status: int) -> None:
    """Count one answer to key ``key_id`` for ``operation`` with ``status`` in this UTC hour."""
    now = datetime.now(UTC)
    cell = Cell(key_id, now.replace(minute=0, second=0, microsecond=0), operation, status)
    _process(current_app.extensions[EXTENSION_NAME]).buffer.add(cell, now)


def flush(app: Flask | None = None) -> int:
    """Write this process's buffered counts to the database; return how many rows were written.

    On a database error the counts go back to the buffer for the next flush, and the error is
    logged, not raised: losing the database must not fail the request or the shutdown.
    """
    settings: Usage = (app or current_app).extensions[EXTENSION_NAME]
    app = settings.app_ref()
    if app is None:
        return 0
    state = _process(settings, start=False)
    tallies = state.buffer.drain()
    if not tallies:
        return 0
    try:
        with app.app_context(), db.engine.begin() as connection:
            add_counts(connection, tallies)
    except Exception:
        state.buffer.give_back(tallies)
        log.exception("usage flush failed; %d counts kept for the next flush", len(tallies))
        return 0
    return len(tallies)


def prune(
    app: Flask | None = None,
    *,
    max_statements: int | None = None,
    batch_size: int | None = None,
    now: datetime | None = None,
) -> int:
    """Delete usage rows older than the app's retention, in bounded batches; return how many.

    ``max_statements``: stop after that many deletes (the periodic flush's share); None: go on
    until none is left (``flask usage prune``). ``batch_size``: rows per delete (default
    ``retention.BATCH_SIZE``). Database errors are raised to the caller.
    """
    settings: Usage = (app or current_app).extensions[EXTENSION_NAME]
    app = settings.app_ref()
    if app is None:
        return 0
    with app.app_context():
        return retention.prune(
            db.engine,
            settings.retention,
            batch_size=batch_size or retention.BATCH_SIZE,
            max_statements=max_statements,
            now=now,
        )


def _process(settings: Usage, *, start: bool = True) -> ProcessUsage:
    """This process's state, created on first use and, when ``start``, its scheduler started."""
    pid = os.getpid()
    state = settings.processes.get(pid)
    if state is None:
        state = settings.processes.setdefault(pid, ProcessUsage())
    if start and settings.interval and state.scheduler is None:
        _start_scheduler(settings, state)
    return state


def _start_scheduler(settings: Usage, state: ProcessUsage) -> None:
    with state.start_lock:
        if state.scheduler is not None:
            return
        scheduler = BackgroundScheduler(daemon=True, timezone=UTC)
        scheduler.add_job(
            _periodic_ref,
            "interval",
            args=[settings.app_ref],
            seconds=settings.interval,
            id="usage-flush",
            # A slow flush is never run twice at once, and missed runs collapse into one.
            max_instances=1,
            coalesce=True,
        )
        scheduler.start()
        state.scheduler = scheduler
        atexit.register(_flush_ref, settings.app_ref)


def _flush_ref(app_ref: weakref.ref[Flask]) -> None:
    app = app_ref()
    if app is not None:
        flush(app)


def periodic_flush(app: Flask) -> int:
    """The scheduler's job: write this process's counts, then delete at most
    ``retention.FLUSH_STATEMENTS`` batches of expired rows; return how many rows were deleted.

    A failed prune is logged, not raised: the next flush tries again.
    """
    flush(app)
    try:
        return prune(app, max_statements=retention.FLUSH_STATEMENTS)
    except Exception:
        log.exception("usage prune failed")
        return 0


def _periodic_ref(app_ref: weakref.ref[Flask]) -> None:
    app = app_ref()
    if app is not None:
        periodic_flush(app)
