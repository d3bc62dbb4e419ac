"""Database plumbing: engine options and hooks, DDL beyond the models, and the key search queries.

``init_app`` decides once which database the app runs on (``dialect()`` tells the rest).
"""

from __future__ import annotations

from flask import Flask, current_app

from app.db import key_search
from app.db.engine import install_hooks
from app.extensions import db

EXTENSION_NAME = "stockgate.db"


def init_app(app: Flask) -> None:
    """Install the engine hooks, register the extra DDL and record the database's dialect."""
    key_search.register_ddl()
    with app.app_context():
        engine = db.engine
    install_hooks(engine)
    app.extensions[EXTENSION_NAME] = engine.dialect.name


def dialect() -> str:
    """The current app's database dialect: ``"sqlite"`` or ``"postgresql"``."""
    return current_app.extensions[EXTENSION_NAME]
