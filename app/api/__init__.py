"""The protected read-only JSON API at ``/api/v1`` (SPEC §5-6).

``errors`` renders every error as JSON, ``guard`` authenticates and rate-limits, ``params``
validates list arguments, ``views`` serves list/show for every catalogue module,
``introspection`` describes the calling key (``GET /api/v1/key``).
"""

from __future__ import annotations

from flask import Blueprint, Flask

from app.api import errors, guard, introspection, ratelimit, views
from app.extensions import compress, csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Keys, not cookies, authenticate the API: CSRF does not apply (and it is read-only).
csrf.exempt(bp)
errors.register_blueprint_handlers(bp)
guard.install(bp)
# gzip of JSON over 1 KB (SPEC §14); after_request hooks run last-registered first, so this runs
# after the rate-limit headers are on the answer.
bp.after_request(compress.after_request)
views.register_views(bp)
introspection.register_views(bp)


def init_app(app: Flask) -> None:
    """Register the API blueprint, its cap on concurrent bcrypt checks and the JSON handlers
    for ``/api/`` routing errors."""
    errors.init_app(app)
    ratelimit.init_app(app)
    app.register_blueprint(bp)


__all__ = ["bp", "init_app"]
