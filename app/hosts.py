"""The request's Host header is not trusted: no absolute URL is built from it.

Links, the OpenAPI ``servers`` and the docs' curl lines are relative, or use the configured
``PUBLIC_BASE_URL``. ``TRUSTED_HOSTS`` (Flask's own check) answers other hosts with 400.
"""

from __future__ import annotations

from flask import Flask, current_app


def init_app(app: Flask) -> None:
    """Warn at start when production answers any host name."""
    if app.config["STOCKGATE_ENV"] == "production" and not app.config.get("TRUSTED_HOSTS"):
        # A warning, not a refusal: no URL is built from the Host header any more, so an open
        # list is not unsafe by itself, and probes often call by IP address.
        app.logger.warning(
            "TRUSTED_HOSTS is not set: requests for any host name are answered "
            "(set it to the names this server is reached by)"
        )


def public_url(path: str) -> str:
    """``path`` (with its query) under ``PUBLIC_BASE_URL``, or relative when none is configured."""
    return f"{current_app.config.get('PUBLIC_BASE_URL') or ''}{path}"
