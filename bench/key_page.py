"""Measure a key's page (with its Usage section) over a long usage history.

Seeds a fresh database through the flush's own writer (``app.usage.store.add_counts``, so the
daily roll-up is written as in production): one busy key with 90 days x 24 hours x 30
operations of hourly usage rows (plus 404, 429 and 403 rows sprinkled in, about 80,000 rows),
and ten other keys with 90 days of 3 operations each, so the tables are not the busy key's
alone. Signs in with the test client and times ``GET /settings/api-keys/<prefix>``, the
whole page as a browser asks for it.

    python bench/key_page.py [--rounds 50] [--db /tmp/stockgate-bench-key-page.db]
    python bench/key_page.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

With ``--database-url`` a scratch database is created on that server and dropped afterwards.
Target (issue 17): p95 under 50 ms.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text

from app import accounts, create_app
from app.catalogue import ALL_ABILITIES
from app.extensions import db
from app.models.api_keys import ApiKey
from app.models.users import User
from app.usage.counting import UsageBuffer
from app.usage.store import Cell, add_counts
from bench.harness import scratch_database

ADMIN_EMAIL = "bench-admin@example.com"
ADMIN_PASSWORD = "bench-password-123"
FAKE_HASH = "$2b$04$" + "x" * 53
BUSY_PREFIX = "sgk_BusyKey1"
DAYS = 90
TARGET_P95_MS = 50.0


def make_app(database_url: str) -> Any:
    """The app under measurement on ``database_url``; no flush thread (nothing is counted)."""
    return create_app(
        {
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "PASSWORD_BCRYPT_ROUNDS": 4,
            "API_KEY_BCRYPT_ROUNDS": 4,
            "RATELIMIT_ENABLED": False,
            "USAGE_FLUSH_SECONDS": 0,
        }
    )


def _usage_rows(key_id: int, operations: list[str], held: set[str], start: datetime) -> list[dict[str, Any]]:
    rows = []
    for hour_index in range(DAYS * 24):
        hour = start + timedelta(hours=hour_index)
        for n, operation in enumerate(operations):
            status = 200 if operation in held else 403
            rows.append(
                {
                    "key_id": key_id,
                    "hour": hour,
                    "operation": operation,
                    "status": status,
                    "count": 1 + (hour_index + n) % 40,
                    "last_at": hour + timedelta(minutes=(hour_index * 7 + n) % 60),
                }
            )
            spice = (hour_index * 31 + n * 7) % 60
            if spice < 10:  # about one cell in six also had a 404
                rows.append({**rows[-1], "status": 404, "count": 1})
            elif spice < 13:  # and one in twenty a 429
                rows.append({**rows[-1], "status": 429, "count": 2})
    return rows


def seed(app: Any) -> int:
    """Create the schema, an admin, the busy key and ten quieter ones with their usage; return
    how many usage rows were written."""
    with app.app_context():
        db.drop_all()
        db.create_all()
        accounts.create_user(
            ADMIN_EMAIL, "Bench Admin", password=ADMIN_PASSWORD, is_admin=True, actor="bench"
        )
        owner = db.session.scalar(db.select(User.id).where(User.email == ADMIN_EMAIL))
        now = datetime.now(UTC)
        keys = [
            {
                "name": "Busy integration" if i == 0 else f"Quiet integration {i}",
                "prefix": BUSY_PREFIX if i == 0 else f"sgk_Quiet{i:03d}",
                "key_hash": FAKE_HASH,
                "owner_id": owner,
                "abilities": list(ALL_ABILITIES[:24]) if i == 0 else list(ALL_ABILITIES[:3]),
                "status": "active",
                "rate_limit": 600,
                "created_at": now - timedelta(days=DAYS + 1),
            }
            for i in range(11)
        ]
        db.session.execute(insert(ApiKey.__table__), keys)
        ids = {prefix: key_id for prefix, key_id in db.session.execute(db.select(ApiKey.prefix, ApiKey.id))}
        start = (now - timedelta(days=DAYS - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
        written = 0
        for prefix, key_id in ids.items():
            busy = prefix == BUSY_PREFIX
            operations = list(ALL_ABILITIES) if busy else list(ALL_ABILITIES[:3])
            rows = _usage_rows(key_id, operations, set(keys[0]["abilities"] if busy else operations), start)
            buffer = UsageBuffer()
            for row in rows:
                cell = Cell(key_id, row["hour"], row["operation"], row["status"])
                buffer.add(cell, row["last_at"], row["count"])
            db.session.commit()
            with db.engine.begin() as connection:
                add_counts(connection, buffer.drain())
            written += len(rows)
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        return written


def measure(app: Any, rounds: int) -> list[float]:
    """Sign in, warm up, then time ``rounds`` requests of the busy key's page (milliseconds).

    Measured as the servers run the app: gunicorn's workers (``gunicorn.conf.py``) and ``make
    run``'s waitress (``wsgi.served_app``) freeze the loaded app's objects (``gc.freeze()``), so
    full collections do not walk them. Unfrozen, a full collection walks ~140,000 objects and
    costs ~40 ms every few dozen requests: printed beside it for reference (``measure_unfrozen``).
    """
    gc.collect()
    gc.freeze()
    try:
        return _timed(app, rounds)
    finally:
        gc.unfreeze()


def measure_unfrozen(app: Any, rounds: int) -> list[float]:
    """The same, with every object in the collector's sight (for reference)."""
    return _timed(app, rounds)


def _timed(app: Any, rounds: int) -> list[float]:
    client = app.test_client()
    page = client.get("/login").text
    token = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    credentials = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token}
    signed = client.post("/login", data=credentials)
    assert signed.status_code == 302, signed.status_code
    url = f"/settings/api-keys/{BUSY_PREFIX}"
    for _ in range(3):
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        assert 'id="usage-days"' in response.text
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return times


def summary(times: list[float]) -> tuple[float, float]:
    """Median and p95 in milliseconds."""
    return statistics.median(times), statistics.quantiles(times, n=20)[-1]


def run_sqlite(path: Path, rounds: int) -> tuple[int, list[float], list[float]]:
    """Seed a SQLite file at ``path`` and time the page: (usage rows, ms frozen, ms unfrozen)."""
    path.unlink(missing_ok=True)
    app = make_app(f"sqlite:///{path}")
    rows = seed(app)
    return rows, measure(app, rounds), measure_unfrozen(app, rounds)


def run_postgres(server_url: str, rounds: int) -> tuple[int, list[float], list[float]]:
    """Seed a scratch PostgreSQL database on ``server_url``, time the page, drop the database."""
    with scratch_database(server_url, "keypage") as url:
        app = make_app(url)
        rows = seed(app)
        times, unfrozen = measure(app, rounds), measure_unfrozen(app, rounds)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        return rows, times, unfrozen


def main() -> None:
    """Seed, then print p50 and p95 of the key's page on SQLite (and PostgreSQL when asked)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--db", default="/tmp/stockgate-bench-key-page.db")
    parser.add_argument("--database-url", help="a PostgreSQL server: a scratch database is made there")
    args = parser.parse_args()
    if args.rounds < 2:
        parser.error("--rounds must be at least 2")
    runs = [("SQLite", lambda: run_sqlite(Path(args.db), args.rounds))]
    if args.database_url:
        runs.append(("PostgreSQL", lambda: run_postgres(args.database_url, args.rounds)))
    for label, run in runs:
        started = time.perf_counter()
        rows, times, unfrozen = run()
        print(f"{label}: {rows:,} usage rows seeded, run in {time.perf_counter() - started:.1f} s")
        p50, p95 = summary(times)
        verdict = "ok" if p95 < TARGET_P95_MS else "OVER TARGET"
        print(
            f"  key page p50 {p50:5.1f} ms, p95 {p95:5.1f} ms over {len(times)} requests "
            f"(target p95 < {TARGET_P95_MS:.0f} ms: {verdict})"
        )
        p50, p95 = summary(unfrozen)
        print(f"  without gc.freeze() (reference): p50 {p50:5.1f} ms, p95 {p95:5.1f} ms")


if __name__ == "__main__":
    main()
