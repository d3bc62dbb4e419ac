"""Rolling under the production shape: 4 gunicorn workers, PostgreSQL, Redis (SPEC §12).

During a roll the old and new key draw on one bucket, exactly, across workers; after the
cutover every worker refuses the old key at once, whatever its cache of proven keys holds.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.serving.conftest import seed_key, server_env
from tests.serving.test_cluster import PRODUCTS, burst, flask_cli, get


def _roll(pg_url: str, prefix: str, grace: str) -> str:
    result = flask_cli(pg_url, "keys", "roll", prefix, "--grace", grace)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_old_and_new_key_share_one_exact_limit_across_four_workers(pg_url, shared_redis_url, gunicorn):
    """A limit of N during a roll: 3 x N concurrent requests over both keys, exactly N succeed."""
    limit = 20
    old = seed_key(pg_url, rate_limit=limit)
    new = _roll(pg_url, old[:12], "1h")
    server = gunicorn(server_env(pg_url, shared_redis_url), workers=4)
    assert len(server.worker_pids()) == 4
    keys = [old, new] * (3 * limit // 2)
    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(lambda key: get(server.port, PRODUCTS, key), keys))
    statuses = [status for status, _, _ in results]
    assert statuses.count(200) == limit, statuses
    assert statuses.count(429) == 2 * limit
    assert "Traceback" not in server.output()


def test_key_rolled_reaches_every_worker_right_after_the_cutover(pg_url, shared_redis_url, gunicorn):
    """Every worker has proven the old key; after "end grace" all of them answer key_rolled."""
    old = seed_key(pg_url, rate_limit=100_000)
    new = _roll(pg_url, old[:12], "7d")
    server = gunicorn(server_env(pg_url, shared_redis_url), workers=4)
    assert burst(server.port, old, 80) == [200] * 80  # spread over every worker's cache
    assert burst(server.port, new, 8) == [200] * 8
    result = flask_cli(pg_url, "keys", "end-grace", old[:12])
    assert result.returncode == 0, result.stderr
    after = [get(server.port, PRODUCTS, old) for _ in range(40)]
    assert {status for status, _, _ in after} == {401}
    assert {body["error"]["code"] for _, body, _ in after} == {"key_rolled"}
    assert all(new[:12] in body["error"]["message"] for _, body, _ in after)
