"""Measure the Audit Log's "Export CSV" at 100,000 events: time and peak memory (issue 27).

Seeds a fresh database with an admin and N audit events (bulk-inserted: what is measured is
the export, not ``audit.record``), signs in with the test client and downloads
``GET /settings/audit-log/export.csv`` without buffering, reading the streamed body chunk by
chunk as a browser would. Time is measured without tracemalloc; the peak of Python
allocations during the download (``tracemalloc``) in a second run. At 10,000 and 100,000 events
the peak should be about the same: the export holds one batch (``audit.EXPORT_BATCH``) at a
time, not the whole log.

    python bench/audit_export.py [--events 100000] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from app import accounts
from app.extensions import db
from app.models.audit import ACTIONS, AuditEvent
from bench.harness import scratch_database
from bench.search_keys import ADMIN_EMAIL, ADMIN_PASSWORD, make_app

EXPORT = "/settings/audit-log/export.csv"
_BATCH = 10_000


def seed(app: Any, events: int) -> None:
    """The schema, an admin, and ``events`` events a second apart with typical details."""
    with app.app_context():
        db.drop_all()
        db.create_all()
        accounts.create_user(
            ADMIN_EMAIL, "Bench Admin", password=ADMIN_PASSWORD, is_admin=True, actor="bench"
        )
        start = datetime.now(UTC) - timedelta(seconds=events)
        table = AuditEvent.__table__
        for first in range(0, events, _BATCH):
            rows = [
                {
                    "created_at": start + timedelta(seconds=n),
                    "actor": f"admin{n % 7}@example.com",
                    "action": ACTIONS[n % len(ACTIONS)],
                    "key_prefix": f"sgk_{n:08d}",
                    "details": {"changes": {"rate_limit": {"old": 60, "new": 120}}, "reason": "bench"},
                    "address": f"203.0.113.{n % 250}",
                }
                for n in range(first, min(first + _BATCH, events))
            ]
            db.session.execute(insert(table), rows)
        db.session.commit()


def _signed_in(app: Any) -> Any:
    client = app.test_client()
    page = client.get("/login").text
    token = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    signed = client.post(
        "/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token}
    )
    assert signed.status_code == 302, signed.status_code
    return client


def download(client: Any) -> tuple[int, int]:
    """Download the export chunk by chunk, keeping nothing: (rows, bytes)."""
    response = client.get(EXPORT, buffered=False)
    assert response.status_code == 200, response.status_code
    rows = size = 0
    for chunk in response.response:
        size += len(chunk)
        rows += chunk.count(b"\n")
    response.close()
    return rows, size


def measure(app: Any, events: int) -> dict[str, float]:
    """Seconds and peak MiB of Python allocations for one export of ``events`` events."""
    client = _signed_in(app)
    download(client)  # warm: templates, the SQL compiled
    started = time.perf_counter()
    rows, size = download(client)
    seconds = time.perf_counter() - started
    assert rows > events, (rows, events)  # the header, every event, and the admin's own
    tracemalloc.start()
    download(client)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"seconds": seconds, "peak_mib": peak / 2**20, "mib": size / 2**20, "rows": rows}


def run_sqlite(path: Path, events: int) -> dict[str, float]:
    """Seed a SQLite file and measure the export."""
    app = make_app(f"sqlite:///{path}")
    seed(app, events)
    return measure(app, events)


def run_postgres(server_url: str, events: int) -> dict[str, float]:
    """Seed a scratch PostgreSQL database on ``server_url``, measure the export, drop it."""
    with scratch_database(server_url, "audit") as url:
        app = make_app(url)
        seed(app, events)
        result = measure(app, events)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        return result


def line(result: dict[str, float]) -> str:
    """One measurement as the bench table's note."""
    return (
        f"{result['seconds']:.2f} s, peak {result['peak_mib']:.1f} MiB allocated "
        f"({result['mib']:.1f} MiB of CSV)"
    )


def main() -> None:
    """Seed and print the export's time and peak memory on SQLite (and PostgreSQL when asked)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--db", default="/tmp/stockgate-bench-audit.db")
    parser.add_argument("--database-url", help="a PostgreSQL server: a scratch database is made there")
    args = parser.parse_args()
    if args.events < 1:
        parser.error("--events must be at least 1")
    print(f"SQLite, {args.events:,} events: {line(run_sqlite(Path(args.db), args.events))}")
    if args.database_url:
        print(f"PostgreSQL, {args.events:,} events: {line(run_postgres(args.database_url, args.events))}")


if __name__ == "__main__":
    main()
