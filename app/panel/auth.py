"""Sign-in and sign-out of panel admins (endpoints ``auth.*``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError
from limits.errors import StorageError

from app import accounts, audit
from app.audit import security_log
from app.keys.hashing import BCRYPT_MAX_BYTES
from app.panel import guards, session_lifetime, throttle
from app.panel.forms import LoginForm
from app.panel.htmx import no_store

bp = Blueprint("auth", __name__)
bp.before_request(session_lifetime.check_session)
# The sign-in page holds a CSRF token and, after a failure, the email typed: no cache keeps it.
bp.after_request(no_store)

BAD_CREDENTIALS = "Email or password is not right, or this account cannot sign in."
TOO_MANY = "Too many sign-in attempts. Wait a few minutes and try again."
UNAVAILABLE = "Sign-in is unavailable right now. Please try again in a minute."
# Seconds a client should wait when the rate-limit storage is down (it answers within 0.5 s).
UNAVAILABLE_RETRY_AFTER = 30


def _client_address() -> str:
    return request.remote_addr or ""


def safe_next(target: str | None) -> str | None:
    """Return ``target`` if it is a path on this site, else None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(ch) < 32 for ch in target):
        return None
    return target


@bp.get("/")
def index() -> Response:
    """The panel's home is Settings → API Keys (which sends anonymous visitors to sign in)."""
    return redirect(url_for("panel.api_keys"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    """Show the sign-in form; sign an admin in (limits in ``app.panel.throttle``)."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")) or url_for("panel.api_keys"))
    form = LoginForm(next=request.args.get("next", ""))
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("auth/login.html", form=form), status
    email = (form.email.data or "").strip().lower()
    address = _client_address()
    refusal = throttle.before_password_check(email, address)
    if refusal is not None:
        return _sign_in_page(TOO_MANY, 429, {"Retry-After": str(refusal.retry_after)})
    password = form.password.data or ""
    user = None
    if len(password.encode("utf-8")) <= BCRYPT_MAX_BYTES:
        user = accounts.authenticate(email, password)
    if user is None:
        # Only a user's email is kept: a password typed into the Email field is not stored.
        typed = accounts.loggable_email(email)
        security_log.record("session.sign_in_failed", email=typed, address=address)
        audit.record_now("session.sign_in_failed", actor=typed)
        form.form_errors.append(BAD_CREDENTIALS)
        return render_template("auth/login.html", form=form), 401
    throttle.forget_failures(email, address)
    # A fresh session on sign-in: nothing from before (CSRF token, flashes) carries over.
    session.clear()
    login_user(user)
    session_lifetime.start()
    security_log.record("session.signed_in", email=user.email, address=address)
    accounts.record_sign_in(user)
    return redirect(safe_next(form.next.data) or url_for("panel.api_keys"))


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    """Sign out and end every session of this admin: old cookies stop working."""
    user = guards.signed_in_user()
    if user is not None:
        accounts.sign_out(user)
        security_log.record("session.signed_out", email=user.email, address=_client_address())
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


def _sign_in_page(message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    """The sign-in form again with one message above it."""
    form = LoginForm(next=request.args.get("next", ""))
    form.form_errors.append(message)
    return make_response(render_template("auth/login.html", form=form), status, headers or {})


def sign_in_unavailable(error: StorageError) -> Response:
    """The sign-in page with a 503 when the rate-limit storage is down (fail closed)."""
    return _sign_in_page(UNAVAILABLE, 503, {"Retry-After": str(UNAVAILABLE_RETRY_AFTER)})


def stale_sign_in_form(error: CSRFError) -> Response:
    """The sign-in page again, saying why, when its CSRF token was missing or stale."""
    return _sign_in_page("This page was out of date. Please sign in again.", 400)


bp.register_error_handler(StorageError, sign_in_unavailable)
bp.register_error_handler(CSRFError, stale_sign_in_form)
