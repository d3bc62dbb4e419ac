"""Stockgate: the API access layer of an inventory back office for Amazon sellers."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_orjson import OrjsonProvider

from app import cli, extensions
from app.config import load_config
from app.keys import search, verification
from app.web import hosts, routing


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the application: config, extensions, blueprints, error handlers, CLI. Nothing else."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(load_config(app.instance_path))
    if test_config:
        app.config.from_mapping(test_config)

    app.json = OrjsonProvider(app)  # keeps "data", "meta", "links" in the documented order
    _wrap_proxy(app)
    hosts.init_app(app)
    routing.init_app(app)
    _init_extensions(app)
    _register_blueprints(app)
    cli.init_app(app)
    return app


def _init_extensions(app: Flask) -> None:
    from app import accounts, db
    from app.web import sessions

    extensions.db.init_app(app)
    search.register_ddl()  # the key search's DDL that no model can declare (FTS5, pg_trgm)
    db.init_app(app)
    extensions.migrate.init_app(app, extensions.db, directory=_migrations_dir())
    extensions.csrf.init_app(app)
    sessions.init_app(app)
    extensions.login_manager.init_app(app)
    extensions.login_manager.user_loader(accounts.load_session_user)
    extensions.limiter.init_app(app)
    extensions.compress.init_app(app)
    verification.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from app import api, docs, panel
    from app.health import bp as health_bp
    from app.web import security

    app.register_blueprint(health_bp)
    api.init_app(app)
    docs.init_app(app)
    panel.init_app(app)
    security.init_app(app)


def _wrap_proxy(app: Flask) -> None:
    """Trust X-Forwarded-For/Proto from ``PROXY_FIX_HOPS`` proxies, X-Forwarded-Host only from
    ``PROXY_FIX_X_HOST`` (a separate opt-in: the host must not be the client's choice)."""
    hops, host_hops = app.config["PROXY_FIX_HOPS"], app.config["PROXY_FIX_X_HOST"]
    if hops or host_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=host_hops)  # type: ignore[method-assign]


def _migrations_dir() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent / "migrations")
