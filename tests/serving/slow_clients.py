"""Slow clients: connections that send a request head one byte a second, and a timed /healthz."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator

# Long enough that no dribbler finishes its head within the seconds it runs.
HEAD = b"GET /healthz HTTP/1.1\r\nHost: stockgate.example\r\nUser-Agent: " + b"s" * 64 + b"\r\n\r\n"


def dribble(port: int, stop: threading.Event, seconds: float) -> None:
    """Send ``HEAD`` one byte a second for at most ``seconds``, then hang up."""
    deadline = time.monotonic() + seconds
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for byte in HEAD:
            sock.sendall(bytes([byte]))
            if stop.wait(1) or time.monotonic() > deadline:
                return


@contextlib.contextmanager
def slow_clients(port: int, count: int = 16, seconds: float = 8) -> Iterator[None]:
    """``count`` connections dribbling request heads to ``port``; they stop on exit or by themselves."""
    stop = threading.Event()
    threads = [threading.Thread(target=dribble, args=(port, stop, seconds)) for _ in range(count)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)  # every dribbler connected and sent a byte or two
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=seconds + 5)


def healthz_seconds(port: int, timeout: float = 5) -> float:
    """Seconds a fresh connection takes to get /healthz answered 200 (TimeoutError past ``timeout``)."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        assert (response.status, json.loads(response.read())) == (200, {"status": "ok"})
    finally:
        conn.close()
    return time.monotonic() - started
