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
from app.accounts import create_user
from app.catalogue import ALL_ABILITIES
from app.extensions import db
from app.keys import service as keys_service
from tests.conftest import base_config
from tests.production.conftest import server_env
from tests.production.test_cluster import PRODUCTS, get

# bcrypt cost 14 takes about a second here: long enough to send other requests meanwhile.
SLOW_ROUNDS = 14


def slow_key(database_url: str) -> str:
    """A fresh SQLite database with one key hashed at ``SLOW_ROUNDS``; return the key."""
    app = create_app({**base_config(database_url), "API_KEY_BCRYPT_ROUNDS": SLOW_ROUNDS})
    with app.app_context():
        db.create_all()
        create_user("sync@example.com", "Amazon SP-API sync", is_system=True)
        raw = keys_service.create_key(
            owner="sync@example.com", name="Slow proof", abilities=list(ALL_ABILITIES)
        ).raw_key
        db.engine.dispose()
    return raw


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
