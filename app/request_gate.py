"""One request at a time in the application, per process; slow waits step outside.

Why: the GIL runs one thread's Python at a time anyway. When several request threads share
it, every call that lets the GIL go -- each SQLite row step, each socket call -- hands it to
another thread and costs two context switches. Measured on the embedded shape (gunicorn,
one process, four threads, SQLite, 2 cores, list of 25 products at 16 connections): 100
context switches per request without the gate, 17 with it, and about 1.3x the requests per
second; the same as one thread (9 switches) within the noise.

The threads are kept for what they are good at, which is waiting:

* a connection that has not sent its request yet is waited for by gunicorn, outside;
* a response is written to the socket after the application returned, outside;
* bcrypt (about 0.25 s at cost 12, without the GIL) runs in ``outside()``, so a new key's
  first request or a panel login does not stall every other request.

What still waits inside: SQLite's busy timeout when another process holds the write lock.

``create_app`` installs the gate for SQLite only. On PostgreSQL each query waits for a
network round trip, which other threads should be free to use; the production shape runs
one thread per process anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class RequestGate:
    """A process-wide lock that one request holds while it runs the application."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holder = threading.local()

    def held(self) -> bool:
        """True when the current thread is inside the gate."""
        return getattr(self._holder, "inside", False)

    def wrap(self, wsgi_app: WsgiApp) -> WsgiApp:
        """Return ``wsgi_app`` behind the gate."""

        def gated(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if self.held():  # an application calling itself in the same thread
                return wsgi_app(environ, start_response)
            with self._lock:
                self._holder.inside = True
                try:
                    # Flask returns a finished response: writing it happens after the gate.
                    return wsgi_app(environ, start_response)
                finally:
                    self._holder.inside = False

        return gated

    @contextmanager
    def outside(self) -> Iterator[None]:
        """Let other requests in while this thread waits without needing the GIL."""
        if not self.held():
            yield
            return
        self._holder.inside = False
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()
            self._holder.inside = True


gate = RequestGate()
