"""Database plumbing: engine options and hooks, and which database the app runs on.

``init_app`` decides once which database the app runs on (``dialect()`` tells the rest).
"""

from __future__ import annotations

from flask import Flask, current_app

from app.db.engine import install_hooks
from app.extensions import db

EXTENSION_NAME = "stockgate.db"


def init_app(app: Flask) -> None:
    """Install the engine hooks and record the database's dialect."""
    with app.app_context():
        engine = db.engine
    install_hooks(engine)
    app.extensions[EXTENSION_NAME] = engine.dialect.name


def dialect() -> str:
    """The current app's database dialect: ``"sqlite"`` or ``"postgresql"``."""
    return current_app.extensions[EXTENSION_NAME]
