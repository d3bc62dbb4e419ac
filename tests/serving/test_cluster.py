"""Production shape: PostgreSQL + Redis under several gunicorn workers (stock sync workers).

Limits stay exact across workers, revocation reaches every worker on the next request,
and the faults we plan for (Redis stopped, database unreachable, SQLite write contention)
give bounded 503 JSON answers -- never a 500, never a hang -- and recover without a restart.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.harness import BIN, ROOT, WAITRESS, Server
from tests.serving.conftest import seed_key, server_env
from tests.serving.tcp_proxy import TcpProxy

PRODUCTS = "/api/v1/products?per_page=5"


def get(port: int, path: str, key: str | None = None, timeout: float = 10) -> tuple[int, dict, float]:
    """One GET on a new connection: (status, JSON body, seconds)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.monotonic()
    conn.request("GET", path, headers={"X-API-Key": key} if key else {})
    response = conn.getresponse()
    body = response.read()
    elapsed = time.monotonic() - started
    conn.close()
    assert response.getheader("Content-Type", "").startswith("application/json"), body[:200]
    return response.status, json.loads(body), elapsed


def burst(port: int, key: str, count: int, path: str = PRODUCTS) -> list[int]:
    """Send ``count`` requests at once from many threads; return their statuses."""
    with ThreadPoolExecutor(max_workers=32) as pool:
        return [status for status, _, _ in pool.map(lambda _: get(port, path, key), range(count))]


def flask_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a ``flask`` command against ``database_url`` in its own process."""
    env = {**server_env(database_url, "memory://"), "FLASK_APP": "wsgi.py"}
    return subprocess.run(
        [str(BIN / "flask"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_limit_is_exact_across_four_workers(pg_url, shared_redis_url, gunicorn):
    """3 x N concurrent requests with one key limited to N/min: exactly N succeed."""
    limit = 20
    key = seed_key(pg_url, rate_limit=limit)
    server = gunicorn(server_env(pg_url, shared_redis_url), workers=4)
    assert len(server.worker_pids()) == 4
    statuses = burst(server.port, key, 3 * limit)
    assert statuses.count(200) == limit
    assert statuses.count(429) == 2 * limit
    assert "Traceback" not in server.output()


def test_revocation_reaches_every_worker_on_the_next_request(pg_url, shared_redis_url, gunicorn):
    """Once every worker has proven the key, a CLI revocation is seen by all of them at once."""
    key = seed_key(pg_url, rate_limit=100_000)
    server = gunicorn(server_env(pg_url, shared_redis_url), workers=4)
    assert burst(server.port, key, 80) == [200] * 80  # spread over every worker's cache
    result = flask_cli(pg_url, "keys", "revoke", key[:12])
    assert result.returncode == 0, result.stderr
    after = [get(server.port, PRODUCTS, key) for _ in range(40)]
    assert {status for status, _, _ in after} == {401}
    assert {body["error"]["code"] for _, body, _ in after} == {"key_revoked"}


def test_redis_stopped_fails_closed_and_recovers(pg_url, private_redis, gunicorn):
    """Redis down: 503 JSON within a bounded time, /readyz not ready; shared limits back after."""
    key = seed_key(pg_url, rate_limit=5)
    server = gunicorn(server_env(pg_url, private_redis.url), workers=2)
    assert [get(server.port, PRODUCTS, key)[0] for _ in range(2)] == [200, 200]

    private_redis.stop()
    for _ in range(6):
        status, body, elapsed = get(server.port, PRODUCTS, key)
        assert status == 503
        assert body["error"]["code"] == "service_unavailable"
        assert elapsed < 3
    assert get(server.port, "/readyz")[0] == 503

    private_redis.start()  # a fresh, empty Redis: counting starts again, shared by both workers
    deadline = time.monotonic() + 10
    while get(server.port, "/readyz")[0] != 200:
        assert time.monotonic() < deadline, "not ready again after Redis returned"
        time.sleep(0.2)
    statuses = burst(server.port, key, 12)
    assert statuses.count(200) == 5 and statuses.count(429) == 7
    assert "Traceback" not in server.output()


def test_database_unreachable_gives_503_and_recovers_without_restart(pg_url, shared_redis_url, gunicorn):
    """PostgreSQL cut off (through a proxy we control): 503 JSON, not ready; then back to 200."""
    key = seed_key(pg_url, rate_limit=100_000)
    url = make_url(pg_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    try:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        server = gunicorn(server_env(proxied, shared_redis_url), workers=2)
        assert burst(server.port, key, 8) == [200] * 8

        proxy.down()
        for _ in range(6):
            status, body, elapsed = get(server.port, PRODUCTS, key)
            assert status == 503, body
            assert body["error"]["code"] == "service_unavailable"
            assert elapsed < 8
        assert get(server.port, "/readyz")[0] == 503
        assert get(server.port, "/healthz")[0] == 200  # alive, just not ready

        proxy.up()
        deadline = time.monotonic() + 15
        while get(server.port, PRODUCTS, key)[0] != 200:
            assert time.monotonic() < deadline, "API did not recover after the database returned"
            time.sleep(0.2)
        assert burst(server.port, key, 8) == [200] * 8
        assert get(server.port, "/readyz")[0] == 200
        assert "Traceback" not in server.output()
    finally:
        proxy.close()


WRITER = """
import sys, time
from app import create_app
from app.keys import service
app = create_app({"API_KEY_BCRYPT_ROUNDS": 4})
deadline = time.monotonic() + float(sys.argv[1])
count = 0
with app.app_context():
    while time.monotonic() < deadline:
        created = service.create_key(
            name=f"writer {count}", owner="sync@example.com", abilities=["products:list"], actor="tests"
        )
        service.deactivate_key(created.key.prefix, actor="tests")
        service.activate_key(created.key.prefix, actor="tests")
        count += 1
print(count)
"""


def test_sqlite_under_concurrent_writes_and_api_reads_never_locks(tmp_path: Path):
    """Keys created and switched in another process while make run's server is read: never locked."""
    database = f"sqlite:///{tmp_path / 'busy.db'}"
    key = seed_key(database, create_schema=True, rate_limit=100_000)
    with Server(server_env(database, "memory://"), kind=WAITRESS) as server:
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, "4"],
            cwd=ROOT,
            env=server_env(database, "memory://"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        statuses: list[int] = []
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            statuses += burst(server.port, key, 32)
        out, err = writer.communicate(timeout=60)
        log = server.output()
    assert writer.returncode == 0, err
    assert int(out.strip()) > 0
    assert set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
    assert "database is locked" not in log
