"""gunicorn settings for Stockgate in production (read automatically from the working directory).

Environment: ``WEB_CONCURRENCY`` (workers, default 2 x cores + 1), ``GUNICORN_THREADS``
(default 1), ``BIND`` (default 127.0.0.1:8000). gunicorn's stock workers: sync workers behind a
buffering proxy (``deploy/nginx.conf``), which hands them only complete requests, as gunicorn's
documentation advises. Refuses several workers with ``memory://`` rate-limit storage: each
process would count on its own and let N times the limit through. ``make run`` uses waitress.
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

# Stock workers only: one thread is the sync worker, more are gunicorn's threaded worker.
worker_class = "sync" if threads == 1 else "gthread"
# Load the app once in the master: faster forks, and configuration errors stop start-up.
preload_app = True
timeout = 30
graceful_timeout = 20
keepalive = 5
# Several servers may run on one machine (tests, the bench): no shared control socket.
control_socket_disable = True
accesslog = "-"
# gunicorn's own logger, with credentials masked and control characters escaped.
logger_class = "gunicorn_logging.StockgateLogger"
# No query strings in the access log: a key wrongly sent as ?api_key=... must not be logged. The
# response's X-Request-Id (SPEC §6; "-" outside /api/) matches a line to an integrator's report.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'


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


def worker_exit(server, worker):
    """Write the worker's buffered usage counts before it exits (graceful stop or restart)."""
    from app import usage

    usage.flush(worker.wsgi)


def post_worker_init(worker):
    """Move the loaded application's objects out of the garbage collector's sight."""
    # They live as long as the worker: full collections need not walk (and so copy) them.
    gc.freeze()
