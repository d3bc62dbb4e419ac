"""Security headers on every response: a strict CSP, nosniff, same-origin referrers.

The panel ships no inline script and no eval (htmx runs with ``allowEval: false``), so the
policy can forbid both. ``CONTENT_SECURITY_POLICY`` is the one policy of every page (the panel,
the docs page, the API); a page that ever needs more declares its additions here, beside it
(none does today). These are defaults and never overwrite a header that is already there.
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
    # (lower-case name, name, value): header names match case-insensitively.
    defaults = [
        (name.lower(), name, value)
        for name, value in default_headers(app.config["STOCKGATE_ENV"] == "production")
    ]

    def add_security_headers(response: Response) -> Response:
        """Add the default security headers that the response does not set itself."""
        headers = response.headers
        # One pass over the response's few headers, then set lookups: a membership test per
        # default would scan the header list each time (bench/README.md).
        present = {name.lower() for name, _value in headers.items()}
        for key, name, value in defaults:
            if key not in present:
                headers.add(name, value)
        return response

    app.after_request(add_security_headers)
