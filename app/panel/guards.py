"""Who may use the panel, and what a refused request says to the user."""

from __future__ import annotations

from flask import Blueprint, Response, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import Forbidden, InternalServerError, NotFound
from werkzeug.http import HTTP_STATUS_CODES

from app import accounts
from app.extensions import login_manager
from app.models.users import User
from app.panel import session_lifetime
from app.panel.htmx import htmx, htmx_redirect, no_store, reswap, retarget

SESSION_EXPIRED = "Your session has expired or the page is out of date. Reload the page and try again."


def signed_in_user() -> User | None:
    """The signed-in user as a model instance (``current_user`` is only a proxy to it)."""
    session_id = current_user.get_id()
    return accounts.load_session_user(session_id) if session_id else None


def require_admin() -> Response | None:
    """Every panel page needs a signed-in admin."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_admin or current_user.is_system:
        raise Forbidden("Only admins can use the panel.")
    return None


def unauthorized() -> Response:
    """Send anonymous visitors to sign in; htmx gets a whole-page redirect, not a fragment."""
    if htmx().request:
        return htmx_redirect(url_for("auth.login"))
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def error_response(message: str, status: int) -> Response:
    """Say why a request was refused: for htmx an HTML fragment retargeted to the alert area
    (``#flash``, whatever the element's own target), else a page with a way back."""
    if htmx().request:
        response = make_response(render_template("panel/_error.html", message=message), status)
        return reswap(retarget(response, "#flash"), "innerHTML")
    heading = HTTP_STATUS_CODES.get(status, "Error").capitalize()
    return make_response(render_template("panel/error.html", message=message, heading=heading), status)


def csrf_failed(error: CSRFError) -> Response:
    """A missing or stale CSRF token: tell the user instead of failing silently."""
    return error_response(SESSION_EXPIRED, 400)


def forbidden(error: Forbidden) -> Response:
    """Explain a refusal in one line."""
    return error_response(error.description or "Forbidden.", 403)


def not_found(error: NotFound) -> Response:
    """Say what is missing (a page for a direct visit, with a way back to the key list)."""
    # Werkzeug's default text talks about URLs and spelling; ours names the missing key.
    message = error.description if error.description != NotFound.description else "This page does not exist."
    return error_response(message, 404)


def server_error(error: InternalServerError) -> Response:
    """An unexpected failure: a line in the alert area, never a whole error page inside a row."""
    return error_response("Something went wrong on the server. Try again.", 500)


def admin_blueprint(name: str, import_name: str, url_prefix: str) -> Blueprint:
    """A blueprint of signed-in admin pages: the session's age checked first (an expired session
    must not pass as signed in), then the admin; no cache keeps its answers; CSRF failures, 403,
    404 and 500 answered as the panel answers them."""
    bp = Blueprint(name, import_name, url_prefix=url_prefix)
    bp.before_request(session_lifetime.check_session)
    bp.before_request(require_admin)
    bp.after_request(no_store)
    bp.register_error_handler(CSRFError, csrf_failed)
    bp.register_error_handler(403, forbidden)
    bp.register_error_handler(404, not_found)
    bp.register_error_handler(500, server_error)
    return bp
