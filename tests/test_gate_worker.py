"""GateSocket: gunicorn's reads and writes on a non-blocking socket, every wait handed to the worker."""

from __future__ import annotations

import select
import socket
import threading
from collections import deque
from collections.abc import Iterator

import pytest

from app.gate_worker import GateSocket, GateWorker
from app.request_gate import gate


class StubWorker:
    """Records the waits GateSocket asks for; ``ready`` decides whether each one ends in time."""

    def __init__(self, ready: bool = True, on_wait=None) -> None:
        self.ready = ready
        self.on_wait = on_wait
        self.waits: list[int] = []
        self.lingering: list[socket.socket] = []
        self.kept: list[GateSocket] = []

    def wait_for(self, sock: socket.socket, events: int, seconds: float) -> bool:
        self.waits.append(events)
        if self.on_wait is not None:
            self.on_wait()
        return self.ready

    def linger(self, sock: socket.socket) -> None:
        self.lingering.append(sock)

    def keep(self, conn: GateSocket) -> None:
        self.kept.append(conn)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def test_a_read_with_nothing_sent_yet_waits_through_the_worker(pair) -> None:
    ours, theirs = pair
    worker = StubWorker(on_wait=lambda: theirs.sendall(b"GET / HTTP/1.1\r\n"))
    assert GateSocket(ours, worker).recv(1024) == b"GET / HTTP/1.1\r\n"
    assert worker.waits == [select.POLLIN]
    assert ours.getblocking() is False  # the thread itself never blocks on the socket


def test_a_client_silent_too_long_is_treated_as_gone_or_timed_out(pair) -> None:
    ours, _ = pair
    assert GateSocket(ours, StubWorker(ready=False)).recv(1024) == b""  # the parser: "no more data"
    timed = GateSocket(ours, StubWorker(ready=False))
    timed.settimeout(0.5)  # what gunicorn's graceful close asks for
    with pytest.raises(TimeoutError):
        timed.recv(1024)
    never_waits = GateSocket(ours, StubWorker())
    never_waits.setblocking(False)
    with pytest.raises(BlockingIOError):
        never_waits.recv(1024)


def test_a_write_to_a_full_buffer_waits_until_the_client_reads(pair) -> None:
    ours, theirs = pair
    data = bytes(range(256)) * 8192  # 2 MiB: far more than the socket buffers hold
    received = bytearray()

    def client_reads() -> None:
        theirs.setblocking(False)
        try:
            while chunk := theirs.recv(1 << 20):
                received.extend(chunk)
        except BlockingIOError:
            pass

    worker = StubWorker(on_wait=client_reads)
    GateSocket(ours, worker).sendall(data)
    client_reads()
    assert bytes(received) == data
    assert worker.waits and set(worker.waits) == {select.POLLOUT}


def test_a_client_that_stops_reading_ends_the_write_with_a_broken_pipe(pair) -> None:
    ours, _ = pair
    with pytest.raises(BrokenPipeError):
        GateSocket(ours, StubWorker(ready=False)).sendall(b"x" * (4 << 20))


def test_closing_lingers_in_the_worker_while_the_client_has_not_closed(pair) -> None:
    ours, _ = pair
    worker = StubWorker()
    closing = GateSocket(ours, worker)
    closing.shutdown(socket.SHUT_WR)
    with pytest.raises(TimeoutError):  # no waiting for the FIN in the serving thread
        closing.recv(4096)
    closing.close()
    assert worker.lingering == [ours] and worker.waits == []
    assert ours.fileno() != -1  # still open: the worker closes it once the FIN arrives


def test_closing_after_the_client_closed_closes_at_once() -> None:
    ours, theirs = socket.socketpair()
    worker = StubWorker()
    closing = GateSocket(ours, worker)
    theirs.close()
    closing.shutdown(socket.SHUT_WR)
    assert closing.recv(4096) == b""  # the FIN is here already
    closing.close()
    assert worker.lingering == [] and ours.fileno() == -1


def test_wait_for_lets_another_thread_through_the_gate_meanwhile(pair) -> None:
    """The worker's wait leaves the gate: a second thread enters and leaves while it waits."""
    ours, theirs = pair
    worker = GateWorker.__new__(GateWorker)  # only wait_for and notify are used
    worker.notify = lambda: None
    entered = threading.Event()

    def another_request() -> None:
        gate.enter()
        entered.set()
        gate.leave()
        theirs.sendall(b"x")

    gate.enter()
    try:
        thread = threading.Thread(target=another_request)
        thread.start()
        assert worker.wait_for(ours, select.POLLIN, 5) is True
        assert gate.held()
        thread.join(5)
    finally:
        gate.leave()
    assert entered.is_set()
    assert worker.wait_for(ours, select.POLLOUT, 0.1) is True  # writable at once
    quiet, other_end = socket.socketpair()
    with quiet, other_end:
        assert worker.wait_for(quiet, select.POLLIN, 0.2) is False


def test_an_event_for_a_connection_served_meanwhile_is_skipped() -> None:
    """A batch of events can go stale while its thread waits outside the gate: no double serving."""
    import selectors

    from app.gate_worker import _Parked

    worker = GateWorker.__new__(GateWorker)
    worker._selector = selectors.DefaultSelector()
    worker._parked, worker._silent, worker._closing = {}, deque(), deque()
    served: list[object] = []
    worker._handle = lambda listener, sock, addr: served.append(sock)
    ours, theirs = socket.socketpair()
    with ours, theirs, worker._selector:
        parked = _Parked(ours, deadline=1e12, listener=theirs, addr=None)
        worker._park(parked)
        assert worker._resume(parked) is True  # the thread that stood in serves it
        assert worker._resume(parked) is False  # the waiting thread's stale event for it
        assert served == [ours]


def test_the_heartbeat_is_sent_at_most_once_per_interval(monkeypatch) -> None:
    """The loop calls notify on every pass; the arbiter's file is touched once a second at most."""
    import app.gate_worker as gate_worker

    clock = [100.0]
    monkeypatch.setattr(gate_worker.time, "monotonic", lambda: clock[0])
    worker = GateWorker.__new__(GateWorker)
    touched: list[float] = []
    worker.tmp = type("Tmp", (), {"notify": lambda self: touched.append(clock[0])})()
    for step in range(30):  # three seconds of loop passes, 0.1 s apart
        clock[0] = 100.0 + step * 0.1
        worker.notify()
    assert touched == pytest.approx([100.0, 101.0, 102.0])


def test_gunicorns_graceful_close_of_a_kept_connection_keeps_it_open(pair) -> None:
    """util.close_graceful() on a kept-alive connection hands it back, open, for the next request."""
    from gunicorn import util

    ours, theirs = pair
    worker = StubWorker()
    conn = GateSocket(ours, worker)  # type: ignore[arg-type]
    conn.keep_alive = True
    util.close_graceful(conn)
    assert worker.kept == [conn] and worker.lingering == []
    assert conn.keep_alive is False  # one request at a time: the next one decides again
    theirs.sendall(b"next")
    assert ours.recv(4) == b"next"  # neither shut down nor closed
    util.close_graceful(conn)  # not kept this time: shut down, lingering for the FIN
    assert worker.lingering == [ours]
