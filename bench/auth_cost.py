"""CPU of the API guard (auth + per-key limit + last-used), of counting one request's usage and of a
whole list request, in-process.

Uses public entry points only: the app as ``wsgi.py`` builds it from the environment
(``DATABASE_URL``, ``RATELIMIT_STORAGE_URI``, ...), the guard's ``app.api.guard.guard``
called inside a request context, and the Flask test client. Times are this process's CPU
(``time.process_time``); with Redis, Redis's own CPU is not in them.

Usage: ``python bench/auth_cost.py RAW_KEY`` (the environment picks the database and storage).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PATH = "/api/v1/products?per_page=25"


def cpu_ms(step: Callable[[], None], calls: int, warm: int = 100) -> float:
    """Milliseconds of CPU per call of ``step``, after ``warm`` untimed calls."""
    for _ in range(warm):
        step()
    started = time.process_time()
    for _ in range(calls):
        step()
    return (time.process_time() - started) * 1000 / calls


def measure(raw_key: str, calls: int = 2000) -> dict[str, float]:
    """CPU ms per call: ``guard`` alone, the request context it runs in, a whole list request."""
    from wsgi import app  # the app exactly as the servers load it

    headers = {"X-API-Key": raw_key}
    environ = {"REMOTE_ADDR": "127.0.0.1"}
    client = app.test_client()

    def request() -> None:
        response = client.get(PATH, headers=headers, environ_base=environ)
        assert response.status_code == 200, (response.status_code, response.get_data(as_text=True)[:300])

    def context() -> None:
        # Pushing and popping the context runs the app's teardown (the connection goes back).
        with app.test_request_context(PATH, headers=headers, environ_base=environ):
            pass

    results = {"request": cpu_ms(request, calls // 4)}
    # The data floor's whole request, the same way (bench/data_floor.py, the same database).
    from bench import data_floor

    floor_client = data_floor.app.test_client()

    def floor_request() -> None:
        assert floor_client.get(data_floor.PATH).status_code == 200

    results["floor"] = cpu_ms(floor_request, calls // 4)
    try:
        from app.api.guard import guard
    except ImportError:  # the guard moved: only the whole request is measured
        return results

    def guarded() -> None:
        with app.test_request_context(PATH, headers=headers, environ_base=environ):
            guard()

    results["context"] = cpu_ms(context, calls)
    results["guard"] = max(0.0, cpu_ms(guarded, calls) - results["context"])
    try:
        from app import usage
    except ImportError:  # before usage counting (issue 17)
        return results

    def counted() -> None:
        usage.count(1, "products:list", 200)

    # Counted alone inside one context: a count (microseconds) is lost in the noise of a
    # context pushed around each call.
    with app.test_request_context(PATH, headers=headers, environ_base=environ):
        results["usage count"] = cpu_ms(counted, calls)
    return results


def main() -> None:
    """Print ``name=value`` lines (milliseconds) for bench/run.py."""
    for name, value in measure(sys.argv[1]).items():
        print(f"{name}={value:.4f}")


if __name__ == "__main__":
    main()
