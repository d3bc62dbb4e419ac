"""`make bench`: throughput, latency and memory of Stockgate, as ratios within one run.

Serves the app with gunicorn in two shapes -- the embedded default (SQLite, memory://
limits, one process) and production (PostgreSQL, Redis limits, two workers), each with 200
and 100,000 products -- loads it with wrk from a separate process on loopback, in
alternating healthz/list rounds, and prints one table. Absolute numbers drift on a shared
machine; the ratio to ``/healthz`` on the same server in the same run does not.

Usage: ``python bench/run.py [--seconds 5] [--rounds 3] [--connections 16] [--skip-large]
[--skip-production]``
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import search_keys
from bench.harness import ROOT, LoadResult, Server, flask, percentile, wrk

CACHE = ROOT / "bench" / ".cache"


def log(message: str) -> None:
    """Progress on stderr, so the table on stdout stays clean."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def sqlite_env(path: Path) -> dict[str, str]:
    """Environment for the embedded shape on a SQLite file."""
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{path}",
        "RATELIMIT_STORAGE_URI": "memory://",
        "SECRET_KEY": "bench-secret",
        "STOCKGATE_ENV": "development",
    }


def prepare_database(env: dict[str, str], scale: int) -> None:
    """Migrate and seed a database at ``scale`` products."""
    flask(env, "db", "upgrade")
    started = time.perf_counter()
    flask(env, "seed-demo", "--scale", str(scale))
    log(f"seeded scale {scale} in {time.perf_counter() - started:.1f} s")


def seed_tag() -> str:
    """A tag that changes with the migrations and the seed code: cached data is kept until then."""
    heads = "".join(sorted(p.name for p in (ROOT / "migrations" / "versions").glob("*.py")))
    seed_sources = "".join(
        str(p.stat().st_mtime_ns) for p in sorted((ROOT / "app").rglob("*.py")) if "seed" in str(p)
    )
    return uuid.uuid5(uuid.NAMESPACE_URL, heads + seed_sources).hex[:10]


def cached_sqlite(scale: int) -> Path:
    """A seeded SQLite file at ``scale``, reused across runs while migrations are unchanged."""
    path = CACHE / f"scale-{scale}-{seed_tag()}.db"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        for old in CACHE.glob(f"scale-{scale}-*.db*"):
            old.unlink()
        partial = path.with_suffix(".partial.db")
        partial.unlink(missing_ok=True)
        prepare_database(sqlite_env(partial), scale)
        partial.rename(path)
    return path


def create_key(env: dict[str, str], owner: str, rate_limit: int = 100_000) -> str:
    """Create a system owner (once) and an all-abilities key; return the key."""
    try:
        flask(env, "users", "create", owner, "--name", "Bench sync", "--system")
    except RuntimeError as exc:
        if "already exists" not in str(exc):
            raise
    out = flask(
        env,
        "keys",
        "create",
        "--name",
        f"bench {uuid.uuid4().hex[:6]}",
        "--owner",
        owner,
        "--all-abilities",
        "--rate-limit",
        str(rate_limit),
    )
    return out.strip().splitlines()[-1]


def guard_cost(env: dict[str, str], key: str) -> str:
    """The guard's CPU per request for a proven key, measured in-process (bench/auth_cost.py)."""
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "auth_cost.py"),
            env["DATABASE_URL"],
            env["RATELIMIT_STORAGE_URI"],
            key,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    guard_ms, checkout_ms = (float(x) for x in re.findall(r"([\d.]+) ms", result.stdout))
    return f"{guard_ms:.2f} ms (of which connection checkout {checkout_ms:.2f} ms)"


def timed_get(port: int, path: str, headers: dict[str, str]) -> tuple[float, int]:
    """One GET on a new connection; return (milliseconds, status)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    elapsed = (time.perf_counter() - started) * 1000
    conn.close()
    return elapsed, response.status


def first_vs_later(server: Server, key: str) -> tuple[float, float]:
    """Latency of a new key's first request (bcrypt) and the median of the next 30."""
    path = "/api/v1/products?per_page=25"
    first, status = timed_get(server.port, path, {"X-API-Key": key})
    assert status == 200, status
    later = [timed_get(server.port, path, {"X-API-Key": key})[0] for _ in range(30)]
    return first, percentile(later, 50)


def admin_search(work: Path, keys: int) -> tuple[float, float]:
    """Median and p95 (ms) of the API Keys search fragment over ``keys`` keys (SQLite)."""
    import random

    app = search_keys.make_app(f"sqlite:///{work / f'keys-{keys}.db'}")
    prefixes = search_keys.seed(app, keys, random.Random(20261127))
    return search_keys.summary(search_keys.measure(app, prefixes, rounds=3))


class Table:
    """Rows of the report, printed as one aligned table."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = []

    def load(
        self, label: str, result: LoadResult, baseline: LoadResult | None, rss: float | None = None
    ) -> None:
        """Add a wrk result with its ratio to the baseline."""
        ratio = f"{result.rps / baseline.rps:.2f}x" if baseline else "1.00x"
        errors = f" ({result.non_2xx} non-2xx)" if result.non_2xx else ""
        self.rows.append(
            (
                label,
                f"{result.rps:,.0f}",
                ratio,
                f"{result.p50_ms:.2f}",
                f"{result.p99_ms:.2f}",
                f"{result.cpu_ms_per_request:.2f}",
                f"{rss:.0f}" if rss else "",
                errors,
            )
        )

    def note(self, label: str, value: str) -> None:
        """Add a free-form measurement."""
        self.rows.append((label, value, "", "", "", "", "", ""))

    def print(self) -> None:
        """Print the table to stdout."""
        header = ("measurement", "req/s", "vs healthz", "p50 ms", "p99 ms", "cpu ms/req", "peak RSS MiB", "")
        rows = [header, *self.rows]
        # Free-form notes (only a label and a value) span the columns: they set no widths.
        measured = [r for r in rows if any(r[2:])]
        widths = [max(len(r[i]) for r in measured) for i in range(len(header))]
        widths[0] = max(len(r[0]) for r in rows)
        for index, row in enumerate(rows):
            print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
            if index == 0:
                print("  ".join("-" * w for w in widths))


def main() -> int:
    """Run every measurement and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per round and endpoint")
    parser.add_argument("--rounds", type=int, default=3, help="alternating healthz/list rounds per shape")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--skip-large", action="store_true", help="skip the 100,000-product and -key runs")
    parser.add_argument("--skip-production", action="store_true", help="skip PostgreSQL + Redis + 2 workers")
    args = parser.parse_args()
    if args.seconds < 1 or args.connections < 1 or args.rounds < 1:
        parser.error("--seconds, --connections and --rounds must be positive")
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed: apt-get install -y wrk")

    table = Table()
    work = Path(tempfile.mkdtemp(prefix="stockgate-bench-"))
    load = {"seconds": args.seconds, "connections": args.connections, "rounds": args.rounds}
    path = "/api/v1/products?per_page=25"

    log("embedded shape: SQLite + memory://, 1 worker")
    env = sqlite_env(work / "small.db")
    shutil.copy(cached_sqlite(200), work / "small.db")
    key = create_key(env, "bench@example.com")
    with Server(env, workers=1, threads=4) as server:
        first, later = first_vs_later(server, key)
        load_pair(table, server, "embedded", path, key, load)
        table.note("embedded  new key: first request / later median (ms)", f"{first:.1f} / {later:.2f}")
    table.note("embedded: auth + limit + last-used CPU per request (in-process)", guard_cost(env, key))

    if not args.skip_large:
        log("embedded shape with 100,000 products")
        env = sqlite_env(work / "large.db")
        shutil.copy(cached_sqlite(100_000), work / "large.db")
        key = create_key(env, "bench@example.com")
        with Server(env, workers=1, threads=4) as server:
            timed_get(server.port, path, {"X-API-Key": key})
            load_pair(table, server, "embedded 100k products", path, key, load)

    if not args.skip_production:
        production(table, load, path, large=not args.skip_large)

    for keys in (1_000,) if args.skip_large else (1_000, 100_000):
        log(f"admin search over {keys:,} keys")
        p50, p95 = admin_search(work, keys)
        table.note(f"admin search fragment, {keys:,} keys: p50 / p95 (ms)", f"{p50:.1f} / {p95:.1f}")

    table.print()
    shutil.rmtree(work, ignore_errors=True)
    return 0


def load_pair(table: Table, server: Server, shape: str, path: str, key: str, load: dict[str, int]) -> None:
    """Load /healthz and ``path`` on one server in alternating rounds; add both rows (medians)."""
    # Alternating rounds (health, list, health, list, ...) and medians: a burst of noise
    # on the shared machine then hits one round of each, not the whole of one measurement.
    rounds = load["rounds"]
    timing = {"seconds": load["seconds"], "connections": load["connections"]}
    wrk(server, "/healthz", seconds=1, connections=timing["connections"])  # warm up
    health_runs, list_runs = [], []
    for _ in range(rounds):
        health_runs.append(wrk(server, "/healthz", **timing))
        list_runs.append(wrk(server, path, headers={"X-API-Key": key}, **timing))
    health, result = median_result(health_runs), median_result(list_runs)
    table.load(f"{shape}: GET /healthz", health, None)
    table.load(f"{shape}: GET {path}", result, health, server.peak_rss_mib())
    ratios = sorted(run.rps / base.rps for run, base in zip(list_runs, health_runs, strict=True))
    table.note(f"{shape}: list / healthz per round", " ".join(f"{r:.2f}x" for r in ratios))
    table.note(
        f"{shape}: auth + limit + list CPU over /healthz (ms/req)",
        f"{result.cpu_ms_per_request - health.cpu_ms_per_request:.2f}",
    )


def median_result(runs: list[LoadResult]) -> LoadResult:
    """The per-field median of several wrk runs (error counts are summed)."""

    def mid(values: list[float]) -> float:
        return statistics.median(values)

    return LoadResult(
        rps=mid([r.rps for r in runs]),
        p50_ms=mid([r.p50_ms for r in runs]),
        p99_ms=mid([r.p99_ms for r in runs]),
        requests=sum(r.requests for r in runs),
        non_2xx=sum(r.non_2xx for r in runs),
        cpu_ms_per_request=mid([r.cpu_ms_per_request for r in runs]),
    )


def production(table: Table, load: dict[str, int], path: str, large: bool) -> None:
    """PostgreSQL + Redis + two gunicorn workers, at 200 and 100,000 products (needs both servers)."""
    from sqlalchemy import create_engine

    server_url = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        for scale, label in ((200, ""), *(((100_000, " 100k products"),) if large else ())):
            name = f"stockgate_bench_{uuid.uuid4().hex[:8]}"
            template = cached_postgres(admin, server_url, scale)
            sql(admin, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            try:
                env = {
                    **os.environ,
                    "DATABASE_URL": database_url(server_url, name),
                    "RATELIMIT_STORAGE_URI": redis_url,
                    "SECRET_KEY": "bench-secret",
                }
                production_shape(table, env, redis_url, path, load, f"production{label}")
            finally:
                sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def production_shape(
    table: Table, env: dict[str, str], redis_url: str, path: str, load: dict[str, int], shape: str
) -> None:
    """Serve one PostgreSQL database with two sync workers and Redis limits; add its rows."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    key = create_key(env, "bench@example.com")
    log(f"{shape} shape: PostgreSQL + Redis, 2 workers")
    # The production default of gunicorn.conf.py: sync workers (one thread each).
    with Server(env, workers=2, threads=1) as server:
        for _ in range(20):  # prove the key (bcrypt) in both workers before loading
            timed_get(server.port, path, {"X-API-Key": key})
        load_pair(table, server, f"{shape} (PostgreSQL, Redis, 2 workers)", path, key, load)
    table.note(f"{shape}: auth + limit + last-used CPU per request (in-process)", guard_cost(env, key))


def cached_postgres(admin: Any, server_url: str, scale: int) -> str:
    """A seeded, vacuumed template database at ``scale``, kept across runs like the SQLite files."""
    from sqlalchemy import create_engine, text

    prefix = f"stockgate_bench_tpl_{scale}_"
    name = prefix + seed_tag()
    with admin.connect() as conn:
        existing = conn.execute(
            text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": prefix + "%"}
        ).scalars()
        existing = list(existing)
    if name in existing:
        return name
    for old in existing:
        sql(admin, f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
    partial = f"stockgate_bench_partial_{uuid.uuid4().hex[:8]}"
    sql(admin, f'CREATE DATABASE "{partial}"')
    try:
        url = database_url(server_url, partial)
        prepare_database({**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-secret"}, scale)
        # What autovacuum does soon after a load: visibility map and statistics in place.
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("VACUUM ANALYZE"))
        engine.dispose()
        sql(admin, f'ALTER DATABASE "{partial}" RENAME TO "{name}"')
    except BaseException:
        sql(admin, f'DROP DATABASE IF EXISTS "{partial}" WITH (FORCE)')
        raise
    return name


def database_url(server_url: str, name: str) -> str:
    """``server_url`` pointing at database ``name``."""
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def sql(admin: Any, statement: str) -> None:
    """Run one statement on the server's admin (autocommit) engine."""
    from sqlalchemy import text

    with admin.connect() as conn:
        conn.execute(text(statement))


if __name__ == "__main__":
    raise SystemExit(main())
