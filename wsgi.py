"""WSGI entry point: ``gunicorn wsgi:app`` (and ``FLASK_APP=wsgi.py`` for the CLI)."""

import sys

from app import create_app
from app.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # One line for the operator, not a traceback.
    sys.exit(f"Stockgate: {exc}")
