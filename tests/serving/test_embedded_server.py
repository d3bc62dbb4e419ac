"""The embedded default as ``make run`` serves it: waitress as it ships, one process, SQLite.

Served directly, with no proxy in front, it stays responsive while clients are slow to send
and while a new key is proven (bcrypt). gunicorn's sync worker, served the same way, does not.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from bench.harness import ROOT, WAITRESS, Server
from tests.serving.conftest import seed_key, server_env
from tests.serving.slow_clients import healthz_seconds, slow_clients
from tests.serving.test_cluster import PRODUCTS, get

# bcrypt cost 14 takes about a second here: long enough to send other requests meanwhile.
SLOW_ROUNDS = 14


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh SQLite file with the schema and one key (cheap bcrypt), for this module."""
    url = f"sqlite:///{tmp_path_factory.mktemp('embedded') / 'embedded.db'}"
    seed_key(url, create_schema=True)
    return url


@pytest.fixture(scope="module")
def embedded(database: str) -> Iterator[Server]:
    """``make run``'s server: waitress-serve with its defaults, on a seeded SQLite file.

    One per module: its tests only read (a test may add a key of its own).
    """
    with Server(server_env(database, "memory://"), kind=WAITRESS) as server:
        yield server


def test_healthz_answers_within_a_second_while_16_clients_dribble_request_heads(embedded):
    """16 connections each send a request head one byte a second: /healthz still answers at once."""
    with slow_clients(embedded.port, count=16):
        answered = [healthz_seconds(embedded.port) for _ in range(5)]
    assert max(answered) < 1, answered


def test_a_new_keys_bcrypt_check_does_not_stall_other_requests(database, embedded):
    """While a new key is proven (bcrypt, about a second), /healthz answers from another thread."""
    key = seed_key(database, bcrypt_rounds=SLOW_ROUNDS, name="Slow proof")
    finished: dict[str, float] = {}
    statuses: list[int] = []

    def prove() -> None:
        statuses.append(get(embedded.port, PRODUCTS, key, timeout=60)[0])
        finished["proof"] = time.monotonic()

    proof = threading.Thread(target=prove)
    proof.start()
    time.sleep(0.2)  # the proof is in bcrypt now
    answered = [healthz_seconds(embedded.port) for _ in range(5)]
    finished["health"] = time.monotonic()
    proof.join(timeout=60)
    assert statuses == [200]
    assert max(answered) < 1, answered
    assert finished["health"] < finished["proof"], "health checks waited for bcrypt"


def test_gunicorns_sync_worker_without_a_proxy_stalls_behind_slow_clients(database):
    """The reason production puts nginx in front: a sync worker reads a slow client's head itself."""
    with (
        Server(server_env(database, "memory://"), workers=1, threads=1) as server,
        slow_clients(server.port, count=16),
        pytest.raises(TimeoutError),
    ):
        healthz_seconds(server.port, timeout=1.5)


def test_importing_wsgi_for_a_flask_command_leaves_signals_as_python_has_them(database):
    """Only the served entry point takes SIGTERM and SIGINT over; ``flask`` commands import wsgi.py."""
    show = (
        "import signal\n"
        "handlers = lambda: [signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)]\n"
        "before = handlers()\n"
        "import wsgi\n"
        "print('unchanged' if handlers() == before else f'changed: {before} -> {handlers()}')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", show],
        cwd=ROOT,
        env=server_env(database, "memory://"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "unchanged", result.stderr
