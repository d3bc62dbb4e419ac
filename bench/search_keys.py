"""Measure the API Keys search fragment over 100,000 keys on SQLite (or PostgreSQL).

Seeds a fresh SQLite file (or a PostgreSQL database) by bulk-inserting rows directly (fake
bcrypt hashes: hashing 100,000 keys would take hours and is not what is measured), signs in
with the test client and times ``GET /settings/api-keys?q=...`` as htmx sends it, over varied
queries.

    python bench/search_keys.py [--keys 100000] [--rounds 5] [--db /tmp/stockgate-bench.db]
    python bench/search_keys.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

Target (issue 25): p95 under 20 ms at 100,000 keys.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from app import accounts, create_app
from app.catalogue import ALL_ABILITIES
from app.extensions import db
from app.keys.format import ALPHABET
from app.models.api_keys import ApiKey
from app.models.users import User
from bench.harness import scratch_database

ADMIN_EMAIL = "bench-admin@example.com"
ADMIN_PASSWORD = "bench-password-123"
FAKE_HASH = "$2b$04$" + "x" * 53
WORDS_A = [
    "Shopify",
    "Amazon",
    "Warehouse",
    "Finance",
    "Nightly",
    "Returns",
    "Supplier",
    "Brand",
    "Ledger",
    "Replenishment",
    "Customer",
    "Inventory",
    "Catalogue",
    "Export",
    "Import",
    "Audit",
]
WORDS_B = [
    "sync",
    "bridge",
    "scanner",
    "export",
    "report",
    "feed",
    "job",
    "connector",
    "dashboard",
    "webhook",
    "integration",
    "mirror",
    "planner",
    "bot",
    "pipeline",
    "tool",
]
STATUSES = ["active"] * 7 + ["inactive"] * 2 + ["revoked"]
TARGET_P95_MS = 20.0
SEED = 20261127


def _prefix(rng: random.Random, seen: set[str]) -> str:
    while True:
        prefix = "sgk_" + "".join(rng.choice(ALPHABET) for _ in range(8))
        if prefix not in seen:
            seen.add(prefix)
            return prefix


def seed(app, n_keys: int, rng: random.Random) -> list[str]:
    """Create the schema, an admin, 300 owners and ``n_keys`` keys; return some prefixes."""
    with app.app_context():
        db.drop_all()
        db.create_all()
        accounts.create_user(
            ADMIN_EMAIL, "Bench Admin", password=ADMIN_PASSWORD, is_admin=True, actor="bench"
        )
        now = datetime.now(UTC)
        owners = [
            {
                "email": f"owner{i}@{'stockgate.internal' if i % 5 == 0 else 'example.com'}",
                "name": f"{rng.choice(WORDS_A)} owner {i}",
                "is_admin": False,
                "is_system": i % 5 == 0,
                "created_at": now,
            }
            for i in range(300)
        ]
        db.session.execute(insert(User), owners)
        owner_ids = list(range(2, 302))
        seen: set[str] = set()
        rows = []
        for i in range(n_keys):
            expires = None
            if i % 4 == 0:
                expires = now + timedelta(days=rng.randint(-60, 400))
            rows.append(
                {
                    "name": f"{rng.choice(WORDS_A)} {rng.choice(WORDS_B)} {i}",
                    "prefix": _prefix(rng, seen),
                    "key_hash": FAKE_HASH,
                    "owner_id": rng.choice(owner_ids),
                    "abilities": rng.sample(ALL_ABILITIES, 3),
                    "status": rng.choice(STATUSES),
                    "rate_limit": rng.choice([60, 120, 600, 1000]),
                    "expires_at": expires,
                    "last_used_at": now - timedelta(minutes=rng.randint(1, 100_000)) if i % 3 else None,
                    "created_at": now - timedelta(seconds=n_keys - i),
                }
            )
            if len(rows) == 10_000:
                db.session.execute(insert(ApiKey.__table__), rows)
                rows = []
        if rows:
            db.session.execute(insert(ApiKey.__table__), rows)
        db.session.commit()
        settle()
        return rng.sample(sorted(seen), 20)


def settle() -> None:
    """Leave the tables as a database that grew over time has them: statistics, and on
    PostgreSQL the GIN pending list merged into the trigram indexes (autovacuum does that in
    service; left pending, every search scans the list: 5 ms instead of 0.6 for "4242")."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(db.text("VACUUM ANALYZE"))
        return
    db.session.execute(db.text("ANALYZE"))
    db.session.commit()


def queries(prefixes: list[str]) -> list[tuple[str, dict[str, str]]]:
    """Varied searches: common words, rare words, prefixes, owners, no match, filters, sorts."""
    cases: list[tuple[str, dict[str, str]]] = [
        ("empty", {}),
        ("common word", {"q": "sync"}),
        ("common word 2", {"q": "shopify"}),
        ("two words", {"q": "amazon bridge"}),
        ("number", {"q": "4242"}),
        ("owner email", {"q": "owner17@"}),
        ("owner domain", {"q": "stockgate.internal"}),
        ("no match", {"q": "zzzzqqq"}),
        # Names numbered in creation order: its ~700 matches sit together, far down the newest-first
        # order (an index walk meets none for a long stretch).
        ("clustered", {"q": "sync 1"}),
        ("single char", {"q": "e"}),
        ("percent", {"q": "%"}),
        ("status active", {"status": "active"}),
        ("status expired", {"status": "expired"}),
        ("status revoked + q", {"status": "revoked", "q": "ledger"}),
        ("sort name asc", {"sort": "name", "dir": "asc"}),
        ("sort owner + q", {"sort": "owner", "dir": "desc", "q": "feed"}),
        ("page 40", {"page": "40"}),
        ("q + page 3", {"q": "report", "page": "3"}),
    ]
    cases += [(f"prefix {p}", {"q": p}) for p in prefixes[:5]]
    cases += [(f"prefix start {p[:7]}", {"q": p[:7]}) for p in prefixes[5:8]]
    return cases


def make_app(database_url: str) -> Any:
    """The app under measurement, on ``database_url``, with limits off (we time search)."""
    return create_app(
        {
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "PASSWORD_BCRYPT_ROUNDS": 4,
            "API_KEY_BCRYPT_ROUNDS": 4,
            "RATELIMIT_ENABLED": False,
        }
    )


def measure(app: Any, prefixes: list[str], rounds: int) -> list[tuple[str, list[float], int]]:
    """Sign in and time every query ``rounds`` times: (label, milliseconds, rows shown)."""
    client = app.test_client()
    page = client.get("/login").text
    token = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    signed = client.post(
        "/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token}
    )
    assert signed.status_code == 302, signed.status_code
    headers = {"HX-Request": "true"}
    cases = queries(prefixes)
    for _, params in cases:  # warm up caches and the template
        client.get("/settings/api-keys", query_string=params, headers=headers)
    results = []
    for label, params in cases:
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            response = client.get("/settings/api-keys", query_string=params, headers=headers)
            times.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200
        results.append((label, times, response.text.count('class="key-row ')))
    return results


def run_postgres(server_url: str, n_keys: int, rounds: int) -> list[tuple[str, list[float], int]]:
    """Seed a scratch PostgreSQL database on ``server_url``, time the searches, drop it."""
    with scratch_database(server_url, "search") as url:
        app = make_app(url)
        results = measure(app, seed(app, n_keys, random.Random(SEED)), rounds)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        return results


def summary(results: list[tuple[str, list[float], int]]) -> tuple[float, float]:
    """Median and p95 (ms) over every timed request."""
    all_times = [t for _, times, _ in results for t in times]
    return statistics.median(all_times), statistics.quantiles(all_times, n=20)[-1]


def main() -> None:
    """Seed, sign in, then time every query ``rounds`` times and print median and p95."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--db", default="/tmp/stockgate-bench-search.db")
    parser.add_argument("--database-url", help="another database (e.g. a scratch PostgreSQL); wiped!")
    parser.add_argument("--postgres", metavar="SERVER_URL", help="a PostgreSQL server: a scratch database")
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database")
    args = parser.parse_args()
    if args.keys < 1 or args.rounds < 2:
        parser.error("--keys must be at least 1 and --rounds at least 2")

    started = time.perf_counter()
    if args.postgres:
        results = run_postgres(args.postgres, args.keys, args.rounds)
        print(f"seeded {args.keys:,} keys and ran in {time.perf_counter() - started:.1f} s (PostgreSQL)")
        report(results)
        return
    app = make_app(args.database_url or f"sqlite:///{args.db}")
    rng = random.Random(SEED)
    if args.reuse and (args.database_url or Path(args.db).exists()):
        with app.app_context():
            prefixes = list(db.session.scalars(db.select(ApiKey.prefix).limit(20)))
    else:
        prefixes = seed(app, args.keys, rng)
    where = args.database_url.rsplit("@", 1)[-1] if args.database_url else args.db
    print(f"seeded {args.keys:,} keys in {time.perf_counter() - started:.1f} s ({where})")

    report(measure(app, prefixes, args.rounds))


def report(results: list[tuple[str, list[float], int]]) -> None:
    """Print median and p95 per query, then over every request."""
    print(f"{'query':<34}{'median ms':>10}{'p95 ms':>9}{'rows':>6}")
    for label, times, rows in results:
        p95 = statistics.quantiles(times, n=20)[-1]
        print(f"{label:<34}{statistics.median(times):>10.1f}{p95:>9.1f}{rows:>6}")
    median, p95 = summary(results)
    count = sum(len(times) for _, times, _ in results)
    print(f"\nALL {count} requests: median {median:.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
