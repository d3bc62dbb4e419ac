"""Docs views: the OpenAPI document as JSON or YAML, and the HTML page rendered from it.

All three are public (no key). Each body is rendered once per process and kept in
``app.extensions``: nothing in it depends on the request (``servers`` and the curl lines come
from ``PUBLIC_BASE_URL`` or are relative, never from the Host header), so every client gets
the same bytes. Responses carry a strong ETag of the body and ``Cache-Control: no-cache``:
clients and shared caches keep a copy but revalidate it, so a deploy is seen at once and an
unchanged document costs a 304 without a render. A per-address limit (``DOCS_RATE_LIMIT``)
keeps the unauthenticated endpoints from being used to burn CPU: every answer carries its
``X-RateLimit-*`` headers, and only a 429 carries ``Retry-After`` (``limit_headers``; Flask-Limiter's
own headers are off, as they put ``Retry-After`` on every 200). The page is served under the
app-wide security headers (``app.web.security``: one Content-Security-Policy for every page).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, current_app, render_template, request
from flask_limiter.errors import RateLimitExceeded
from werkzeug.http import generate_etag

from app.api.errors import REQUEST_ID_HEADER, api_error, request_id
from app.audit import security_log
from app.docs import page, spec
from app.docs.cli import openapi_cli
from app.extensions import compress, limiter

# cli_group=None: ``flask openapi ...`` sits at the top level, not under ``flask docs``.
bp = Blueprint("docs", __name__, url_prefix="/api", cli_group=None)
bp.cli.add_command(openapi_cli)

bp.add_app_template_filter(page.prose, "docs_prose")
bp.add_app_template_filter(page.group_label, "docs_group")
# The OpenAPI document is JSON over 1 KB: gzip for clients that ask (the HTML page is not).
bp.after_request(compress.after_request)

CACHE_CONTROL = "no-cache"


def docs_rate_limit() -> str:
    """The per-address limit of the docs routes (``DOCS_RATE_LIMIT``)."""
    return current_app.config["DOCS_RATE_LIMIT"]


def init_app(app: Flask) -> None:
    """Register the docs blueprint, its routes sharing one bucket per client address."""
    # The same function and scope each time, so a second app adds no second limit.
    limiter.shared_limit(docs_rate_limit, scope="docs")(bp)
    app.register_blueprint(bp)


EXTENSION_KEY = "stockgate.docs.rendered"


@dataclass(frozen=True)
class Rendered:
    """One rendered docs body with its strong ETag."""

    body: bytes
    etag: str
    mimetype: str


def rendered(name: str, mimetype: str, render: Callable[[], str]) -> Rendered:
    """The body ``name`` of this app, rendered on first use, then served from ``app.extensions``."""
    cache: dict[str, Rendered] = current_app.extensions.setdefault(EXTENSION_KEY, {})
    entry = cache.get(name)
    if entry is None:
        # Two threads racing here both render the same bytes; the last store wins harmlessly.
        body = render().encode()
        entry = cache[name] = Rendered(body, generate_etag(body), mimetype)
    return entry


def _document() -> dict:
    """The cached document, with ``servers`` from the configuration (never the request)."""
    return spec.document_for(current_app)


def _serve(entry: Rendered) -> Response:
    """The cached body, or a 304 when the client's ETag matches it."""
    response = Response(entry.body, mimetype=entry.mimetype)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.set_etag(entry.etag)
    return response.make_conditional(request)


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """The OpenAPI 3 document as JSON."""
    return _serve(rendered("json", "application/json", lambda: spec.to_json(_document())))


@bp.get("/openapi.yaml")
def openapi_yaml() -> Response:
    """The OpenAPI 3 document as YAML."""
    return _serve(rendered("yaml", "application/yaml", lambda: spec.to_yaml(_document())))


@bp.get("/docs")
def docs() -> Response:
    """The human-readable documentation page, rendered server-side from the document."""
    return _serve(
        rendered("page", "text/html", lambda: render_template("docs/index.html", doc=page.build(_document())))
    )


@bp.errorhandler(RateLimitExceeded)
def rate_limited(error: RateLimitExceeded) -> Response:
    """429 as the API's JSON error; ``limit_headers`` adds ``Retry-After`` and ``X-RateLimit-*``."""
    limit = error.limit.limit
    security_log.record("docs.throttled", address=request.remote_addr, path=request.path, limit=str(limit))
    return api_error(
        429,
        "rate_limited",
        f"Rate limit of {limit} exceeded for the documentation from this address; "
        "wait for the number of seconds in Retry-After.",
        {"limit": limit.amount, "window_seconds": limit.get_expiry()},
    )


@bp.after_request
def tag_with_request_id(response: Response) -> Response:
    """Every response under ``/api/`` names its request (``X-Request-Id``), the docs' too."""
    response.headers[REQUEST_ID_HEADER] = request_id()
    return response


@bp.after_request
def limit_headers(response: Response) -> Response:
    """``X-RateLimit-*`` of the address's docs bucket on every answer; ``Retry-After`` on a 429 only."""
    current = limiter.current_limit
    if current is None:  # limiting is off
        return response
    response.headers["X-RateLimit-Limit"] = str(current.limit.amount)
    response.headers["X-RateLimit-Remaining"] = str(current.remaining)
    response.headers["X-RateLimit-Reset"] = str(current.reset_at)
    if response.status_code == 429:
        response.headers["Retry-After"] = str(max(1, math.ceil(current.reset_at - time.time())))
    return response
