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


def read_without_transaction() -> None:
    """Let this request's session read in autocommit on PostgreSQL: no BEGIN/ROLLBACK round trips.

    For requests that only read (the API). Under READ COMMITTED each statement takes its own
    snapshot anyway. Call it before the session's first statement; a session already in a
    transaction (a caller sharing the app context) keeps it. SQLite has nothing to save: its
    driver opens no transaction for a SELECT.
    """
    if dialect() == "postgresql" and not db.session().in_transaction():
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def dialect() -> str:
    """The current app's database dialect: ``"sqlite"`` or ``"postgresql"``."""
    return current_app.extensions[EXTENSION_NAME]
