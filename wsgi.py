"""WSGI entry point: ``gunicorn wsgi:app``, ``waitress-serve --call wsgi:served_app`` (``make run``),
and ``FLASK_APP=wsgi.py`` for the CLI."""

import gc
import signal
import sys
import threading
from types import FrameType

from flask import Flask

from app import create_app
from app.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # One line for the operator, not a traceback.
    sys.exit(f"Stockgate: {exc}")

# What stops the embedded server: Ctrl-C, and what systemd, Docker and Kubernetes send.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def served_app() -> Flask:
    """The app for ``make run``'s waitress: stop signals made clean, loaded objects frozen.

    As ``gunicorn.conf.py`` does for its workers: full collections no longer walk the ~140,000
    objects of the loaded app (~40 ms each, every few dozen requests; bench/key_page.py). Only
    for a long-running server, not at import: a frozen SQLite connection is not closed at exit,
    which a server's next start replays from the WAL, but a short ``flask`` command must not
    leave behind. The same goes for the signal handlers (``stop_cleanly_on_signals``).
    """
    stop_cleanly_on_signals()
    gc.collect()
    gc.freeze()
    return app


def stop_cleanly_on_signals() -> None:
    """Make SIGTERM and SIGINT stop waitress as Ctrl-C does, so ``atexit`` writes the usage counts.

    Python's default SIGTERM kills the process without ``atexit`` (the buffered usage counts
    are lost), and a shell that starts a job in the background leaves it SIGINT ignored. Like
    gunicorn, the served process takes both signals over, whatever it inherited: each raises
    SystemExit in the main thread, which waitress's loop catches to close its threads. Called
    before waitress listens, so a server that answers has its handlers. Main thread only
    (Python's rule for signal handlers).
    """
    if threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            signal.signal(signum, _stop)


def _stop(signum: int, frame: FrameType | None) -> None:
    # A second signal while stopping is ignored: raised inside the final flush, it would lose
    # the counts this stop is for. The stop is short (waitress waits at most 5 s for its threads);
    # SIGKILL still ends a stuck one.
    for each in STOP_SIGNALS:
        signal.signal(each, signal.SIG_IGN)
    raise SystemExit(0)
