"""The embedded server's gunicorn worker: one thread serves, spare threads stand in while it waits.

Why: in the embedded shape (one process, SQLite) the request gate (``app.request_gate``) lets
one request at a time run the app, so what threads buy is waiting, not parallel work. Yet
gunicorn's threaded worker passes every request between threads -- the main loop to a pool
thread, back to the main loop -- and each pass is a thread switch. Measured on the list of 25
products at 16 connections (2 cores): 21 voluntary context switches and 2.1-2.7 ms of CPU per
request on the threaded worker, 0.2-0.6 switches and 1.2 ms on this one, which matches
gunicorn's single-threaded sync worker (0.2 switches, 1.2 ms). p99 fell from 62-67 ms to
24-26 ms in the same runs (on a machine running slow that day).

How: the thread that holds the gate runs the loop -- accept a connection, read its request,
run the app, write the answer, close -- so a request is never handed from thread to thread.
When that thread has to wait, it leaves the gate and a spare thread carries on with the loop:

* bcrypt and slow SQLite statements already wait in ``gate.outside()``;
* a client that has not finished sending its request, or reads the answer slowly, is waited
  for in ``gate.outside()`` too (``GateSocket``), at most ``CLIENT_WAIT_SECONDS`` per read or
  write;
* a connection that has sent nothing yet, one kept alive between two requests, and one being
  closed (waiting for the client's FIN, RFC 9112 section 9.6), is parked in the loop's selector
  and holds no thread.

When its wait is over, the thread queues for the gate and wakes the loop, which lets it in at
the next request boundary; the thread that stood in goes back to standing by. ``threads`` is
how many waits can overlap. No TLS: terminate it in a proxy in front.

HTTP keep-alive (gunicorn's ``keepalive`` seconds, 5 in gunicorn.conf.py) after a request with
no body and nothing sent ahead of its answer: the next request then starts with the next byte
the socket receives, so the kept connection waits in the selector like a new one. A form post
or pipelined requests get ``Connection: close``, as from gunicorn's sync worker (a client sends
an unanswered pipelined request again). Measured on the list of 25 products at 16 connections,
6 alternating rounds: 783 against 758 req/s, 1.28 against 1.32 ms of CPU per request.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import selectors
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gunicorn import util
from gunicorn.errors import ConfigError
from gunicorn.http import wsgi
from gunicorn.http.body import LengthReader
from gunicorn.workers.sync import SyncWorker

from app.request_gate import gate

# How long a client in the middle of a request may keep us waiting for each read or write.
CLIENT_WAIT_SECONDS = 10.0
# How long a new connection may stay silent (gunicorn's threaded worker allows the same 5 s).
FIRST_BYTES_SECONDS = 5.0
# How long a closed connection lingers for the client's FIN (gunicorn's close_graceful: 2 s).
CLOSE_LINGER_SECONDS = 2.0
# How often the worker tells the arbiter it is alive. gunicorn's heartbeat is a utime() on a
# temp file, checked against ``timeout`` (30 s); once per loop pass it cost 1% of a request.
HEARTBEAT_SECONDS = 1.0
_DRAIN_LIMIT = 65536
_LISTENER = "listener"
_WAKE = "wake"


@dataclass(eq=False)
class _Parked:
    """A connection the loop watches without a thread: silent so far, or being closed."""

    sock: socket.socket
    deadline: float
    listener: socket.socket | None = None  # None: closing
    addr: Any = None
    drained: int = 0
    kept: GateSocket | None = None  # between two requests of a kept-alive connection


class GateSocket:
    """A client socket for gunicorn's parser and response: non-blocking, waits outside the gate."""

    def __init__(self, sock: socket.socket, worker: GateWorker) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._worker = worker
        self._timeout: float | None = None  # what gunicorn asked for with settimeout()
        self._closing = False
        self._eof = False
        self.keep_alive = False  # set per request by GateWorker.handle_request
        self.origin: tuple[Any, Any] = (None, None)  # the listener and client address

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def fileno(self) -> int:
        """The socket's file descriptor."""
        return self._sock.fileno()

    def settimeout(self, value: float | None) -> None:
        """Remember the timeout gunicorn wants; the socket itself stays non-blocking."""
        self._timeout = value

    def gettimeout(self) -> float | None:
        """The timeout last set with ``settimeout``."""
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        """Blocking means: wait (outside the gate) up to the client limit."""
        self._timeout = None if flag else 0.0

    def recv(self, size: int) -> bytes:
        """Read what the client sent, waiting outside the gate when nothing has arrived yet."""
        while True:
            try:
                data = self._sock.recv(size)
            except BlockingIOError:
                if self._closing:  # the loop lingers for the FIN instead (close)
                    raise TimeoutError("nothing more to read now") from None
                if self._timeout == 0:
                    raise
                if self._worker.wait_for(self._sock, select.POLLIN, self._limit()):
                    continue
                if self._timeout is not None:
                    raise TimeoutError("timed out") from None
                return b""  # silent for too long: treated as gone
            self._eof = not data
            return data

    def send(self, data: bytes | memoryview) -> int:
        """Write what the socket takes now, waiting outside the gate while its buffer is full."""
        while True:
            try:
                return self._sock.send(data)
            except BlockingIOError:
                if self._timeout == 0:
                    raise
                if not self._worker.wait_for(self._sock, select.POLLOUT, self._limit()):
                    raise BrokenPipeError(errno.EPIPE, "the client stopped reading") from None

    def sendall(self, data: bytes | memoryview) -> None:
        """Write all of ``data``."""
        view = memoryview(data)
        while view:
            view = view[self.send(view) :]

    def shutdown(self, how: int) -> None:
        """Half-close; after the write side is shut, reads no longer wait."""
        if self.keep_alive:
            # gunicorn's close_graceful() starts with this shutdown and, when it fails, goes
            # straight to close(): which keeps the connection for its next request.
            raise OSError(errno.EISCONN, "kept alive for the next request")
        if how in (socket.SHUT_WR, socket.SHUT_RDWR):
            self._closing = True
        self._sock.shutdown(how)

    def close(self) -> None:
        """Close now, keep for the next request, or linger for the client's FIN (no thread held)."""
        if self.keep_alive:
            self.keep_alive = False
            self._worker.keep(self)
        elif self._closing and not self._eof:
            self._worker.linger(self._sock)
        else:
            self._sock.close()

    def _limit(self) -> float:
        return CLIENT_WAIT_SECONDS if self._timeout is None else self._timeout


class GateWorker(SyncWorker):
    """gunicorn's sync worker, run by whichever thread holds the request gate (see module doc)."""

    _next_heartbeat = 0.0

    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        """Refuse settings this worker cannot serve."""
        if cfg.is_ssl:
            raise ConfigError("GateWorker does not serve TLS: terminate TLS in a proxy in front")

    def run(self) -> None:
        """Serve until told to stop: this thread first, the spare threads standing by."""
        for listener in self.sockets:
            listener.setblocking(False)
        self.cfg.set("sendfile", False)  # file bodies go through GateSocket.send too
        self._spares = threading.Semaphore(0)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector = selectors.DefaultSelector()
        for listener in self.sockets:
            self._selector.register(listener, selectors.EVENT_READ, _LISTENER)
        self._selector.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        self._selector.register(self.PIPE[0], selectors.EVENT_READ, _WAKE)  # signals
        self._parked: dict[int, _Parked] = {}
        # Oldest first, one queue per wait (so deadlines are in order); served ones are skipped.
        self._silent: deque[_Parked] = deque()
        self._closing: deque[_Parked] = deque()
        self._kept: deque[_Parked] = deque()
        gate.scheduler = self
        spares = [
            threading.Thread(target=self._serve, args=(False,), name=f"gate-spare-{n}", daemon=True)
            for n in range(1, max(self.cfg.threads, 1))
        ]
        for thread in spares:
            thread.start()
        try:
            self._serve(leading=True)
        finally:
            self.alive = False
            for _ in spares:
                self._spares.release()
            deadline = time.monotonic() + self.cfg.graceful_timeout
            for thread in spares:
                thread.join(max(deadline - time.monotonic(), 0))
            gate.scheduler = None
            for parked in list(self._parked.values()):
                self._unpark(parked)
                parked.sock.close()

    def notify(self) -> None:
        """Tell the arbiter this worker is alive, at most once per ``HEARTBEAT_SECONDS``."""
        now = time.monotonic()
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + HEARTBEAT_SECONDS
            super().notify()

    # --- the gate's scheduler -----------------------------------------------------------------

    def queued(self) -> None:
        """A thread is back from a wait: wake the loop so it lets the thread in."""
        with contextlib.suppress(BlockingIOError):  # a full pipe holds wake-ups already
            os.write(self._wake_w, b"\0")

    def left_to_wait(self, handed_over: bool) -> None:
        """The serving thread has to wait: unless a queued thread took over, wake a spare."""
        if not handed_over:
            self._spares.release()

    # --- threads ----------------------------------------------------------------------------

    def _serve(self, leading: bool) -> None:
        while self.alive:
            if not leading and not self._spares.acquire(timeout=1.0):
                continue
            leading = False
            if not self.alive:
                break
            gate.enter()
            try:
                self._loop()
            finally:
                gate.leave()
        self._spares.release()  # stopping: pass the word on to the next spare

    def _loop(self) -> None:
        """Serve connections while this thread holds the gate and nobody queued for it."""
        timeout = 0.0
        while self.alive and not gate.waiting():
            self.notify()
            served = False
            for key, _ in self._selector.select(timeout):
                if key.data is _WAKE:
                    _drain_pipe(key.fd)
                elif key.data is _LISTENER:
                    served = self._accept(key.fileobj) or served
                else:
                    served = self._resume(key.data) or served
            self._expire_parked()
            if served:
                timeout = 0.0
            else:  # idle: a good moment for the checks a busy loop can skip
                timeout = self._idle_timeout()
                if not self.is_parent_alive():
                    self.alive = False

    def wait_for(self, sock: socket.socket, events: int, seconds: float) -> bool:
        """Wait outside the gate until ``sock`` is ready for ``events``; False after ``seconds``."""
        with gate.outside():
            poller = select.poll()
            poller.register(sock, events)
            deadline = time.monotonic() + seconds
            while (remaining := deadline - time.monotonic()) > 0:
                if poller.poll(min(remaining, 1.0) * 1000):
                    return True
                self.notify()  # alive, only waiting for a slow client
            return False

    # --- connections ------------------------------------------------------------------------

    def _accept(self, listener: Any) -> bool:
        try:
            client, addr = listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return False
            raise
        util.close_on_exec(client)
        client.setblocking(False)
        if _has_bytes(client):
            self._handle(listener, client, addr)
        else:
            self._park(_Parked(client, time.monotonic() + FIRST_BYTES_SECONDS, listener, addr))
        return True

    def _handle(self, listener: Any, client: socket.socket | GateSocket, addr: Any) -> None:
        # SyncWorker.handle parses, runs the app, writes the answer and closes (gracefully), or
        # keeps the connection for its next request (GateSocket.close).
        conn = client if isinstance(client, GateSocket) else GateSocket(client, self)
        self.handle(listener, conn, addr)

    def handle_request(self, listener: Any, req: Any, client: GateSocket, addr: Any) -> None:
        """gunicorn's SyncWorker.handle_request, with HTTP keep-alive where it is safe."""
        # A copy of gunicorn 27.0.1's (pinned), changed where it forced every connection closed.
        environ: dict[str, Any] = {}
        resp = None
        try:
            self.cfg.pre_request(self, req)
            request_start = datetime.now()
            resp, environ = wsgi.create(req, client, addr, listener.getsockname(), self.cfg)
            client.keep_alive = self._may_keep(req)
            client.origin = (listener, addr)
            if not client.keep_alive:
                resp.force_close()
            self.nr += 1
            if self.nr >= self.max_requests:
                self.log.info("Autorestarting worker after current request.")
                self.alive = False
            respiter = self.wsgi(environ, resp.start_response)
            try:
                if isinstance(respiter, environ["wsgi.file_wrapper"]):
                    resp.write_file(respiter)
                else:
                    for item in respiter:
                        resp.write(item)
                resp.close()
            finally:
                request_time = datetime.now() - request_start
                self.log.access(resp, req, environ, request_time)
                if hasattr(respiter, "close"):
                    respiter.close()
            client.keep_alive = client.keep_alive and self.alive and not resp.should_close()
        except OSError:
            client.keep_alive = False
            raise
        except (Exception, SystemExit):
            client.keep_alive = False
            if resp and resp.headers_sent:
                # As gunicorn: writing a 500 after the headers went out would corrupt the answer.
                self.log.exception("Error handling request")
                util.close_graceful(client)
                raise StopIteration() from None
            raise
        finally:
            try:
                self.cfg.post_request(self, req, environ, resp)
            except Exception:
                self.log.exception("Exception in post_request hook")

    def _may_keep(self, req: Any) -> bool:
        """Keep the connection after this request? Only when nothing of it is left to read."""
        if not (self.alive and self.cfg.keepalive) or len(self._parked) >= self.cfg.worker_connections:
            return False
        # No body (GET, HEAD) and nothing sent ahead: the next request starts with the next byte
        # the socket receives, so the connection can wait in the selector like a new one.
        body = req.body.reader
        return isinstance(body, LengthReader) and body.length == 0 and not req.unreader.buf.getbuffer().nbytes

    def keep(self, conn: GateSocket) -> None:
        """Wait in the selector, no thread held, for the connection's next request."""
        sock = conn._sock
        listener, addr = conn.origin
        self._park(_Parked(sock, time.monotonic() + self.cfg.keepalive, listener, addr, kept=conn))

    def linger(self, sock: socket.socket) -> None:
        """Watch a half-closed connection until the client's FIN arrives, then close it."""
        parked = _Parked(sock, time.monotonic() + CLOSE_LINGER_SECONDS)
        if _drained(parked):
            sock.close()
        else:
            self._park(parked)

    def _park(self, parked: _Parked) -> None:
        self._parked[parked.sock.fileno()] = parked
        if parked.kept is not None:
            self._kept.append(parked)
        else:
            (self._silent if parked.listener is not None else self._closing).append(parked)
        self._selector.register(parked.sock, selectors.EVENT_READ, parked)

    def _unpark(self, parked: _Parked) -> None:
        self._selector.unregister(parked.sock)
        del self._parked[parked.sock.fileno()]

    def _resume(self, parked: _Parked) -> bool:
        if self._parked.get(parked.sock.fileno()) is not parked:
            # A stale event: this thread left the gate to wait while handling an earlier event
            # of the same batch, and the thread that stood in served this connection meanwhile.
            return False
        if parked.kept is not None:  # kept alive: its next request (or its close) has come
            self._unpark(parked)
            self._handle(parked.listener, parked.kept, parked.addr)
            return True
        if parked.listener is None:  # closing: read what is left, close at EOF
            if _drained(parked):
                self._unpark(parked)
                parked.sock.close()
            return False
        self._unpark(parked)
        self._handle(parked.listener, parked.sock, parked.addr)
        return True

    def _expire_parked(self) -> None:
        now = time.monotonic()
        for queue in (self._silent, self._closing, self._kept):
            while queue:
                parked = queue[0]
                if self._parked.get(parked.sock.fileno()) is not parked:
                    queue.popleft()  # served or closed already
                elif parked.deadline <= now:
                    queue.popleft()
                    self._unpark(parked)
                    parked.sock.close()
                else:
                    break

    def _idle_timeout(self) -> float:
        deadlines = [queue[0].deadline for queue in (self._silent, self._closing, self._kept) if queue]
        if not deadlines:
            return 1.0
        return min(max(min(deadlines) - time.monotonic(), 0.0), 1.0)


def _has_bytes(sock: socket.socket) -> bool:
    """True when the client has sent something (or closed, or failed): handle it now."""
    try:
        sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return False
    except OSError:
        return True  # reset: the handler meets the error and closes
    return True


def _drained(parked: _Parked) -> bool:
    """Read what the client still sends; True once it closed, failed, or sent too much."""
    while parked.drained < _DRAIN_LIMIT:
        try:
            data = parked.sock.recv(4096)
        except BlockingIOError:
            return False
        except OSError:
            return True
        if not data:
            return True
        parked.drained += len(data)
    return True


def _drain_pipe(fd: int) -> None:
    with contextlib.suppress(BlockingIOError):
        os.read(fd, 4096)
