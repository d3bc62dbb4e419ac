"""Embedded shape under gunicorn (SQLite, memory://, one process with threads, the request gate).

One request at a time runs the application, but waits do not hold the others up: a new key's
bcrypt check and connections that have not sent a request yet leave the gate to the rest.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from app import create_app
from app.extensions import db
from tests.conftest import base_config
from tests.production.conftest import seed_key, server_env
from tests.production.test_cluster import PRODUCTS, get

# bcrypt cost 14 takes about a second here: long enough to send other requests meanwhile.
SLOW_ROUNDS = 14


def slow_key(database_url: str) -> str:
    """A fresh SQLite database with one key hashed at ``SLOW_ROUNDS``; return the key."""
    return seed_key(database_url, create_schema=True, bcrypt_rounds=SLOW_ROUNDS, name="Slow proof")


def test_bcrypt_and_idle_connections_do_not_stall_other_requests(tmp_path: Path, gunicorn):
    """While a new key is proven (bcrypt) and two sockets sit idle, /healthz still answers."""
    database = f"sqlite:///{tmp_path / 'embedded.db'}"
    key = slow_key(database)
    server = gunicorn(server_env(database, "memory://"), workers=1, threads=4)
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(2)]
    try:
        finished: dict[str, float] = {}
        statuses: list[int] = []

        def prove() -> None:
            status, _, _ = get(server.port, PRODUCTS, key, timeout=60)
            statuses.append(status)
            finished["proof"] = time.monotonic()

        proof = threading.Thread(target=prove)
        proof.start()
        time.sleep(0.2)  # the proof is in bcrypt now
        health = [get(server.port, "/healthz")[0] for _ in range(5)]
        finished["health"] = time.monotonic()
        proof.join(timeout=60)
    finally:
        for sock in idle:
            sock.close()
    assert health == [200] * 5
    assert statuses == [200]
    assert finished["health"] < finished["proof"], "health checks waited for bcrypt"


def _embedded(tmp_path: Path, gunicorn, threads: int = 4):
    database = f"sqlite:///{tmp_path / 'embedded.db'}"
    app = create_app(base_config(database))
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    return gunicorn(server_env(database, "memory://"), workers=1, threads=threads)


def _read_response(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (one request per connection)."""
    sock.settimeout(10)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_the_embedded_shape_runs_the_gate_worker(tmp_path: Path, gunicorn):
    """SQLite with threads: app.gate_worker.GateWorker, which keeps connections alive."""
    server = _embedded(tmp_path, gunicorn)
    assert "Using worker: app.gate_worker.GateWorker" in server.output()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        answers = []
        for _ in range(3):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answers.append(_read_one(sock))
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        last = _read_response(sock)  # the server closes after it
    for response in answers:
        assert response.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"\r\nConnection: keep-alive\r\n" in response
        assert response.endswith(b'{"status":"ok"}\n')
    assert b"\r\nConnection: close\r\n" in last and last.endswith(b'{"status":"ok"}\n')


def _read_one(sock: socket.socket) -> bytes:
    """One response (headers and a Content-Length body) from a connection that stays open."""
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536) or _closed()
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")).split(b":")[
            1
        ]
    )
    while len(body) < length:
        body += sock.recv(65536) or _closed()
    return head + b"\r\n\r\n" + body


def _closed() -> bytes:
    raise AssertionError("the server closed the connection")


def test_a_request_with_a_body_or_sent_ahead_closes_the_connection(tmp_path: Path, gunicorn):
    """Keep-alive only when nothing of the request is left to read: a form post closes, and so
    does a request with the next one pipelined behind it (the client sends that one again)."""
    server = _embedded(tmp_path, gunicorn)
    body = b"email=a%40b.c&password=x"
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        headers = f"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
        headers += "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
        sock.sendall(headers.encode() + body)
        posted = _read_response(sock)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 2)
        pipelined = _read_response(sock)
    assert posted.startswith(b"HTTP/1.1 400") and b"\r\nConnection: close\r\n" in posted
    assert pipelined.count(b"HTTP/1.1 200 OK") == 1 and b"\r\nConnection: close\r\n" in pipelined


def test_idle_kept_connections_hold_no_thread_and_are_closed_after_the_keepalive_time(
    tmp_path: Path, gunicorn, monkeypatch
):
    """Twice as many kept-alive connections as threads sit idle: others are served at once;
    after gunicorn's keepalive seconds the server closes them."""
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--keep-alive=1")
    server = _embedded(tmp_path, gunicorn)
    kept = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(8)]
    try:
        for sock in kept:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b"Connection: keep-alive" in _read_one(sock)
        answers = [get(server.port, "/healthz", timeout=3) for _ in range(5)]
        started = time.monotonic()
        closed = [_read_response(sock) for sock in kept]  # EOF: the server closed them
        waited = time.monotonic() - started
    finally:
        for sock in kept:
            sock.close()
    assert [status for status, _, _ in answers] == [200] * 5
    assert max(seconds for _, _, seconds in answers) < 1.0, answers
    assert closed == [b""] * 8
    assert waited < 3, waited


def test_a_client_closing_a_kept_connection_is_no_error(tmp_path: Path, gunicorn):
    """The client hangs up between requests: the server closes its side quietly."""
    server = _embedded(tmp_path, gunicorn)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        _read_one(sock)
    time.sleep(0.2)
    assert get(server.port, "/healthz")[0] == 200
    assert "Traceback" not in server.output() and "Error" not in server.output()


def test_silent_connections_hold_no_thread(tmp_path: Path, gunicorn):
    """Twice as many connections as threads send nothing: each request in between is served at once."""
    server = _embedded(tmp_path, gunicorn)
    silent = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(8)]
    try:
        answers = [get(server.port, "/healthz", timeout=3) for _ in range(5)]
        # A silent connection that finally speaks is served like any other.
        silent[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        late = _read_response(silent[0])
    finally:
        for sock in silent:
            sock.close()
    assert [status for status, _, _ in answers] == [200] * 5
    assert max(seconds for _, _, seconds in answers) < 1.0, answers  # threads would wait up to 5 s
    assert late.startswith(b"HTTP/1.1 200 OK")


def test_half_sent_requests_wait_outside_the_gate(tmp_path: Path, gunicorn):
    """Clients stalled mid-request (one per spare thread) hold no one up; each is answered later."""
    server = _embedded(tmp_path, gunicorn)
    body = b"email=a%40b.c&password=x"
    stalled = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(3)]
    try:
        stalled[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n")  # no blank line yet
        stalled[1].sendall(b"GET /heal")
        headers = f"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
        headers += "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
        stalled[2].sendall(headers.encode() + body[:5])  # the form's body is still on its way
        time.sleep(0.3)  # the server reads what it can and waits for the rest
        answers = [get(server.port, "/healthz", timeout=3) for _ in range(5)]
        stalled[0].sendall(b"\r\n")
        stalled[1].sendall(b"thz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        stalled[2].sendall(body[5:])
        finished = [_read_response(sock) for sock in stalled]
    finally:
        for sock in stalled:
            sock.close()
    assert [status for status, _, _ in answers] == [200] * 5
    assert max(seconds for _, _, seconds in answers) < 1.0, answers
    assert finished[0].startswith(b"HTTP/1.1 200 OK") and finished[1].startswith(b"HTTP/1.1 200 OK")
    # The whole form arrived: a CSRF refusal (no token sent), not a broken or cut-off request.
    assert finished[2].startswith(b"HTTP/1.1 400"), finished[2][:200]
    assert b"expired" in finished[2] or b"CSRF" in finished[2], finished[2][-300:]


def test_the_worker_stops_promptly_with_its_spare_threads_idle(tmp_path: Path, gunicorn):
    """SIGTERM: the serving thread leaves its loop and the spares stop standing by."""
    server = _embedded(tmp_path, gunicorn)
    assert get(server.port, "/healthz")[0] == 200
    started = time.monotonic()
    server.__exit__(None, None, None)
    assert server.process.returncode == 0
    assert time.monotonic() - started < 5
