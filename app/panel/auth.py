"""Sign-in and sign-out of panel admins (endpoints ``auth.*``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import TooManyRequests

from app import accounts
from app.extensions import limiter
from app.keys.hashing import BCRYPT_MAX_BYTES
from app.panel import guards
from app.panel.forms import LoginForm

bp = Blueprint("auth", __name__)

# Only failed sign-ins count (status 401), per address and per email address tried.
FAILED_SIGN_INS_PER_ADDRESS = "20 per 10 minutes"
FAILED_SIGN_INS_PER_EMAIL = "5 per 10 minutes"


def _tried_email() -> str:
    """Rate-limit key: the email being tried, normalised, so spreading over addresses fails."""
    email = request.form.get("email", "") if request.method == "POST" else ""
    return "login-email:" + email.strip().lower()[:254]


def _failed(response: Response) -> bool:
    return response.status_code == 401


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
@limiter.limit(FAILED_SIGN_INS_PER_ADDRESS, methods=["POST"], deduct_when=_failed)
@limiter.limit(FAILED_SIGN_INS_PER_EMAIL, key_func=_tried_email, methods=["POST"], deduct_when=_failed)
def login() -> Response | str | tuple[str, int]:
    """Show the sign-in form; sign an admin in."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")) or url_for("panel.api_keys"))
    form = LoginForm(next=request.args.get("next", ""))
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("auth/login.html", form=form), status
    password = form.password.data or ""
    user = None
    if len(password.encode("utf-8")) <= BCRYPT_MAX_BYTES:
        user = accounts.authenticate(form.email.data or "", password)
    if user is None:
        form.form_errors.append("Email or password is not right, or this account cannot sign in.")
        return render_template("auth/login.html", form=form), 401
    # A fresh session on sign-in: nothing from before (CSRF token, flashes) carries over.
    session.clear()
    login_user(user)
    return redirect(safe_next(form.next.data) or url_for("panel.api_keys"))


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    """Sign out and end every session of this admin: old cookies stop working."""
    user = guards.signed_in_user()
    if user is not None:
        accounts.rotate_session_token(user)
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


def too_many_sign_ins(error: TooManyRequests) -> tuple[str, int]:
    """The sign-in page with a message, when failed sign-ins hit their limit."""
    form = LoginForm(next=request.args.get("next", ""))
    form.form_errors.append("Too many failed sign-ins. Wait a few minutes and try again.")
    return render_template("auth/login.html", form=form), 429


def stale_sign_in_form(error: CSRFError) -> tuple[str, int]:
    """The sign-in page again, saying why, when its CSRF token was missing or stale."""
    form = LoginForm(next=request.args.get("next", ""))
    form.form_errors.append("This page was out of date. Please sign in again.")
    return render_template("auth/login.html", form=form), 400


bp.register_error_handler(429, too_many_sign_ins)
bp.register_error_handler(CSRFError, stale_sign_in_form)
