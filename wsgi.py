"""WSGI entry point: ``gunicorn wsgi:app``, ``waitress-serve --call wsgi:served_app`` (``make run``),
and ``FLASK_APP=wsgi.py`` for the CLI."""

import gc
import sys

from flask import Flask

from app import create_app
from app.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # One line for the operator, not a traceback.
    sys.exit(f"Stockgate: {exc}")


def served_app() -> Flask:
    """The app for ``make run``'s waitress, with its loaded objects frozen out of the collector.

    As ``gunicorn.conf.py`` does for its workers: full collections no longer walk the ~140,000
    objects of the loaded app (~40 ms each, every few dozen requests; bench/key_page.py). Only
    for a long-running server, not at import: a frozen SQLite connection is not closed at exit,
    which a server's next start replays from the WAL, but a short ``flask`` command must not
    leave behind.
    """
    gc.collect()
    gc.freeze()
    return app
