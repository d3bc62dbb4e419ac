"""No cookie session for the API: keys, not cookies, authenticate ``/api/v1``.

Flask opens the signed-cookie session on every request, before routing: it builds an
itsdangerous serializer, looks for the cookie and, on the way out, decides whether to write
it -- and re-sends a permanent one on every response. The API never reads nor writes the
session, so its requests get Flask's read-only null session instead: no cookie work, and no
``Set-Cookie`` on an API answer even when a browser signed in to the panel calls it. (The CPU
saved is small: within the noise of in-process runs, at most 1-2% of a list request.)
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class CookielessApiSessions(SecureCookieSessionInterface):
    """The signed-cookie session everywhere but under ``prefix``, where it is the null session."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Open the cookie session, or hand API requests the null session (nothing to read)."""
        if request.path.startswith(self.prefix):
            return self.make_null_session(app)
        return super().open_session(app, request)
