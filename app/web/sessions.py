"""No cookie session where nobody signs in: the API, the probes and static files.

Flask opens the signed-cookie session on every request, before routing: it builds an
itsdangerous serializer, looks for the cookie and, on the way out, decides whether to write it.
Requests under these paths never read nor write the session, so they get Flask's read-only
null session instead: no cookie work, and no ``Set-Cookie`` on an API answer even when a
browser signed in to the panel calls it.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class CookielessSessions(SecureCookieSessionInterface):
    """The signed-cookie session everywhere but under ``prefixes``, where it is the null session."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        self.prefixes = prefixes

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Open the cookie session, or hand a request under ``prefixes`` the null session."""
        if request.path.startswith(self.prefixes):
            return self.make_null_session(app)
        return super().open_session(app, request)


# The API (keys, not cookies), the probes and static files.
COOKIELESS_PREFIXES = ("/api/v1/", "/healthz", "/readyz", "/static/")


def init_app(app: Flask) -> None:
    """Give ``app`` the cookie session everywhere but under ``COOKIELESS_PREFIXES``."""
    app.session_interface = CookielessSessions(COOKIELESS_PREFIXES)
