"""First vs deep page, by cursor and by number, for several sorts, in-process (SPEC §14).

``python bench/cursor_depth.py DATABASE_URL`` against a *copy* of a seeded database (it adds a
system user and a key): for each sort, walks the products list by cursor to record 99,976 (where
``page=4000`` of 25 starts), then times the first and that deep page by cursor, and ``page=1``
and ``page=4000``, through the Flask test client (medians, milliseconds). ``make bench`` measures
the default sort over HTTP; this shows the other sorts, whose keyset runs on their own index.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import accounts, create_app
from app.catalogue import ALL_ABILITIES
from app.keys import service

SORTS = ("id", "updated_at", "-updated_at", "name", "-sale_price")
DEEP_RECORD = 99_975  # records before page 4,000 of 25


def main(database_url: str) -> None:
    """Print one line per sort."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "bench-secret",
            "RATELIMIT_STORAGE_URI": "memory://",
            "API_KEY_BCRYPT_ROUNDS": 4,
        }
    )
    with app.app_context():
        owner = f"depth-{uuid.uuid4().hex[:6]}@example.com"
        accounts.create_user(owner, "Cursor depth", actor="bench", is_system=True)
        key = service.create_key(
            name="cursor depth", owner=owner, abilities=list(ALL_ABILITIES), rate_limit=100_000, actor="bench"
        ).raw_key
    client = app.test_client()
    headers = {"X-API-Key": key}

    def timed(path: str, runs: int) -> float:
        """Median milliseconds of ``runs`` GETs of ``path``."""
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(path, headers=headers)
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{path}: {response.status_code} {response.get_data(as_text=True)[:300]}")
        return statistics.median(times)

    for sort in SORTS:
        cursor, skip = "", DEEP_RECORD
        while skip:
            step = min(100, skip)
            path = f"/api/v1/products?per_page={step}&sort={sort}&cursor={quote(cursor)}"
            cursor = client.get(path, headers=headers).get_json()["meta"]["next_cursor"]
            skip -= step
        base = f"/api/v1/products?per_page=25&sort={sort}"
        first, deep = timed(f"{base}&cursor=", 15), timed(f"{base}&cursor={cursor}", 15)
        page_1, page_4000 = timed(f"{base}&page=1", 5), timed(f"{base}&page=4000", 5)
        print(
            f"{sort:12} cursor first {first:6.2f} deep {deep:6.2f} ({deep / first:.2f}x) | "
            f"page=1 {page_1:6.2f} page=4000 {page_4000:7.2f} ({page_4000 / page_1:.2f}x)"
        )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
