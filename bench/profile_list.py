"""Where Stockgate's list spends what the data floor does not: both profiled in-process.

Calls each app's WSGI callable in a loop (no server, no sockets to the client), the app's
``GET /api/v1/products?per_page=25`` with a proven key and the data floor's
``GET /api/v1/products`` (bench/data_floor.py), in alternating rounds, under cProfile. Prints
the CPU per request of each, then the functions' own time per request grouped by library,
side by side, and the functions where the app spends most that the floor does not.

Usage: ``python bench/profile_list.py RAW_KEY [--requests N] [--rounds R]``, with the
environment of the app (``DATABASE_URL``, ``RATELIMIT_STORAGE_URI``, ``SECRET_KEY``).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LIST_PATH = "/api/v1/products?per_page=25"

# Library folders (as in site-packages), then the project's own rooms: a function's group.
GROUPS = (
    "sqlalchemy",
    "psycopg",
    "redis",
    "limits",
    "flask_limiter",
    "flask_sqlalchemy",
    "flask_login",
    "flask_wtf",
    "flask_orjson",
    "flask",
    "werkzeug",
    "marshmallow",
    "bench/",
    "app/api/",
    "app/keys/",
    "app/usage/",
    "app/schemas/",
    "app/",
)


def group_of(filename: str) -> str:
    """The library or project folder a function belongs to; builtins are ``(C code)``."""
    path = filename.replace("\\", "/").replace(f"{ROOT}/", "")
    for name in GROUPS:
        marker = name if name.endswith("/") else f"/{name}/"
        if marker in path or (name.endswith("/") and path.startswith(name)):
            return name.rstrip("/")
    if path.startswith("~") or path == "":
        return "(C code)"
    if "/lib/python3" in path and "site-packages" not in path:
        return "stdlib"
    return "other"


def wsgi_caller(app: Any, path: str, headers: dict[str, str]) -> Callable[[], None]:
    """A function that runs one GET through ``app``'s WSGI callable and reads the whole body."""
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(path=path, headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    environ = builder.get_environ()

    def start_response(status: str, _headers: Any, _exc: Any = None) -> None:
        if not status.startswith("200"):
            raise RuntimeError(f"{path} answered {status}")

    def call() -> None:
        body = app(dict(environ), start_response)
        try:
            for _ in body:
                pass
        finally:
            if hasattr(body, "close"):
                body.close()

    return call


def profile(
    calls: dict[str, Callable[[], None]], requests: int, rounds: int, clock: Callable[[], float]
) -> dict[str, Any]:
    """CPU ms per request (best round) and one merged cProfile per name (timed by ``clock``),
    rounds alternating."""
    profiles = {name: cProfile.Profile(clock) for name in calls}
    best = dict.fromkeys(calls, float("inf"))
    for call in calls.values():  # warm up: caches, pools, proven key
        for _ in range(200):
            call()
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.process_time()
            for _ in range(requests):
                call()
            best[name] = min(best[name], (time.process_time() - started) * 1000 / requests)
        for name, call in calls.items():
            profiles[name].enable()
            for _ in range(requests):
                call()
            profiles[name].disable()
    return {"cpu": best, "profiles": profiles}


def per_request(prof: cProfile.Profile, total_requests: int) -> dict[tuple[str, int, str], float]:
    """Own time (µs per request) of every function in a profile."""
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    return {func: row[2] * 1e6 / total_requests for func, row in stats.items()}


def main() -> None:
    """Profile both and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("key")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="profile this process's CPU time, or wall time (which shows waits on the database and Redis)",
    )
    args = parser.parse_args()

    from bench import data_floor
    from wsgi import app

    calls = {
        "app": wsgi_caller(app, LIST_PATH, {"X-API-Key": args.key}),
        "floor": wsgi_caller(data_floor.app, data_floor.PATH, {}),
    }
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    result = profile(calls, args.requests, args.rounds, clock)
    total = args.requests * args.rounds
    own = {name: per_request(prof, total) for name, prof in result["profiles"].items()}
    print(f"CPU per request, best of {args.rounds} rounds of {args.requests} (no profiler):")
    for name, ms in result["cpu"].items():
        print(f"  {name:6} {ms:.3f} ms")
    print(f"  app - floor {result['cpu']['app'] - result['cpu']['floor']:.3f} ms")

    groups: dict[str, dict[str, float]] = {name: defaultdict(float) for name in own}
    for name, funcs in own.items():
        for (filename, _line, _func), us in funcs.items():
            groups[name][group_of(filename)] += us
    print(f"\nOwn {args.clock} time per request by group under cProfile (µs): app, floor, app - floor")
    app_groups, floor_groups = groups["app"], groups["floor"]
    names = sorted(set(app_groups) | set(floor_groups), key=lambda g: -(app_groups[g] - floor_groups[g]))
    for group in names:
        a, f = groups["app"][group], groups["floor"][group]
        print(f"  {group:18} {a:8.1f} {f:8.1f} {a - f:+8.1f}")
    print(f"  {'total':18} {sum(groups['app'].values()):8.1f} {sum(groups['floor'].values()):8.1f}")

    print(f"\nTop {args.top} functions by own time the app spends beyond the floor (µs per request):")
    keys = set(own["app"]) | set(own["floor"])
    diffs = sorted(keys, key=lambda k: -(own["app"].get(k, 0.0) - own["floor"].get(k, 0.0)))
    for key in diffs[: args.top]:
        filename, line, func = key
        short = filename.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
        a, f = own["app"].get(key, 0.0), own["floor"].get(key, 0.0)
        print(f"  {a - f:+7.1f}  {a:7.1f} {f:7.1f}  {short}:{line}({func})")

    for name, prof in result["profiles"].items():
        print(f"\nTop cumulative ({name}), µs per request, project code and its first calls:")
        stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
        cumulative = sorted(stats.items(), key=lambda item: -item[1][3])
        shown = 0
        for (filename, line, func), row in cumulative:
            short = filename.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
            if short.startswith(("app/", "bench/", "flask/", "flask_limiter/", "werkzeug/")):
                print(f"  {row[3] * 1e6 / total:8.1f}  {short}:{line}({func})")
                shown += 1
            if shown == args.top * 2:
                break


if __name__ == "__main__":
    main()
