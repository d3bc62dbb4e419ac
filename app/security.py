"""Security headers on every response: a strict CSP, nosniff, same-origin referrers.

The panel ships no inline script and no eval (htmx runs with ``allowEval: false``), so the
policy can forbid both. A view that needs another policy sets its own header; these are
defaults and never overwrite a header that is already there.
"""

from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Flask-WTF checks the Referer over HTTPS, so "no-referrer" would break every POST.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


# Production runs behind HTTPS: tell browsers never to use plain HTTP for a year.
HSTS = "max-age=31536000; includeSubDomains"


def default_headers(production: bool) -> tuple[tuple[str, str], ...]:
    """The headers every response gets unless it sets them itself."""
    extra = (("Strict-Transport-Security", HSTS),) if production else ()
    return (*SECURITY_HEADERS.items(), *extra)


def init_app(app: Flask) -> None:
    """Register the headers on every response of ``app``."""
    defaults = default_headers(app.config["STOCKGATE_ENV"] == "production")

    def add_security_headers(response: Response) -> Response:
        """Add the default security headers that the response does not set itself."""
        headers = response.headers
        for name, value in defaults:
            # One lookup and an append: Headers.setdefault scans the list three times.
            if name not in headers:
                headers.add(name, value)
        return response

    app.after_request(add_security_headers)
