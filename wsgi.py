"""WSGI entry point: ``gunicorn wsgi:app`` (and ``FLASK_APP=wsgi.py`` for the CLI)."""

import gc
import sys

from app import create_app
from app.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # One line for the operator, not a traceback.
    sys.exit(f"Stockgate: {exc}")

# The app's objects live as long as the process: out of the collector's sight, full collections
# no longer walk them (~140,000 objects, ~40 ms each; bench/key_page.py). gunicorn's workers
# freeze again after forking (gunicorn.conf.py); this covers waitress (`make run`).
gc.freeze()
