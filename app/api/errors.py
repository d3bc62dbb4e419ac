"""JSON errors for everything under ``/api/`` (SPEC §6): never an HTML page, never a trace.

Every error body is ``{"error": {"code", "message", "details", "request_id"}}``. The codes
are a closed list (``ERROR_CODES``) that the docs describe; 401 carries ``WWW-Authenticate``.
``request_id`` is the request's ``X-Request-Id`` (``request_id()``), which every response
under ``/api/`` carries and the access log names, so a support request can be matched to it.

Where the handlers live, and why:

* Errors raised while a request is routed to the ``api`` blueprint (the guard, the views,
  Flask-Limiter's ``before_request``) are handled by handlers registered on the blueprint,
  per status code as well as per class, so an app-wide 404/500 handler of another part
  cannot take them over.
* Routing errors (an unknown ``/api/...`` path, a write method on a read-only route) happen
  before any blueprint is known; app-level handlers for those answer JSON only when the path
  is under ``/api/`` and hand every other path back to Flask's default (HTML) page.
* Database trouble (SQLite "database is locked", PostgreSQL unreachable) and rate-limit
  storage trouble (Redis down) are 503 ``service_unavailable`` with ``Retry-After``: the
  client should retry, nothing is wrong with its request. See ``app.api.ratelimit`` for why the
  limiter fails closed.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request
from flask_limiter.errors import RateLimitExceeded
from limits.errors import StorageError
from marshmallow import Schema, fields
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from app.extensions import db

log = logging.getLogger(__name__)

API_PATH_PREFIX = "/api/"
REALM = "stockgate"
REQUEST_ID_HEADER = "X-Request-Id"
# A client's own request id is echoed when it is this safe to log and to send back.
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
# Seconds a client should wait after a 503 before retrying.
UNAVAILABLE_RETRY_AFTER = 5
# ``.format(method=..., allowed=...)``: the 405 for a write method.
METHOD_NOT_ALLOWED_MESSAGE = "The API is read-only: {method} is not allowed here. Allowed: {allowed}."
# ``.format(which=...)``: the 503 when the "database" or the "rate-limit storage" is down.
UNAVAILABLE_MESSAGE = "The {which} is temporarily unavailable; retry in a few seconds."

# Every error code the API answers with, its HTTP status and what it means to an integrator.
ERROR_CODES: dict[str, tuple[int, str]] = {
    "bad_request": (400, "A query parameter or header is malformed; `details` names each problem."),
    "missing_key": (401, "No API key was sent. Send `Authorization: Bearer <key>` or `X-API-Key: <key>`."),
    "invalid_key": (401, "The key is malformed, has a wrong checksum, is unknown or its secret is wrong."),
    "key_inactive": (401, "The key exists but was deactivated by an admin."),
    "key_revoked": (401, "The key was revoked and can never be used again."),
    "key_expired": (401, "The key's expiry date has passed."),
    "key_rolled": (
        401,
        "The key was rolled and its grace period is over; the message names the new key's prefix.",
    ),
    "forbidden": (403, "The key lacks the ability this endpoint needs; `details.required_ability` names it."),
    "ip_not_allowed": (
        403,
        "The key has allowed IPs and the request came from another address; `details.address` "
        "is the address seen.",
    ),
    "not_found": (404, "No such endpoint, no record with that id, or an id that is not a positive integer."),
    "method_not_allowed": (405, "The API is read-only: only GET (and HEAD) are allowed."),
    "rate_limited": (429, "Too many requests for this key (or too many failed attempts from this address)."),
    "internal_error": (500, "An unexpected error on our side; nothing about the request was wrong."),
    "service_unavailable": (
        503,
        "The database or the rate-limit storage is unavailable, or the server is busy checking "
        "other new keys; retry after `Retry-After` seconds.",
    ),
}

# Code used when a Werkzeug HTTPException reaches us with only a status.
_CODE_FOR_STATUS = {
    400: "bad_request",
    401: "invalid_key",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}
HANDLED_STATUSES = tuple(_CODE_FOR_STATUS)


class ErrorBodySchema(Schema):
    """The inner error object: a stable machine code, a sentence for people, and details."""

    code = fields.String(
        required=True,
        metadata={"description": "Stable machine-readable code.", "enum": list(ERROR_CODES)},
    )
    message = fields.String(
        required=True, metadata={"description": "What went wrong and how to fix it, for people."}
    )
    details = fields.Raw(
        allow_none=True,
        metadata={
            "description": "Structured details: per-parameter messages for `bad_request`, "
            "`required_ability` for `forbidden`, limit data for `rate_limited`; otherwise null."
        },
    )

    request_id = fields.String(
        required=True,
        metadata={
            "description": "The request's id, also sent as the `X-Request-Id` header: quote it "
            "when you ask for support.",
            "example": "7f3c2a9e1b4d4e8f9a6b5c4d3e2f1a0b",
        },
    )


class ErrorSchema(Schema):
    """Every API error response: ``{"error": {"code", "message", "details", "request_id"}}``."""

    error = fields.Nested(ErrorBodySchema, required=True)


_error_schema = ErrorSchema()


class ApiError(Exception):
    """An error the API answers with as JSON; raise it anywhere under the ``api`` blueprint."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}

    def response(self) -> Response:
        """Render this error as a JSON response."""
        return api_error(self.status, self.code, self.message, self.details, self.headers)


def request_id() -> str:
    """This request's id: the client's ``X-Request-Id`` when it is 1-128 characters of
    ``[A-Za-z0-9._-]``, else a new random one; the same value for the whole request."""
    value = g.get("request_id")
    if value is None:
        sent = request.headers.get(REQUEST_ID_HEADER, "")
        value = sent if _CLIENT_REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
        g.request_id = value
    return value


def api_error(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Build a JSON error response ``{"error": {"code", "message", "details", "request_id"}}``."""
    rid = request_id()
    body = {"code": code, "message": message, "details": details, "request_id": rid}
    response = jsonify(_error_schema.dump({"error": body}))
    response.status_code = status
    response.headers[REQUEST_ID_HEADER] = rid
    if status == 401 and "WWW-Authenticate" not in (headers or {}):
        response.headers["WWW-Authenticate"] = www_authenticate(None if code == "missing_key" else code)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    # Errors are about this request only; never let a cache keep them.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def www_authenticate(error_code: str | None) -> str:
    """The 401 challenge: Bearer per RFC 6750, plus a hint that ``X-API-Key`` works too."""
    # RFC 6750 sends no error code when no credential came, and knows only invalid_token for
    # a bad one (our finer code is in the body).
    bearer = bearer_challenge(None if error_code is None else "invalid_token")
    return f'{bearer}, ApiKey realm="{REALM}", header="X-API-Key"'


def bearer_challenge(error: str | None, **params: str) -> str:
    """An RFC 6750 ``Bearer`` challenge: realm, then ``error`` and e.g. ``scope`` when given."""
    parts = [f'realm="{REALM}"']
    if error is not None:
        parts.append(f'error="{error}"')
    parts.extend(f'{name}="{value}"' for name, value in params.items())
    return "Bearer " + ", ".join(parts)


def is_api_request() -> bool:
    """True when the current request is for a path under ``/api/``."""
    return request.path.startswith(API_PATH_PREFIX) or request.path == API_PATH_PREFIX.rstrip("/")


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    if isinstance(error, RateLimitExceeded):
        return _rate_limited(error)
    code = _CODE_FOR_STATUS.get(status, "bad_request" if status < 500 else "internal_error")
    if status >= 500:
        original = getattr(error, "original_exception", None)
        if isinstance(original, (DBAPIError, StorageError)):
            return _unavailable(original)
        if original is not None:
            log.error("Unhandled error on %s %s", request.method, request.path, exc_info=original)
        return api_error(status, code, "Something went wrong on our side; the request was not processed.")
    headers: dict[str, str] = {}
    message = error.description or "Bad request."
    if isinstance(error, MethodNotAllowed):
        allowed = sorted(error.valid_methods or ["GET", "HEAD"])
        headers["Allow"] = ", ".join(allowed)
        message = METHOD_NOT_ALLOWED_MESSAGE.format(method=request.method, allowed=", ".join(allowed))
    elif status == 404:
        message = "No such endpoint. See /api/docs for the list of endpoints."
    elif status == 400:
        message = "The request is malformed."
    return api_error(status, code, message, None, headers)


def _rate_limited(error: RateLimitExceeded) -> Response:
    limit = error.limit.limit
    return api_error(
        429,
        "rate_limited",
        f"Rate limit of {limit} exceeded for this key; wait for the number of seconds in Retry-After.",
        {"limit": limit.amount, "window_seconds": limit.get_expiry()},
    )


def _unavailable(error: BaseException) -> Response:
    db.session.rollback()
    which = "rate-limit storage" if isinstance(error, StorageError) else "database"
    log.warning("API answered 503: %s unavailable (%s)", which, type(error).__name__)
    return api_error(
        503,
        "service_unavailable",
        UNAVAILABLE_MESSAGE.format(which=which),
        None,
        {"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
    )


def _unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return _http_error(error)
    if isinstance(error, ApiError):
        return error.response()
    if isinstance(error, (OperationalError, StorageError)):
        return _unavailable(error)
    db.session.rollback()
    log.error("Unhandled error on %s %s", request.method, request.path, exc_info=error)
    return _http_error(InternalServerError())


def _app_http_error(error: HTTPException) -> Response | HTTPException:
    """App-level handler: JSON for ``/api/`` paths, Flask's default page elsewhere."""
    if is_api_request():
        return _http_error(error)
    return error


def register_blueprint_handlers(bp: Blueprint) -> None:
    """Install the handlers for every error raised while a request is routed to ``bp``."""
    bp.register_error_handler(ApiError, lambda error: error.response())
    for status in HANDLED_STATUSES:
        bp.register_error_handler(status, _unexpected)
    bp.register_error_handler(HTTPException, _http_error)
    bp.register_error_handler(OperationalError, _unavailable)
    bp.register_error_handler(StorageError, _unavailable)
    bp.register_error_handler(Exception, _unexpected)


def init_app(app: Flask) -> None:
    """Install the app-level handlers that answer routing errors on ``/api/`` paths as JSON."""
    # Routing errors have no blueprint yet; these only answer for /api/ paths.
    for status in (404, 405):
        app.register_error_handler(status, _app_http_error)
    app.register_error_handler(HTTPException, _app_http_error)
