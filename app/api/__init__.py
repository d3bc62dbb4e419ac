"""The protected read-only JSON API at ``/api/v1`` (SPEC §5-6).

``errors`` renders every error as JSON, ``guard`` authenticates and rate-limits, ``params``
validates list arguments, ``views`` serves list/show for every catalogue module,
``introspection`` describes the calling key (``GET /api/v1/key``).
"""

from __future__ import annotations

from flask import Blueprint, Flask

from app import usage
from app.api import errors, guard, introspection, ratelimit, views
from app.extensions import compress, csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
errors.register_blueprint_handlers(bp)
# After-request hooks run last-registered first: the guard's ``finish`` (headers, usage count)
# is registered first, so it runs last and sees the final status.
guard.install(bp)
# gzip of JSON over 1 KB (SPEC §14): runs first, then the guard adds the rate-limit headers.
bp.after_request(compress.after_request)
views.register_views(bp)
introspection.register_views(bp)


def init_app(app: Flask) -> None:
    """Register the API blueprint, its cap on concurrent bcrypt checks and the JSON handlers
    for ``/api/`` routing errors."""
    # Keys, not cookies, authenticate the API: CSRF does not apply (and it is read-only).
    csrf.exempt(bp)
    errors.init_app(app)
    ratelimit.init_app(app)
    usage.init_app(app)
    app.register_blueprint(bp)


__all__ = ["bp", "init_app"]
