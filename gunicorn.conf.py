"""gunicorn settings for Stockgate (read automatically from the working directory).

Environment: ``WEB_CONCURRENCY`` (workers, default 2 x cores + 1), ``GUNICORN_THREADS``
(default 1), ``BIND`` (default 127.0.0.1:8000). Refuses to start several workers with
``memory://`` rate-limit storage: each process would count on its own and let N times the
limit through.

Why one thread per worker by default: measured with ``make bench`` on 2 cores, a sync worker
served 58% more authenticated list requests per second than the same process with 4 threads
(2.9 vs 4.9 ms of CPU per request: the threads mostly fight over the GIL). Sync workers handle
one request at a time, so put a buffering reverse proxy (nginx, a cloud load balancer) in
front, as gunicorn's documentation advises, and size ``WEB_CONCURRENCY`` for concurrency.

The embedded default (``make run``: SQLite, one process, four threads) is different: there the
app lets one request at a time run (``app/request_gate.py``), and threads on SQLite run
``app.gate_worker.GateWorker``: the thread holding that gate serves requests one after the
other with no hand-over between threads (as fast as a sync worker), while spare threads carry
on whenever it waits for bcrypt, a slow statement or a slow client. On PostgreSQL, threads run
gunicorn's own threaded worker: there a query waits for the network, which other threads
should be free to use.
"""

import gc
import os
import sys


def _count(name: str, default: int) -> int:
    """A positive whole number from the environment, or stop with a one-line reason."""
    raw = os.environ.get(name, "").strip() or str(default)
    if not raw.isdigit() or int(raw) < 1:
        sys.exit(f"Stockgate: {name} must be a whole number of at least 1, not {raw!r}.")
    return int(raw)


bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = _count("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1)
threads = _count("GUNICORN_THREADS", 1)

if threads == 1:
    worker_class = "sync"
elif os.environ.get("DATABASE_URL", "sqlite:").startswith("sqlite:"):  # the default is SQLite
    worker_class = "app.gate_worker.GateWorker"
else:
    worker_class = "gthread"
# Load the app once in the master: faster forks, and configuration errors stop start-up.
preload_app = True
timeout = 30
graceful_timeout = 20
keepalive = 5
# Several servers may run on one machine (tests, bench, `make run`): no shared control socket.
control_socket_disable = True
accesslog = "-"
# Each atom worked out only when the format names it, credentials masked (app/access_log.py).
logger_class = "app.access_log.AccessLogger"
# No query strings in the access log: a key wrongly sent as ?api_key=... must not be logged.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'


def on_starting(server):
    """Refuse unsafe combinations before any worker starts, with a one-line reason."""
    storage = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    if server.cfg.workers > 1 and storage.startswith("memory://"):
        sys.stderr.write(
            "Stockgate: RATELIMIT_STORAGE_URI=memory:// cannot be shared by "
            f"{server.cfg.workers} workers (each would allow the full limit); "
            "set RATELIMIT_STORAGE_URI=redis://... or use one worker.\n"
        )
        sys.exit(1)


def post_worker_init(worker):
    """Move the loaded application's objects out of the garbage collector's sight."""
    # Every full collection would otherwise walk the whole loaded app (hundreds of thousands of
    # objects that live as long as the process) and stall the requests in flight. Measured on
    # the embedded list of 25 products at 16 connections: p99 45-57 ms before, 25-35 ms after,
    # at the same throughput. It also keeps the collector from touching, and so copying, the
    # memory pages a worker shares with the master after fork (Python's gc.freeze() advice).
    gc.freeze()
