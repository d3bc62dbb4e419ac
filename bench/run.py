"""`make bench`: Stockgate's throughput, latency and memory against fixed references (SPEC §10-§11).

For each shape (embedded, production) and size (10,000 and 100,000 products), serves the app as
that shape is deployed, the bare Flask app (bench/bare_app.py) and the data floor
(bench/data_floor.py) on the same server with the same workers, loads them with wrk from a
separate process in alternating rounds, and prints one table; then page 1 at 100,000 products
against page 1 at 10,000, alternating too. See bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import audit_export, key_page, search_keys
from bench.harness import GUNICORN, ROOT, WAITRESS, LoadResult, Server, flask, percentile, wrk

CACHE = ROOT / "bench" / ".cache"
APP = "wsgi:app"
BARE = "bench.bare_app:app"
FLOOR = "bench.data_floor:app"
LIST_PATH = "/api/v1/products?per_page=25"
FLOOR_PATH = "/api/v1/products"
OWNER = "bench@example.com"
# SPEC §14 rows at 100,000 products: a page this deep, by cursor and by number.
DEEP_PAGE = 4000
SYNC_SCALE = 100_000
# SPEC §11: the list at this size against the same list at SYNC_SCALE (totals capped at 10,000).
SMALL_SCALE = 10_000
# Issue 18: a cursor page deep in the table within 1.5x of the first page.
DEEP_CURSOR_TARGET = 1.5
# SPEC §11, by shape: the list of 25 at least this fraction of the data floor's throughput, and
# page 1 at 100,000 products at least this fraction of page 1 at 10,000.
FLOOR_TARGETS = {"production": 0.9}
GROWTH_TARGETS = {"production": 0.8}
# SPEC §11: a scoped or field-hidden list (§16) at least this fraction of the same list unscoped.
SCOPE_TARGET = 0.95


def log(message: str) -> None:
    """Progress on stderr, so the table on stdout stays clean."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- data: seeded once, cached until the migrations or the seed code change -------------------


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
    """A hash of the migrations and the seed code: cached data is kept until either changes."""
    digest = hashlib.sha256()
    sources = sorted((ROOT / "migrations" / "versions").glob("*.py"))
    sources += sorted(p for p in (ROOT / "app").rglob("*.py") if "seed" in str(p.relative_to(ROOT)))
    for path in sources:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:10]


def cached_sqlite(scale: int) -> Path:
    """A seeded SQLite file at ``scale``, reused across runs while its tag is unchanged."""
    path = CACHE / f"scale-{scale}-{seed_tag()}.db"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        for old in CACHE.glob(f"scale-{scale}-*.db*"):
            old.unlink()
        partial = path.with_suffix(".partial.db")
        partial.unlink(missing_ok=True)
        log(f"seeding a SQLite file with {scale:,} products (cached in bench/.cache)")
        prepare_database(sqlite_env(partial), scale)
        partial.rename(path)
    return path


def cached_postgres(admin: Any, server_url: str, scale: int) -> str:
    """A seeded, vacuumed template database at ``scale``, kept across runs like the SQLite files."""
    from sqlalchemy import create_engine, text

    prefix = f"stockgate_bench_tpl_{scale}_"
    name = prefix + seed_tag()
    with admin.connect() as conn:
        existing = list(
            conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE :p ORDER BY oid DESC"),
                {"p": prefix + "%"},
            ).scalars()
        )
    if name in existing:
        return name
    # Keep the newest other template: a checkout of another commit (a before/after comparison
    # in a git worktree) then does not seed again after this one.
    for old in existing[1:]:
        sql(admin, f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
    partial = f"stockgate_bench_partial_{uuid.uuid4().hex[:8]}"
    sql(admin, f'CREATE DATABASE "{partial}"')
    try:
        url = database_url(server_url, partial)
        log(f"seeding a PostgreSQL template with {scale:,} products ({name})")
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


def create_key(env: dict[str, str], rate_limit: int = 100_000, scope: tuple[str, ...] = ()) -> str:
    """Create the bench's system owner (once) and an all-abilities key, with ``scope``'s options
    (``--warehouse CODE`` and the like; none: unscoped); return the key."""
    try:
        flask(env, "users", "create", OWNER, "--name", "Bench sync", "--system")
    except RuntimeError as exc:
        if "already exists" not in str(exc):
            raise
    name = f"bench {uuid.uuid4().hex[:6]}"
    out = flask(
        env,
        "keys",
        "create",
        "--name",
        name,
        "--owner",
        OWNER,
        "--all-abilities",
        "--rate-limit",
        str(rate_limit),
        *scope,
    )
    return out.strip().splitlines()[-1]


# --- the report ---------------------------------------------------------------------------------


class Table:
    """Sections of load rows and notes, printed as one aligned table."""

    HEADER = (
        "measurement",
        "req/s",
        "vs bare",
        "target",
        "met",
        "p50 ms",
        "p99 ms",
        "cpu ms/req",
        "peak RSS MiB",
    )

    def __init__(self) -> None:
        self.rows: list[tuple[str, Any]] = []

    def section(self, title: str) -> None:
        """Start a section (a shape and a size, how it is served)."""
        self.rows.append(("section", title))

    def load(
        self,
        label: str,
        result: LoadResult,
        bare: LoadResult,
        target: float | None,
        rss: float,
        reference: tuple[str, LoadResult] | None = None,
    ) -> None:
        """Add a wrk result with its ratio to the bare Flask app, and its target (if it has one),
        which is a ratio to the bare app or to ``reference`` (a name and a result)."""
        ratio = result.rps / bare.rps
        name, against = reference or ("", bare)
        met = "" if target is None else ("yes" if result.rps / against.rps >= target else "NO")
        errors = f"{result.non_2xx} non-2xx!" if result.non_2xx else ""
        cells = (
            f"  {label}",
            f"{result.rps:,.0f}",
            f"{ratio:.2f}x",
            "" if target is None else f">= {target:.2f}x {name}".rstrip(),
            met,
            f"{result.p50_ms:.2f}",
            f"{result.p99_ms:.2f}",
            f"{result.cpu_ms_per_request:.2f}",
            f"{rss:.0f}",
            errors,
        )
        self.rows.append(("load", cells))

    def note(self, label: str, value: str) -> None:
        """Add a free-form measurement."""
        self.rows.append(("note", (f"  {label}", value)))

    def print(self) -> None:
        """Print the table to stdout."""
        loads = [cells for kind, cells in self.rows if kind == "load"]
        widths = [max(len(r[i]) for r in [self.HEADER, *loads]) for i in range(len(self.HEADER))]
        # Notes' labels line up with the measurements; section titles set no widths.
        widths[0] = max([widths[0], *(len(cells[0]) for kind, cells in self.rows if kind == "note")])
        print("  ".join(h.ljust(w) for h, w in zip(self.HEADER, widths, strict=True)).rstrip())
        print("  ".join("-" * w for w in widths))
        for kind, cells in self.rows:
            if kind == "section":
                print(f"{cells}")
            elif kind == "load":
                print("  ".join(c.ljust(w) for c, w in zip(cells, [*widths, 0], strict=True)).rstrip())
            else:
                label, value = cells
                print(f"{label.ljust(widths[0])}  {value}")


# --- measurements -------------------------------------------------------------------------------


@dataclass
class Shape:
    """How one shape is deployed: its name, description and server."""

    name: str  # "embedded" or "production": the key of TARGETS
    served: str  # for the section title
    server: Callable[[dict[str, str], str], Server]  # (environment, WSGI app) -> server


def embedded_shape(kind: str) -> Shape:
    """The embedded default: ``waitress`` as ``make run`` serves it, or the old gunicorn with threads."""
    if kind == "waitress":
        return Shape(
            "embedded", "waitress as shipped, 1 process", lambda env, app: Server(env, kind=WAITRESS, app=app)
        )
    return Shape(
        "embedded",
        "gunicorn, 1 worker x 4 threads (gunicorn.conf.py)",
        lambda env, app: Server(env, kind=GUNICORN, workers=1, threads=4, app=app),
    )


PRODUCTION = Shape(
    "production",
    "gunicorn, 2 sync workers (gunicorn.conf.py)",
    lambda env, app: Server(env, kind=GUNICORN, workers=2, threads=1, app=app),
)


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


def get(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """One GET on a new connection; return (status, headers, body as sent on the wire)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, {name.lower(): value for name, value in response.getheaders()}, body


def deep_cursor(port: int, headers: dict[str, str], page: int, per_page: int) -> str:
    """A cursor where page ``page`` of ``per_page`` starts, reached by walking the API by cursor
    (100 records a page: about a thousand requests at 100,000 products)."""
    skip, cursor = (page - 1) * per_page, ""
    while skip:
        step = min(100, skip)
        status, _, body = get(port, f"/api/v1/products?per_page={step}&cursor={quote(cursor)}", headers)
        if status != 200:
            raise RuntimeError(f"walking by cursor answered {status}: {body[:300]!r}")
        cursor = json.loads(body)["meta"]["next_cursor"]
        skip -= step
    return cursor


def measure_sync(table: Table, shape: Shape, size: str, env: dict[str, str], load: dict[str, int]) -> None:
    """SPEC §14 rows: a deep cursor page against the first, ``page=4000`` for contrast, a 304
    against a 200, and the bytes on the wire with and without gzip."""
    key = create_key(env)
    headers = {"X-API-Key": key}
    timing = {"seconds": load["seconds"], "connections": load["connections"]}
    table.section(f"{shape.name}, {size}, sync (SPEC §14): {shape.served}")
    log(f"{shape.name}, {size}: sync rows")
    with shape.server(env, BARE) as bare, shape.server(env, APP) as server:
        for _ in range(20):  # prove the key (bcrypt) in every worker before loading
            timed_get(server.port, LIST_PATH, headers)
        deep = deep_cursor(server.port, headers, DEEP_PAGE, 25)
        _, sent, _ = get(server.port, LIST_PATH, headers)
        etag = sent["etag"]
        if get(server.port, LIST_PATH, {**headers, "If-None-Match": etag})[0] != 304:
            raise RuntimeError("If-None-Match with the list's own ETag did not answer 304")
        paths = {
            "cursor, first page": (f"{LIST_PATH}&cursor=", headers),
            f"cursor at page {DEEP_PAGE} (record 99,976)": (f"{LIST_PATH}&cursor={deep}", headers),
            "page=1": (f"{LIST_PATH}&page=1", headers),
            f"page={DEEP_PAGE}": (f"{LIST_PATH}&page={DEEP_PAGE}", headers),
            "200 (no If-None-Match)": (LIST_PATH, headers),
            "304 (If-None-Match: its ETag)": (LIST_PATH, {**headers, "If-None-Match": etag}),
        }
        for path, sent_headers in paths.values():  # warm up
            wrk(server, path, seconds=1, connections=timing["connections"], headers=sent_headers)
        runs: dict[str, list[LoadResult]] = {"bare": [], **{label: [] for label in paths}}
        for _ in range(load["rounds"]):
            runs["bare"].append(wrk(bare, "/healthz", **timing))
            for label, (path, sent_headers) in paths.items():
                runs[label].append(wrk(server, path, headers=sent_headers, **timing))
        base = median_result(runs["bare"])
        rss = server.peak_rss_mib()
        results = {label: median_result(runs[label]) for label in paths}
        # wrk counts 3xx with the errors; the 304s were checked above, so they are not errors.
        not_modified = "304 (If-None-Match: its ETag)"
        results[not_modified] = replace(results[not_modified], non_2xx=0)
        table.load("bare Flask GET /healthz", base, base, None, bare.peak_rss_mib())
        for label, result in results.items():
            table.load(f"GET {LIST_PATH} {label}", result, base, None, rss)
        wire = {}
        for per_page in (25, 100):
            path = f"/api/v1/products?per_page={per_page}"
            wire[per_page] = (
                len(get(server.port, path, headers)[2]),
                len(get(server.port, path, {**headers, "Accept-Encoding": "gzip"})[2]),
            )
    deep_label = f"cursor at page {DEEP_PAGE} (record 99,976)"
    ratio = results[deep_label].p50_ms / results["cursor, first page"].p50_ms
    met = "yes" if ratio <= DEEP_CURSOR_TARGET else "NO"
    table.note(
        f"deep / first cursor page, p50 (target <= {DEEP_CURSOR_TARGET}x)",
        f"{ratio:.2f}x ({met}); page={DEEP_PAGE} / page=1: "
        f"{results[f'page={DEEP_PAGE}'].p50_ms / results['page=1'].p50_ms:.2f}x",
    )
    table.note(
        "304 / 200: req/s, CPU ms/req",
        f"{results[not_modified].rps / results['200 (no If-None-Match)'].rps:.2f}x, "
        f"{results[not_modified].cpu_ms_per_request:.2f} / "
        f"{results['200 (no If-None-Match)'].cpu_ms_per_request:.2f}",
    )
    table.note(
        "bytes on the wire (body), identity / gzip",
        "; ".join(f"per_page={n}: {plain:,} / {zipped:,}" for n, (plain, zipped) in wire.items())
        + "; 304: 0",
    )


def first_vs_later(server: Server, key: str) -> tuple[float, float]:
    """Latency of a new key's first request (bcrypt) and the median of the next 30."""
    first, status = timed_get(server.port, LIST_PATH, {"X-API-Key": key})
    if status != 200:
        raise RuntimeError(f"GET {LIST_PATH} answered {status}: {server.output()[-2000:]}")
    later = [timed_get(server.port, LIST_PATH, {"X-API-Key": key})[0] for _ in range(30)]
    return first, percentile(later, 50)


def median_result(runs: list[LoadResult]) -> LoadResult:
    """The per-field median of several wrk runs (error counts are summed)."""
    mid = statistics.median
    return LoadResult(
        rps=mid([r.rps for r in runs]),
        p50_ms=mid([r.p50_ms for r in runs]),
        p99_ms=mid([r.p99_ms for r in runs]),
        requests=sum(r.requests for r in runs),
        non_2xx=sum(r.non_2xx for r in runs),
        cpu_ms_per_request=mid([r.cpu_ms_per_request for r in runs]),
    )


def run_script(script: str, env: dict[str, str], *args: str) -> dict[str, float] | str:
    """Run ``bench/<script>`` with ``args``; its ``name=value`` lines, or ``failed: <last error line>``."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return "failed: " + (result.stderr.strip().splitlines() or ["?"])[-1][:200]
    return {name: float(value) for name, value in (line.split("=") for line in result.stdout.splitlines())}


def in_process_cost(env: dict[str, str], key: str) -> str:
    """The guard's and a whole list request's CPU, in-process (bench/auth_cost.py)."""
    cost = run_script("auth_cost.py", env, key)
    if isinstance(cost, str):
        return cost
    guard = f"guard {cost['guard']:.2f} ms, " if "guard" in cost else "guard n/a (no app.api.guard.guard), "
    counting = f"usage count {cost['usage count']:.4f} ms, " if "usage count" in cost else ""
    floor = f", data floor request {cost['floor']:.2f} ms" if "floor" in cost else ""
    return guard + counting + f"whole list request (test client) {cost['request']:.2f} ms" + floor


def paired_cost(env: dict[str, str], path: str, keys: dict[str, str], scoped: str) -> str:
    """The unscoped and the scoped key's requests alternating in-process (bench/scope_cost.py)."""
    ms = run_script("scope_cost.py", env, path, keys["unscoped"], keys[scoped])
    if isinstance(ms, str):
        return ms
    return (
        f"{ms['unscoped'] / ms['scoped']:.2f}x throughput; median wall ms/request "
        f"{ms['scoped']:.2f} / {ms['unscoped']:.2f}"
    )


def each_round(runs: list[LoadResult], references: list[LoadResult]) -> str:
    """Each round's throughput over its reference's in the same round, sorted: the spread."""
    ratios = sorted(r.rps / b.rps for r, b in zip(runs, references, strict=True))
    return " ".join(f"{r:.2f}x" for r in ratios)


def measure_shape(
    table: Table, shape: Shape, size: str, env: dict[str, str], load: dict[str, int], *, first_request: bool
) -> None:
    """Serve the bare Flask app, the data floor and Stockgate the same way; load them in
    alternating rounds; add rows."""
    key = create_key(env)
    table.section(f"{shape.name}, {size}: {shape.served}")
    log(f"{shape.name}, {size}: {shape.served}")
    timing = {"seconds": load["seconds"], "connections": load["connections"]}
    headers = {"X-API-Key": key}
    with (
        shape.server(env, BARE) as bare,
        shape.server(env, FLOOR) as floor,
        shape.server(env, APP) as server,
    ):
        if first_request:
            first, later = first_vs_later(server, key)
        for _ in range(20):  # prove the key (bcrypt) in every worker before loading
            timed_get(server.port, LIST_PATH, headers)
        wrk(bare, "/healthz", seconds=1, connections=timing["connections"])  # warm up
        wrk(floor, FLOOR_PATH, seconds=1, connections=timing["connections"])
        wrk(server, "/healthz", seconds=1, connections=timing["connections"])
        wrk(server, LIST_PATH, seconds=1, connections=timing["connections"], headers=headers)
        # Alternating rounds and medians: a burst of noise on the shared machine hits one
        # round of each, not the whole of one measurement.
        runs: dict[str, list[LoadResult]] = {"bare": [], "healthz": [], "list": [], "floor": []}
        for _ in range(load["rounds"]):
            runs["bare"].append(wrk(bare, "/healthz", **timing))
            runs["healthz"].append(wrk(server, "/healthz", **timing))
            runs["list"].append(wrk(server, LIST_PATH, headers=headers, **timing))
            runs["floor"].append(wrk(floor, FLOOR_PATH, **timing))
        base = median_result(runs["bare"])
        health, listing = median_result(runs["healthz"]), median_result(runs["list"])
        floored = median_result(runs["floor"])
        table.load("bare Flask GET /healthz", base, base, None, bare.peak_rss_mib())
        floor_label = f"data floor GET {FLOOR_PATH} (bench/data_floor.py)"
        table.load(floor_label, floored, base, None, floor.peak_rss_mib())
        rss = server.peak_rss_mib()
        table.load("GET /healthz", health, base, None, rss)
        target = FLOOR_TARGETS.get(shape.name)
        table.load(f"GET {LIST_PATH} (X-API-Key)", listing, base, target, rss, ("floor", floored))
    table.note("list / data floor, medians", f"{listing.rps / floored.rps:.2f}x")
    table.note("list / data floor, each round", each_round(runs["list"], runs["floor"]))
    table.note("data floor / bare, each round", each_round(runs["floor"], runs["bare"]))
    for endpoint in ("healthz", "list"):
        table.note(f"{endpoint} / bare, each round", each_round(runs[endpoint], runs["bare"]))
    table.note(
        "CPU over bare /healthz (ms/req): healthz / list / floor",
        f"{health.cpu_ms_per_request - base.cpu_ms_per_request:.2f} / "
        f"{listing.cpu_ms_per_request - base.cpu_ms_per_request:.2f} / "
        f"{floored.cpu_ms_per_request - base.cpu_ms_per_request:.2f}",
    )
    if first_request:
        table.note("new key: first request (bcrypt) / later median (ms)", f"{first:.1f} / {later:.2f}")
    table.note("in-process CPU per request (bench/auth_cost.py)", in_process_cost(env, key))


def measure_growth(
    table: Table, shape: Shape, size: str, envs: dict[int, dict[str, str]], load: dict[str, int]
) -> None:
    """Page 1 of the list at SYNC_SCALE products against page 1 at SMALL_SCALE: the app served on
    each database at once, loaded in alternating rounds (SPEC §6, §11)."""
    title = f"{shape.name}, page 1 at {SYNC_SCALE:,} / at {SMALL_SCALE:,} products{size}"
    table.section(f"{title}: {shape.served}")
    log(f"{shape.name}: page 1 at {SYNC_SCALE:,} against {SMALL_SCALE:,} products")
    timing = {"seconds": load["seconds"], "connections": load["connections"]}
    headers = {scale: {"X-API-Key": create_key(envs[scale])} for scale in (SMALL_SCALE, SYNC_SCALE)}
    with shape.server(envs[SMALL_SCALE], APP) as small, shape.server(envs[SYNC_SCALE], APP) as large:
        servers = {SMALL_SCALE: small, SYNC_SCALE: large}
        runs: dict[int, list[LoadResult]] = {SMALL_SCALE: [], SYNC_SCALE: []}
        for scale, server in servers.items():
            for _ in range(20):  # prove the key in every worker
                timed_get(server.port, LIST_PATH, headers[scale])
            wrk(server, LIST_PATH, seconds=1, connections=timing["connections"], headers=headers[scale])
        for _ in range(load["rounds"]):
            for scale, server in servers.items():
                runs[scale].append(wrk(server, LIST_PATH, headers=headers[scale], **timing))
        results = {scale: median_result(runs[scale]) for scale in servers}
        small_result = results[SMALL_SCALE]
        target = GROWTH_TARGETS.get(shape.name)
        for scale, server in servers.items():
            reference = (f"{SMALL_SCALE // 1000}k", small_result) if scale == SYNC_SCALE else None
            table.load(
                f"GET {LIST_PATH} at {scale:,} products",
                results[scale],
                small_result,
                target if scale == SYNC_SCALE else None,
                server.peak_rss_mib(),
                reference,
            )
    spread = each_round(runs[SYNC_SCALE], runs[SMALL_SCALE])
    table.note(f"{SYNC_SCALE:,} / {SMALL_SCALE:,} products, each round", spread)


def busiest_warehouse(env: dict[str, str]) -> str:
    """The code of the warehouse with the most inventory records in the seeded database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(env["DATABASE_URL"])
    with engine.connect() as conn:
        code = conn.execute(
            text(
                "SELECT w.code FROM warehouses w JOIN inventory_levels i ON i.warehouse_id = w.id "
                "GROUP BY w.code ORDER BY count(*) DESC, w.code LIMIT 1"
            )
        ).scalar_one()
    engine.dispose()
    return code


def check_scoped(port: int, path: str, key: str, check: Callable[[dict[str, Any]], bool], what: str) -> None:
    """Fail the run unless the scoped key's first page answers 200 and passes ``check``: a row
    measured on a scope the app ignored would compare an unscoped list with itself."""
    status, _, body = get(port, path, {"X-API-Key": key})
    if status != 200 or not check(json.loads(body)):
        raise RuntimeError(f"GET {path} with the {what} key: {status} {body[:300]!r}")


def measure_scope(table: Table, shape: Shape, size: str, env: dict[str, str], load: dict[str, int]) -> None:
    """SPEC §11/§16: a scoped or field-hidden list against the same list read by an unscoped key,
    on one server, in alternating rounds (which of the pair goes first alternates too)."""
    code = busiest_warehouse(env)
    marketplace = "Amazon.ca"
    keys = {
        "unscoped": create_key(env),
        f"warehouse {code}": create_key(env, scope=("--warehouse", code)),
        "hide costs": create_key(env, scope=("--hide", "costs")),
        f"marketplace {marketplace}": create_key(env, scope=("--marketplace", marketplace)),
    }
    pairs = [
        ("/api/v1/inventory?per_page=25", f"warehouse {code}"),
        (LIST_PATH, "hide costs"),
        ("/api/v1/sales-orders?per_page=25", f"marketplace {marketplace}"),
    ]
    table.section(f"{shape.name}, {size}, data scope (SPEC §16): {shape.served}")
    log(f"{shape.name}, {size}: scoped lists against unscoped ones")
    timing = {"seconds": load["seconds"], "connections": load["connections"]}
    with shape.server(env, BARE) as bare, shape.server(env, APP) as server:
        for _ in range(20):  # prove every key (bcrypt) in every worker before loading
            for key in keys.values():
                timed_get(server.port, LIST_PATH, {"X-API-Key": key})
        warehouse_ids = {
            row["warehouse_id"]
            for row in json.loads(get(server.port, pairs[0][0], {"X-API-Key": keys[pairs[0][1]]})[2])["data"]
        }
        check_scoped(
            server.port, pairs[0][0], keys[pairs[0][1]], lambda _: len(warehouse_ids) == 1, "warehouse"
        )
        check_scoped(
            server.port,
            LIST_PATH,
            keys["hide costs"],
            lambda b: not any("cost" in r for r in b["data"]),
            "hide",
        )
        check_scoped(
            server.port,
            pairs[2][0],
            keys[pairs[2][1]],
            lambda b: b["data"] and all(r["marketplace"] == marketplace for r in b["data"]),
            "marketplace",
        )
        wrk(bare, "/healthz", seconds=1, connections=timing["connections"])  # warm up
        for path, scoped in pairs:
            for name in ("unscoped", scoped):
                headers = {"X-API-Key": keys[name]}
                wrk(server, path, seconds=1, connections=timing["connections"], headers=headers)
        runs: dict[tuple[str, str], list[LoadResult]] = {}
        bares: list[LoadResult] = []
        for round_no in range(load["rounds"]):
            bares.append(wrk(bare, "/healthz", **timing))
            for path, scoped in pairs:
                order = ("unscoped", scoped) if round_no % 2 == 0 else (scoped, "unscoped")
                for name in order:
                    headers = {"X-API-Key": keys[name]}
                    runs.setdefault((path, name), []).append(wrk(server, path, headers=headers, **timing))
        base = median_result(bares)
        rss = server.peak_rss_mib()
        table.load("bare Flask GET /healthz", base, base, None, bare.peak_rss_mib())
        for path, scoped in pairs:
            plain = median_result(runs[(path, "unscoped")])
            table.load(f"GET {path}, unscoped key", plain, base, None, rss)
            result = median_result(runs[(path, scoped)])
            table.load(f"GET {path}, {scoped}", result, base, SCOPE_TARGET, rss, ("unscoped", plain))
    for path, scoped in pairs:
        plain, result = median_result(runs[(path, "unscoped")]), median_result(runs[(path, scoped)])
        # Server CPU per request moves less than throughput with the neighbours' load.
        table.note(
            f"{scoped} / unscoped: req/s medians; each round; CPU ms/req",
            f"{result.rps / plain.rps:.2f}x; {each_round(runs[(path, scoped)], runs[(path, 'unscoped')])}; "
            f"{result.cpu_ms_per_request:.2f} / {plain.cpu_ms_per_request:.2f}",
        )
        table.note(
            f"{scoped} / unscoped, in-process (bench/scope_cost.py)", paired_cost(env, path, keys, scoped)
        )


def embedded(
    table: Table, shape: Shape, work: Path, load: dict[str, int], large: bool, sync_only: bool = False
) -> None:
    """SQLite + memory:// limits, at 10,000 and 100,000 products (the sync rows at 100,000), then
    page 1 at 100,000 against page 1 at 10,000."""
    envs: dict[int, dict[str, str]] = {}
    for scale in (SYNC_SCALE,) if sync_only else (SMALL_SCALE, SYNC_SCALE) if large else (SMALL_SCALE,):
        path = work / f"embedded-{scale}.db"
        shutil.copy(cached_sqlite(scale), path)
        env = envs[scale] = sqlite_env(path)
        if not sync_only:
            measure_shape(table, shape, f"{scale:,} products", env, load, first_request=scale == SMALL_SCALE)
        if scale == SYNC_SCALE:
            measure_sync(table, shape, f"{scale:,} products", env, load)
    if len(envs) == 2:
        measure_growth(table, shape, "", envs, load)


def production(
    table: Table, load: dict[str, int], large: bool, sync_only: bool = False, scope_only: bool = False
) -> None:
    """PostgreSQL + Redis + two gunicorn sync workers, at 10,000 and 100,000 products (the scope
    rows at 10,000, the sync rows at 100,000), then page 1 at 100,000 against page 1 at 10,000."""
    import redis
    from sqlalchemy import create_engine

    server_url = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    names: list[str] = []
    envs: dict[int, dict[str, str]] = {}
    try:
        scales = (SYNC_SCALE,) if sync_only else (SMALL_SCALE, SYNC_SCALE) if large else (SMALL_SCALE,)
        for scale in (SMALL_SCALE,) if scope_only else scales:
            template = cached_postgres(admin, server_url, scale)
            name = f"stockgate_bench_{uuid.uuid4().hex[:8]}"
            sql(admin, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            names.append(name)
            redis.Redis.from_url(redis_url).flushdb()
            # The bare app and the data floor get the same environment: gunicorn.conf.py refuses
            # memory:// with two workers, whatever the app.
            env = envs[scale] = {
                **os.environ,
                "DATABASE_URL": database_url(server_url, name),
                "RATELIMIT_STORAGE_URI": redis_url,
                "SECRET_KEY": "bench-secret",
            }
            size = f"{scale:,} products, PostgreSQL + Redis"
            if not (sync_only or scope_only):
                measure_shape(table, PRODUCTION, size, env, load, first_request=scale == SMALL_SCALE)
            if scale == SMALL_SCALE and not sync_only:
                measure_scope(table, PRODUCTION, size, env, load)
            if scale == SYNC_SCALE:
                measure_sync(table, PRODUCTION, size, env, load)
        if len(envs) == 2:
            measure_growth(table, PRODUCTION, ", PostgreSQL + Redis", envs, load)
    finally:
        for name in names:
            sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def admin_search(work: Path, keys: int, database: str) -> tuple[float, float]:
    """Median and p95 (ms) of the API Keys search fragment over ``keys`` keys on ``database``."""
    if database == "PostgreSQL":
        server_url = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
        return search_keys.summary(search_keys.run_postgres(server_url, keys, rounds=3))
    app = search_keys.make_app(f"sqlite:///{work / f'keys-{keys}.db'}")
    prefixes = search_keys.seed(app, keys, random.Random(search_keys.SEED))
    return search_keys.summary(search_keys.measure(app, prefixes, rounds=3))


def key_page_latency(work: Path, postgres: bool) -> list[tuple[str, float, float]]:
    """p50 and p95 (ms) of a key's page over 90 days x 30 operations of usage, per database."""
    results = []
    runs = [("SQLite", lambda: key_page.run_sqlite(work / "key-page.db", rounds=50))]
    if postgres:
        server_url = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
        runs.append(("PostgreSQL", lambda: key_page.run_postgres(server_url, rounds=50)))
    for database, run in runs:
        _, times, unfrozen = run()
        results.append((database, *key_page.summary(times)))
        results.append((f"{database}, without gc.freeze()", *key_page.summary(unfrozen)))
    return results


def audit_export_rows(table: Table, work: Path, large: bool, postgres: bool) -> None:
    """The Audit Log's Export CSV at 10,000 (and 100,000) events: time and peak allocations."""
    table.section("admin: Audit Log Export CSV, streamed (in-process test client; tracemalloc peak)")
    server_url = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    for events in (10_000, 100_000) if large else (10_000,):
        log(f"audit export of {events:,} events")
        result = audit_export.run_sqlite(work / f"audit-{events}.db", events)
        table.note(f"SQLite, {events:,} events", audit_export.line(result))
        if postgres:
            table.note(
                f"PostgreSQL, {events:,} events",
                audit_export.line(audit_export.run_postgres(server_url, events)),
            )


def admin(table: Table, work: Path, large: bool, sync_only: bool, *, postgres: bool) -> None:
    """The admin rows: the API Keys search at 1,000 (and 100,000) keys, a key's page, and the
    Audit Log's export."""
    if not sync_only:
        table.section("admin: API Keys search fragment (in-process test client)")
    databases = ("SQLite", "PostgreSQL") if postgres else ("SQLite",)
    for keys in () if sync_only else (1_000, 100_000) if large else (1_000,):
        for database in databases:
            log(f"admin search over {keys:,} keys, {database}")
            p50, p95 = admin_search(work, keys, database)
            met = "yes" if p95 < search_keys.TARGET_P95_MS else "NO"
            target = f"target p95 < {search_keys.TARGET_P95_MS:.0f} ms: {met}"
            table.note(f"{keys:,} keys, {database}: p50 / p95 (ms)", f"{p50:.1f} / {p95:.1f}  ({target})")
    table.section("admin: a key's page, 90 days x 30 operations of hourly usage (in-process test client)")
    log("key page with a long usage history")
    for database, p50, p95 in key_page_latency(work, postgres=postgres):
        met = "yes" if p95 < key_page.TARGET_P95_MS else "NO"
        target = f"target p95 < {key_page.TARGET_P95_MS:.0f} ms: {met}"
        table.note(f"{database}: p50 / p95 (ms)", f"{p50:.1f} / {p95:.1f}  ({target})")
    if not sync_only:
        audit_export_rows(table, work, large, postgres)


def main() -> int:
    """Run every measurement and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per round and endpoint")
    parser.add_argument("--rounds", type=int, default=3, help="alternating bare/healthz/list rounds")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--skip-large", action="store_true", help="skip the 100,000-product and -key runs")
    parser.add_argument("--skip-production", action="store_true", help="skip PostgreSQL + Redis + 2 workers")
    parser.add_argument("--skip-embedded", action="store_true", help="skip waitress + SQLite")
    parser.add_argument(
        "--serving-only", action="store_true", help="only the served rows: no admin search, no key page"
    )
    parser.add_argument(
        "--sync-only", action="store_true", help="only the SPEC §14 sync rows (100,000 products)"
    )
    parser.add_argument(
        "--admin-only", action="store_true", help="only the admin rows: the key search and a key's page"
    )
    parser.add_argument(
        "--scope-only",
        action="store_true",
        help="only the SPEC §16 scope rows: scoped lists against unscoped ones (production, 10,000 products)",
    )
    parser.add_argument(
        "--embedded-server",
        choices=("waitress", "gunicorn-threads"),
        default="waitress",
        help="waitress as shipped (make run), or gunicorn with 1 worker x 4 threads (the old make run)",
    )
    args = parser.parse_args()
    if args.seconds < 1 or args.connections < 1 or args.rounds < 1:
        parser.error("--seconds, --connections and --rounds must be positive")
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed: apt-get install -y wrk")

    started, started_at = time.monotonic(), time.strftime("%Y-%m-%d %H:%M %Z")
    table = Table()
    work = Path(tempfile.mkdtemp(prefix="stockgate-bench-"))
    load = {"seconds": args.seconds, "connections": args.connections, "rounds": args.rounds}
    large = not args.skip_large
    if args.scope_only and (args.sync_only or args.admin_only or args.skip_production):
        parser.error("--scope-only measures the production shape alone: drop the other -only/skip options")
    if args.sync_only and args.skip_large:
        parser.error("--sync-only measures at 100,000 products: drop --skip-large")
    try:
        if not (args.skip_embedded or args.admin_only or args.scope_only):
            embedded(table, embedded_shape(args.embedded_server), work, load, large, args.sync_only)
        if not (args.skip_production or args.admin_only):
            production(table, load, large, args.sync_only, args.scope_only)
        if not (args.serving_only or args.scope_only):
            admin(table, work, large, args.sync_only, postgres=not args.skip_production)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"make bench, started {started_at}: {os.cpu_count()} cores, wrk 1 thread x "
        f"{args.connections} connections, {args.rounds} rounds x {args.seconds} s, medians; "
        f"commit {git_commit()}"
    )
    table.print()
    print(f"(whole run: {(time.monotonic() - started) / 60:.1f} min)")
    return 0


def git_commit() -> str:
    """The checked-out commit, with ``+changes`` when the tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "app"], cwd=ROOT, capture_output=True, text=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" + uncommitted app/ changes" if dirty.stdout.strip() else "")


if __name__ == "__main__":
    raise SystemExit(main())
