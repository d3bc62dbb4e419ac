"""CPU of the API guard alone -- auth + per-key rate limit + last-used -- for a proven key.

Runs in-process: the guard of ``GET /api/v1/products`` is called in a request context, and
``time.process_time`` is read around many calls. Each call is what a request pays before
the view: authenticate (parse, key row, proven-key cache, status and expiry), count the hit
in the key's bucket with its window stats for the headers, and the once-a-minute last-used
check. The request's read connection (``app.api.reads``) is returned to the pool after
every call, as at the end of a request; the cost of that checkout alone is measured too and
shown apart. With Redis the figure is this process's CPU only (Redis's own CPU is not in it).

Usage: ``python bench/auth_cost.py DATABASE_URL STORAGE_URI RAW_KEY``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PATH = "/api/v1/products?per_page=25"


def measure(database_url: str, storage_uri: str, raw_key: str, calls: int = 3000) -> tuple[float, float]:
    """Return (guard ms CPU per call, connection checkout + return ms CPU per call)."""
    from flask import g

    from app import create_app
    from app.api import guard, reads
    from app.config import engine_options
    from app.extensions import db

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options(database_url),
            "RATELIMIT_STORAGE_URI": storage_uri,
        }
    )
    headers = {"X-API-Key": raw_key}
    with app.test_request_context(PATH, headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"}):

        def one_guard() -> None:
            g.pop("_api_auth", None)
            guard.guard()
            reads.close()  # as at the end of a request: the connection goes back to the pool
            db.session.remove()

        def one_checkout() -> None:
            reads.connection()
            reads.close()
            db.session.remove()

        results = []
        for step in (one_guard, one_checkout):
            for _ in range(200):  # warm: proves the key, fills caches
                step()
            started = time.process_time()
            for _ in range(calls):
                step()
            results.append((time.process_time() - started) * 1000 / calls)
    return results[0], results[1]


if __name__ == "__main__":
    guard_ms, checkout_ms = measure(*sys.argv[1:4])
    print(f"guard {guard_ms:.3f} ms, of which connection checkout {checkout_ms:.3f} ms")
