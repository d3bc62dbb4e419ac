"""The request's Host header is not trusted: no absolute URL is built from it.

Links, the OpenAPI ``servers`` and the docs' curl lines are relative, or use the configured
``PUBLIC_BASE_URL`` (each reads it from the config). ``TRUSTED_HOSTS`` (Flask's own check)
answers other hosts with 400.
Production also says when a proxy's forwarded headers arrive but ``PROXY_FIX_HOPS`` is 0.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from flask import Flask

# The headers a reverse proxy adds to say who its client was, by their WSGI names.
FORWARDED_HEADERS = {
    "HTTP_X_FORWARDED_FOR": "X-Forwarded-For",
    "HTTP_FORWARDED": "Forwarded",
    "HTTP_X_REAL_IP": "X-Real-IP",
}


def init_app(app: Flask) -> None:
    """Warn at start when production answers any host name; watch for an unset proxy count."""
    production = app.config["STOCKGATE_ENV"] == "production"
    if production and not app.config.get("TRUSTED_HOSTS"):
        # A warning, not a refusal: no URL is built from the Host header any more, so an open
        # list is not unsafe by itself, and probes often call by IP address.
        app.logger.warning(
            "TRUSTED_HOSTS is not set: requests for any host name are answered "
            "(set it to the names this server is reached by)"
        )
    if production and not app.config["PROXY_FIX_HOPS"]:
        app.wsgi_app = ForwardedWithoutHops(app.wsgi_app, app.logger)  # type: ignore[method-assign]


class ForwardedWithoutHops:
    """WSGI middleware: warn once per process when a forwarded header arrives and no proxy is trusted.

    With ``PROXY_FIX_HOPS=0`` behind a proxy, every client has the proxy's address: they share
    one per-address rate limit and the audit log names the proxy. The header is only looked up
    until the first warning; a client that sends one without a proxy triggers it too, which
    the message allows for. Installed in production only, and only when the count is 0.
    """

    def __init__(self, wsgi_app: Any, logger: logging.Logger) -> None:
        self.wsgi_app = wsgi_app
        self.logger = logger
        self.warned = False

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Pass the request on, after the one warning if it is the first with a forwarded header."""
        if not self.warned:
            for variable, name in FORWARDED_HEADERS.items():
                if variable in environ:
                    self.warn(name)
                    break
        return self.wsgi_app(environ, start_response)

    def warn(self, name: str) -> None:
        """Say once that the forwarded header ``name`` arrived while no proxy is trusted."""
        self.warned = True
        self.logger.warning(
            "%s arrived but PROXY_FIX_HOPS is 0: behind a reverse proxy every client "
            "shares the proxy's address (one per-address rate limit, one address in the "
            "audit log); set PROXY_FIX_HOPS to the number of proxies in front (1 behind "
            "deploy/nginx.conf). Without a proxy, a client sent it and it is ignored. "
            "Said once per process.",
            name,
        )
