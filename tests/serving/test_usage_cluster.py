"""Usage counting under real servers (SPEC §13): exact across 4 gunicorn workers with Redis,
nothing lost on a graceful restart or stop (waitress too, on Ctrl-C or SIGTERM), and flushed
on its own every few seconds."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.harness import WAITRESS, Server
from tests.serving.conftest import seed_key, server_env
from tests.serving.test_cluster import PRODUCTS, burst, get


def counted(database_url: str) -> Counter[tuple[str, int]]:
    """What ``key_usage_hourly`` holds, summed per (operation, status)."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT operation, status, SUM(count) FROM key_usage_hourly GROUP BY operation, status")
        ).all()
    engine.dispose()
    return Counter({(operation, status): int(total) for operation, status, total in rows})


def mixed_requests(port: int, key: str) -> Counter[tuple[str, int]]:
    """40 requests with every outcome but 429; return what the server answered, per operation."""
    answered: Counter[tuple[str, int]] = Counter()
    for status in burst(port, key, 25):
        answered["products:list", status] += 1
    for _ in range(5):
        answered["products:show", get(port, "/api/v1/products/999999", key)[0]] += 1  # 404
    for _ in range(5):
        answered["brands:list", get(port, "/api/v1/brands", key)[0]] += 1  # 403: not granted
    for _ in range(3):
        answered["products:list", get(port, f"{PRODUCTS}&sort=nope", key)[0]] += 1  # 400
    for _ in range(2):
        answered["key", get(port, "/api/v1/key", key)[0]] += 1
    return answered


def wait_for(condition, seconds: float = 15) -> bool:
    """Poll ``condition`` until it is true or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def test_four_workers_count_every_request_exactly(pg_url, shared_redis_url, gunicorn):
    """40 requests spread over 4 workers: 40 counted, per operation and status, after a stop."""
    key = seed_key(pg_url, abilities=["products:list", "products:show"], rate_limit=10_000)
    env = {**server_env(pg_url, shared_redis_url), "USAGE_FLUSH_SECONDS": "3600"}
    server = gunicorn(env, workers=4)
    answered = mixed_requests(server.port, key)
    assert sum(answered.values()) == 40
    assert answered["brands:list", 403] == 5 and answered["products:show", 404] == 5
    server.__exit__(None, None, None)  # SIGTERM: a graceful stop
    assert counted(pg_url) == answered
    assert "Traceback" not in server.output()


def test_a_graceful_worker_restart_loses_nothing(pg_url, shared_redis_url, gunicorn):
    """SIGHUP replaces every worker; the old ones write their counts as they exit (no timer)."""
    key = seed_key(pg_url, abilities=["products:list"], rate_limit=10_000)
    env = {**server_env(pg_url, shared_redis_url), "USAGE_FLUSH_SECONDS": "3600"}
    server = gunicorn(env, workers=4)
    old_workers = set(server.worker_pids())
    assert burst(server.port, key, 40) == [200] * 40
    assert counted(pg_url) == Counter()  # still buffered in the workers
    assert server.process is not None
    server.process.send_signal(signal.SIGHUP)
    assert wait_for(lambda: len(set(server.worker_pids()) - old_workers) == 4)
    assert wait_for(lambda: counted(pg_url) == Counter({("products:list", 200): 40}))
    assert get(server.port, PRODUCTS, key)[0] == 200  # the new workers serve and count on
    server.__exit__(None, None, None)
    assert counted(pg_url) == Counter({("products:list", 200): 41})


def test_counts_reach_the_database_within_the_flush_interval(pg_url, shared_redis_url, gunicorn):
    """With USAGE_FLUSH_SECONDS=1 each worker's scheduler writes its counts while it keeps running."""
    key = seed_key(pg_url, abilities=["products:list"], rate_limit=10_000)
    env = {**server_env(pg_url, shared_redis_url), "USAGE_FLUSH_SECONDS": "1"}
    server = gunicorn(env, workers=2)
    assert burst(server.port, key, 20) == [200] * 20
    assert wait_for(lambda: counted(pg_url) == Counter({("products:list", 200): 20}), seconds=10)


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """Within: children start with SIGINT ignored, as a shell leaves a job it starts with ``&``."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def count_then_stop_waitress(tmp_path: Path, stop: signal.Signals, *, background: bool = False) -> None:
    """Serve 12 counted requests with `make run`'s waitress, send ``stop``: all 12 are written.

    Nothing here waits on a clock: the server answers /healthz only once its handlers are in
    place (``wsgi.served_app`` installs them before waitress listens), each count is buffered
    before its answer is sent, and the counts are read once the process has exited. The
    deadlines are only there to fail a hung server, and are generous for a busy machine.
    """
    database_url = f"sqlite:///{tmp_path / 'usage.db'}"
    key = seed_key(database_url, create_schema=True, abilities=["products:list"], rate_limit=10_000)
    # No timer flush: only the stop can write the counts.
    env = {**server_env(database_url, "memory://"), "USAGE_FLUSH_SECONDS": "3600"}
    with sigint_ignored() if background else nullcontext():
        server = Server(env, kind=WAITRESS).__enter__()
    try:
        for _ in range(12):
            assert get(server.port, PRODUCTS, key, timeout=60)[0] == 200
        assert counted(database_url) == Counter()  # still buffered in the server
        assert server.process is not None
        server.process.send_signal(stop)
        try:
            server.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"waitress did not stop on {stop.name}: {server.output()[-2000:]}") from None
        assert counted(database_url) == Counter({("products:list", 200): 12}), server.output()[-2000:]
        assert server.process.returncode == 0, server.output()[-2000:]
    finally:
        server.__exit__(None, None, None)


def test_waitress_writes_its_counts_when_stopped_with_ctrl_c(tmp_path):
    """The embedded server (`make run`): Ctrl-C (SIGINT) is a graceful stop; nothing is lost."""
    count_then_stop_waitress(tmp_path, signal.SIGINT)


def test_waitress_writes_its_counts_when_stopped_with_sigterm(tmp_path):
    """systemd, Docker and Kubernetes stop with SIGTERM: as graceful as Ctrl-C, nothing is lost."""
    count_then_stop_waitress(tmp_path, signal.SIGTERM)


def test_waitress_started_in_the_background_still_stops_on_ctrl_c(tmp_path):
    """`make test &` (or `make run &`) from a script starts waitress with SIGINT ignored: still clean."""
    count_then_stop_waitress(tmp_path, signal.SIGINT, background=True)
