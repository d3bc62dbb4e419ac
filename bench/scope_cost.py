"""A scoped list against the same list read by an unscoped key, in-process and paired per request.

Served rows (``bench/run.py``) swing with the neighbours' load on a shared machine; here the two
keys' requests alternate one by one through the Flask test client, so a burst of noise hits both
alike. Times are wall-clock (the database's work included), medians over ``calls`` requests each.

Usage: ``python bench/scope_cost.py PATH UNSCOPED_KEY SCOPED_KEY`` (the environment picks the
database and storage, as for the app); prints ``unscoped=MS`` and ``scoped=MS``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure(path: str, unscoped: str, scoped: str, calls: int = 1500, warm: int = 100) -> dict[str, float]:
    """Median wall milliseconds of ``path`` for each key, the keys alternating request by request."""
    from wsgi import app  # the app exactly as the servers load it

    client = app.test_client()
    keys = {"unscoped": unscoped, "scoped": scoped}
    times: dict[str, list[float]] = {"unscoped": [], "scoped": []}
    for call in range(warm + calls):
        # Which key goes first alternates too, so neither always finds the other's cache warm.
        for name in ("unscoped", "scoped") if call % 2 else ("scoped", "unscoped"):
            started = time.perf_counter()
            response = client.get(path, headers={"X-API-Key": keys[name]})
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} ({name}) answered {response.status_code}")
            if call >= warm:
                times[name].append(elapsed * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    """Print each key's median in milliseconds, one ``name=value`` a line."""
    for name, value in measure(*sys.argv[1:4]).items():
        print(f"{name}={value:.4f}")


if __name__ == "__main__":
    main()
