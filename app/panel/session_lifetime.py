"""Panel sessions end after ``SESSION_IDLE_MINUTES`` idle and ``SESSION_MAX_HOURS`` after sign-in.

Both times live inside the signed session cookie (the client can read them but not change
them) and are checked on the server at the start of every panel request that carries a
signed-in session (a ``before_request`` of each panel blueprint, never of the API), so a
copied cookie stops working too, whatever the browser does with its expiry. A session
without them (from before this check, or signed in some other way) is not trusted.

An expired session is signed out; the next panel page sends the admin to sign in, where a
message says why. Defaults: 30 minutes idle, 12 hours at most (``SESSION_MAX_HOURS`` is
capped at 12 by ``app.config``).
"""

from __future__ import annotations

import time

from flask import current_app, flash, request, session
from flask_login import logout_user

from app.audit import security_log

SIGNED_IN_AT = "signed_in_at"
SEEN_AT = "seen_at"
# Renewing "seen" at most once a minute keeps the cookie from being rewritten on every request.
SEEN_RESOLUTION_SECONDS = 60
EXPIRED_MESSAGE = "Your session has expired. Please sign in again."


def now() -> float:
    """The current time in epoch seconds (one place to read the clock)."""
    return time.time()


def start() -> None:
    """Stamp a new signed-in session with its sign-in time."""
    stamp = now()
    session[SIGNED_IN_AT] = stamp
    session[SEEN_AT] = stamp


def expiry_reason(signed_in_at: object, seen_at: object, at: float) -> str | None:
    """Why a session with these stamps is over at time ``at`` (``idle``, ``lifetime``...), or None."""
    config = current_app.config
    if not isinstance(signed_in_at, int | float) or not isinstance(seen_at, int | float):
        return "no_timestamps"
    if at - signed_in_at > config["SESSION_MAX_HOURS"] * 3600:
        return "lifetime"
    if at - seen_at > config["SESSION_IDLE_MINUTES"] * 60:
        return "idle"
    return None


def check_session() -> None:
    """Sign out a session that has been idle or alive too long; otherwise note it was seen."""
    if "_user_id" not in session:
        return
    at = now()
    reason = expiry_reason(session.get(SIGNED_IN_AT), session.get(SEEN_AT), at)
    if reason is None:
        if at - session[SEEN_AT] >= SEEN_RESOLUTION_SECONDS:
            session[SEEN_AT] = at
        return
    user_id = str(session["_user_id"]).partition(":")[0]
    security_log.record(
        "session.expired",
        user_id=int(user_id) if user_id.isdigit() else None,
        reason=reason,
        address=request.remote_addr,
    )
    logout_user()
    session.clear()
    flash(EXPIRED_MESSAGE, "info")
