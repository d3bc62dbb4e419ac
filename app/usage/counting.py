"""Counting API requests for usage insight (SPEC §13): the per-process buffer and its flushes.

``count`` adds one answer to this process's buffer (a dictionary update under a lock); ``flush``
drains it into ``key_usage_hourly`` with an adding upsert (``app.usage.store``), so every process
writes its own counts and the totals stay exact across workers. A process's buffer and its flush
scheduler are created on its first count, after gunicorn forks its workers.
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
from app.usage.retention import Retention
from app.usage.store import Cell, Tally, add_counts

EXTENSION_NAME = "stockgate.usage"

log = logging.getLogger(__name__)


class UsageBuffer:
    """Counts per cell since the last drain, safe to share between a process's threads.

    The lock only guards a dictionary update (about a microsecond): requests never wait on a
    flush, which swaps the dictionary out and writes it without holding the lock.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tallies: dict[Cell, Tally] = {}

    def add(self, cell: Cell, at: datetime, count: int = 1) -> None:
        """Count ``count`` requests in ``cell``, the latest at ``at``."""
        with self.lock:
            tally = self.tallies.get(cell)
            if tally is None:
                self.tallies[cell] = Tally(count, at)
            else:
                tally.count += count
                tally.last_at = max(tally.last_at, at)

    def drain(self) -> dict[Cell, Tally]:
        """Take every count out of the buffer (the caller writes them or gives them back)."""
        with self.lock:
            tallies, self.tallies = self.tallies, {}
        return tallies

    def give_back(self, tallies: dict[Cell, Tally]) -> None:
        """Return counts a flush could not write, so the next flush writes them."""
        for cell, tally in tallies.items():
            self.add(cell, tally.last_at, tally.count)

    def __len__(self) -> int:
        return len(self.tallies)


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
