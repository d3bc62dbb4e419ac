"""The admin panel: sign-in (``auth.*``), API Keys (``panel.*``) and Audit Log (``audit_log.*``)
and Users (``users.*``)."""

from __future__ import annotations

from flask import Flask

from app.extensions import login_manager
from app.panel import audit_log, auth, filters, guards, users, views


def init_app(app: Flask) -> None:
    """Register the panel's blueprints, its sign-in page and template filters."""
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.unauthorized_handler(guards.unauthorized)
    filters.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(audit_log.bp)
    app.register_blueprint(users.bp)
