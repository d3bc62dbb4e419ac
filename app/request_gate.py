"""One request at a time runs the application in a process; waits happen outside.

Why: the GIL runs one thread's Python at a time anyway. When several request threads share
it, every call that lets the GIL go -- each SQLite row step, each socket call -- hands it to
another thread at the cost of two context switches. Measured on the embedded shape (gunicorn,
one process, four threads, SQLite, list of 25 products at 16 connections, 2 cores): 100
context switches per request without the gate and 22 with it; CPU per request 5.1-5.7 ms
before and 3.5-4.4 ms after on a slow day; one thread alone measured the same as the gate,
within the noise.

The threads are kept for what they are good at, which is waiting. These waits happen
outside the gate:

* gunicorn waits for a connection that has not sent its request yet;
* the response is written to the socket after the application has returned;
* bcrypt (about 0.25 s at cost 12, without the GIL) runs in ``outside()``, so a new key's
  first request or a panel login does not stall every other request;
* SQLite statements that are slow, and every write (``app.database``): SQLite does a
  statement's heavy part in execute() without the GIL -- a count over 100,000 rows, a search
  scan, a sort, or a busy wait for another process's write lock. Without this, the gate made
  the 100,000-product list slower (0.22-0.26x of /healthz, against 0.26-0.30x with no gate
  and 0.28-0.32x now). Reads known to be quick stay inside: leaving and re-entering costs
  more thread switches than they take.

Under gunicorn, the embedded shape runs ``app.gate_worker.GateWorker``: there the thread that
holds the gate also reads requests and writes answers, so a request passes between no threads
at all, and ``outside()`` (through ``RequestGate.scheduler``) wakes a spare thread to carry on
serving while the holder waits. Under other servers (gunicorn's threaded worker, the tests'
threads) the gate is taken per request by ``wrap``.

``create_app`` installs the gate for SQLite only. On PostgreSQL every query waits for a
network round trip, which other threads should be free to use; the production shape runs
one thread per process anyway.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class GateScheduler(Protocol):
    """What a server that runs its own loop inside the gate (``app.gate_worker``) is told."""

    def queued(self) -> None:
        """A thread has queued for the gate: the holder should let it in soon."""

    def left_to_wait(self, handed_over: bool) -> None:
        """The holder left to wait (``outside()``); ``handed_over`` if a queued thread got the gate."""


class RequestGate:
    """A process-wide, first-come-first-served lock that one request holds while it runs the app.

    Fair, not a plain ``threading.Lock``: a released plain lock goes to whichever thread asks
    first, usually the one that just let it go (``outside()`` gives the gate back and asks for it
    again within microseconds), while woken waiters find it taken and sleep again. Handing the
    gate to the longest waiter instead measured, on the embedded list of 25 products at 16
    connections: p99 22.2-24.0 ms against 24.9-29.8 ms, at the same or better throughput.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()  # guards _busy and _queue
        self._busy = False
        self._queue: deque[threading.Lock] = deque()  # one locked "turn" per waiting thread
        self._holder = threading.local()
        # Set by a server whose threads hold the gate while they wait for work (app.gate_worker).
        self.scheduler: GateScheduler | None = None

    def held(self) -> bool:
        """True when the current thread is inside the gate."""
        return getattr(self._holder, "inside", False)

    def waiting(self) -> int:
        """How many threads are queued for the gate."""
        with self._mutex:
            return len(self._queue)

    def enter(self) -> None:
        """Take the gate for the current thread, behind the threads that queued before it."""
        with self._mutex:
            if not self._busy:
                self._busy = True
                turn = None
            else:
                turn = threading.Lock()
                turn.acquire()
                self._queue.append(turn)
        if turn is not None:
            if self.scheduler is not None:
                self.scheduler.queued()
            turn.acquire()  # leave() releases it: the gate is handed over and stays busy
            # (no race: a turn released before this acquire simply does not block)
        self._holder.inside = True

    def leave(self) -> bool:
        """Hand the gate to the longest waiter (True) or, with nobody queued, free it (False)."""
        self._holder.inside = False
        with self._mutex:
            if self._queue:
                self._queue.popleft().release()
                return True
            self._busy = False
            return False

    def wrap(self, wsgi_app: WsgiApp) -> WsgiApp:
        """Return ``wsgi_app`` behind the gate."""

        def gated(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if self.held():  # the server already holds it, or the app calls itself
                return wsgi_app(environ, start_response)
            self.enter()
            try:
                # Flask returns a finished response: writing it happens after the gate.
                return wsgi_app(environ, start_response)
            finally:
                self.leave()

        return gated

    @contextmanager
    def outside(self) -> Iterator[None]:
        """Let other requests in while this thread waits without needing the GIL."""
        if not self.held():
            yield
            return
        handed_over = self.leave()
        if self.scheduler is not None:
            self.scheduler.left_to_wait(handed_over)
        try:
            yield
        finally:
            self.enter()  # behind the requests that queued meanwhile


gate = RequestGate()
