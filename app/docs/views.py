"""Docs views: the OpenAPI document as JSON or YAML, and the HTML page rendered from it.

All three are public (no key) and not rate-limited. The page carries its own strict
Content-Security-Policy, so it stays safe even where the panel's security headers are absent.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, request

from app.docs import page, spec
from app.docs.cli import openapi_cli

# cli_group=None: ``flask openapi ...`` sits at the top level, not under ``flask docs``.
bp = Blueprint("docs", __name__, url_prefix="/api", cli_group=None)
bp.cli.add_command(openapi_cli)

bp.add_app_template_filter(page.prose, "docs_prose")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def _document() -> dict:
    """The cached document with ``servers`` set to the host this request came to."""
    return spec.document_for(current_app, request.url_root)


def _revalidated(body: str, mimetype: str) -> Response:
    """A response clients may cache but must revalidate; an unchanged document is a 304."""
    response = Response(body, mimetype=mimetype)
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """The OpenAPI 3 document as JSON."""
    return _revalidated(spec.to_json(_document()), "application/json")


@bp.get("/openapi.yaml")
def openapi_yaml() -> Response:
    """The OpenAPI 3 document as YAML."""
    return _revalidated(spec.to_yaml(_document()), "application/yaml")


@bp.get("/docs")
def docs() -> str:
    """The human-readable documentation page, rendered server-side from the document."""
    return render_template("docs/index.html", doc=page.build(_document()))


@bp.after_request
def security_headers(response: Response) -> Response:
    """Strict CSP and no MIME sniffing; a panel-wide policy set earlier is left alone."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
