"""Stockgate: the API access layer of an inventory back office for Amazon sellers."""

from __future__ import annotations

from typing import Any

from flask import Flask

from app import cli, extensions
from app.config import load_config
from app.keys import verification


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the application: config, extensions, blueprints, error handlers, CLI. Nothing else."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(load_config(app.instance_path))
    if test_config:
        app.config.from_mapping(test_config)

    _init_extensions(app)
    _register_blueprints(app)
    cli.init_app(app)
    return app


def _init_extensions(app: Flask) -> None:
    from app import accounts, database

    extensions.db.init_app(app)
    database.init_app(app)
    extensions.migrate.init_app(app, extensions.db, directory=_migrations_dir())
    extensions.csrf.init_app(app)
    extensions.login_manager.init_app(app)
    extensions.login_manager.user_loader(accounts.load_session_user)
    extensions.limiter.init_app(app)
    verification.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from app import panel, security
    from app.health import bp as health_bp

    app.register_blueprint(health_bp)
    panel.init_app(app)
    security.init_app(app)


def _migrations_dir() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent / "migrations")
