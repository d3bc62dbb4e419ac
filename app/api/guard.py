"""The API guard (SPEC §5): who is calling, may they call this endpoint, and how fast.

Order of checks for every request routed to the ``api`` blueprint:

1. **Query string.** A parameter named like a credential (``QUERY_KEY_NAMES``, compared
   case-insensitively) or any parameter name or value containing something shaped like a
   key prefix (``sgk_`` + 8 base62 characters) is refused with 400 ``bad_request``: keys in
   URLs end up in proxy logs and browser history. The value is never echoed nor logged.
   (A ``q`` search for a key string is refused too, on purpose.)
2. **Headers.** ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``; the same key in both
   is fine, two different keys are a 400. Another scheme, ``Bearer`` with no value, or an
   empty ``X-API-Key`` are 401.
3. **Format and checksum** (``app.keys.format.parse_key``, inside ``verify``): 401
   ``invalid_key`` with no database query and no bcrypt.
4. **Failed attempts per client address.** Every refused request (400/401 from this guard)
   counts against ``API_AUTH_FAILURE_LIMIT`` (default ``20/minute``) for its address. Before
   bcrypt runs for a key not yet proven in this process, the guard asks whether the address
   has budget left; if not, the answer is 429 ``rate_limited`` and bcrypt is not run. Keys
   already proven skip the question, so a legitimate client behind the same address keeps
   working during a flood. The address is ``request.remote_addr``: behind a reverse proxy,
   wrap the app in ``werkzeug.middleware.proxy_fix.ProxyFix``.
5. **Verification** (``app.keys.verification.verify``): row loaded once by prefix, bcrypt at
   most once per key per process, status/expiry/abilities/limit read fresh. 401
   ``key_inactive`` / ``key_revoked`` / ``key_expired``.
6. **Ability**: 403 ``forbidden`` with ``details.required_ability``.
7. **Per-key rate limit** through Flask-Limiter (below).

**Flask-Limiter runs first.** It checks limits in an app-level ``before_request``, before
this blueprint's guard, so its limit callable, key function and ``exempt_when`` call
``authenticate()``, which does steps 1-5 once per request and caches the outcome on ``g``.
Requests that fail authentication are exempt from the per-key limit (they never consume a
key's bucket); they count against the per-address failure bucket instead.

**Per-key limit.** One shared limit for the whole API per key: ``"<rate_limit>/minute"``
read fresh from the row on every request, bucket named by the key's public prefix
(``sgk_`` + key id), never by the secret. Changing a key's limit starts a new bucket (the
amount is part of the bucket's name).

**Strategy: moving window** (``RATELIMIT_STRATEGY = "moving-window"``). It is exact: a key
limited to N/minute never gets more than N requests in any 60 seconds, also across the
minute boundary, where fixed-window lets up to 2N through and sliding-window-counter only
approximates. Measured here (limits 5.8, one ``hit`` + one ``get_window_stats`` as the
headers need, 5,000 iterations): memory:// 12.8 µs (fixed 12.1, sliding counter 18.9);
Redis 490 µs wall / 288 µs CPU (fixed 529/339, sliding counter 416/275). Exactness costs
nothing measurable. Its price is memory: the bucket keeps one timestamp per request in the
window (up to the key's limit).

**Redis down: fail closed.** With ``RATELIMIT_STORAGE_URI=redis://...`` and Redis
unreachable, API requests answer 503 ``service_unavailable`` with ``Retry-After`` (and
``/readyz`` reports 503, so a load balancer drains the instance). We do not fall back to
per-process memory: that would silently multiply every key's limit by the number of
workers, breaking the "exactly N" promise and the failed-attempt cap that protects bcrypt.
Socket timeouts (``RATELIMIT_STORAGE_OPTIONS``) keep each request bounded.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field

from flask import Blueprint, Response, current_app, g, request
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse

from app.api.errors import ApiError
from app.extensions import limiter
from app.keys import verification
from app.keys.format import PREFIX_PATTERN
from app.models.api_keys import ApiKey

log = logging.getLogger(__name__)

# Query parameters that look like someone put a credential in the URL.
QUERY_KEY_NAMES = frozenset(
    {
        "api_key",
        "apikey",
        "api-key",
        "x-api-key",
        "x_api_key",
        "key",
        "token",
        "access_token",
        "auth",
        "authorization",
        "bearer",
        "secret",
    }
)
_KEY_LIKE = re.compile(PREFIX_PATTERN.pattern)
DEFAULT_FAILURE_LIMIT = "20/minute"
FAILURE_SCOPE = "api-auth-failures"
PER_KEY_SCOPE = "api"

_MESSAGES = {
    verification.INVALID_KEY: "The API key is not valid. Check that it was copied completely.",
    verification.KEY_INACTIVE: "This API key is inactive; an admin can activate it again.",
    verification.KEY_REVOKED: "This API key was revoked; ask an admin for a new key.",
    verification.KEY_EXPIRED: "This API key has expired; ask an admin for a new key or a later expiry.",
}


@dataclass(frozen=True)
class Auth:
    """Outcome of authenticating one request: the key, or the error to answer with."""

    key: ApiKey | None = None
    prefix: str | None = None
    rate_limit: int = 0
    abilities: frozenset[str] = frozenset()
    error: ApiError | None = None
    # An unexpected failure (database or limiter storage down), re-raised by the guard so
    # that Flask-Limiter never mistakes it for its own storage failing.
    exception: Exception | None = None
    # X-RateLimit-* of the per-address failure bucket, for refused requests.
    headers: dict[str, str] = field(default_factory=dict)


def authenticate() -> Auth:
    """Authenticate the current request once (steps 1-5) and cache the outcome on ``g``."""
    current = request._get_current_object()  # type: ignore[attr-defined]
    cached = g.get("_api_auth")
    # Compare the request too: a test may run several requests in one app context.
    if cached is not None and cached[0] is current:
        return cached[1]
    try:
        auth = _authenticate()
    except Exception as exc:  # re-raised in ``guard``; never inside Flask-Limiter
        auth = Auth(exception=exc)
    g._api_auth = (current, auth)
    return auth


def _authenticate() -> Auth:
    refusal = _refuse_key_in_query()
    if refusal is not None:
        return refusal
    presented, refusal = _presented_key()
    if refusal is not None:
        return refusal
    result = verification.verify(presented, may_check_secret=_failure_budget_left)
    if result.reason == verification.THROTTLED:
        return _throttled()
    if not result.ok:
        code = result.reason or verification.INVALID_KEY
        return _refuse(401, code, _MESSAGES.get(code, _MESSAGES[verification.INVALID_KEY]))
    key = result.key
    assert key is not None
    return Auth(key=key, prefix=key.prefix, rate_limit=key.rate_limit, abilities=frozenset(key.abilities))


def _refuse_key_in_query() -> Auth | None:
    for name, value in request.args.items(multi=True):
        if name.lower() in QUERY_KEY_NAMES or _KEY_LIKE.search(name) or _KEY_LIKE.search(value):
            shown = None if _KEY_LIKE.search(name) else name
            return _refuse(
                400,
                "bad_request",
                "API keys are not accepted in the URL, where proxies and browsers record them. "
                "Send the key in the `Authorization: Bearer <key>` or `X-API-Key: <key>` header "
                "instead, and consider revoking a key that was sent in a URL.",
                {
                    "query": [
                        f"Parameter {shown!r} looks like an API key."
                        if shown
                        else "A parameter holds an API key."
                    ]
                },
            )
    return None


def _presented_key() -> tuple[str | None, Auth | None]:
    presented: list[str] = []
    for value in request.headers.getlist("Authorization"):
        scheme, _, credentials = value.strip().partition(" ")
        if scheme.lower() != "bearer":
            return None, _refuse(
                401,
                "invalid_key",
                "The Authorization header must use the Bearer scheme: `Authorization: Bearer <key>` "
                "(or send `X-API-Key: <key>`).",
            )
        credentials = credentials.strip()
        if not credentials:
            return None, _refuse(401, "missing_key", "The Authorization header says Bearer but holds no key.")
        presented.append(credentials)
    for value in request.headers.getlist("X-API-Key"):
        if not value.strip():
            return None, _refuse(401, "missing_key", "The X-API-Key header is empty.")
        presented.append(value.strip())
    if not presented:
        return None, _refuse(
            401,
            "missing_key",
            "No API key was sent. Send `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
        )
    if len(set(presented)) > 1:
        return None, _refuse(
            400,
            "bad_request",
            "Two different API keys were sent; send exactly one, in one header.",
            {"headers": ["Authorization and X-API-Key (or repeated headers) hold different keys."]},
        )
    return presented[0], None


# --- the per-address failed-attempt bucket -------------------------------------------------


def _failure_item() -> RateLimitItem:
    return parse(current_app.config.get("API_AUTH_FAILURE_LIMIT", DEFAULT_FAILURE_LIMIT))


def _failure_args() -> tuple[str, str]:
    return FAILURE_SCOPE, get_remote_address()


def _failure_budget_left() -> bool:
    """True when this address may still make bcrypt run (asked by ``verify``)."""
    if not limiter.enabled:
        return True
    return limiter.limiter.test(_failure_item(), *_failure_args())


def _failure_headers(item: RateLimitItem) -> dict[str, str]:
    reset, remaining = limiter.limiter.get_window_stats(item, *_failure_args())
    reset_at = int(reset + 1)
    return {
        "X-RateLimit-Limit": str(item.amount),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(reset_at),
    }


def _refuse(status: int, code: str, message: str, details: object = None) -> Auth:
    """Count a refused request against its address and build the error to answer with."""
    headers: dict[str, str] = {}
    if limiter.enabled:
        item = _failure_item()
        limiter.limiter.hit(item, *_failure_args())
        headers = _failure_headers(item)
    return Auth(error=ApiError(status, code, message, details, headers), headers=headers)


def _throttled() -> Auth:
    item = _failure_item()
    headers = _failure_headers(item)
    retry_after = max(1, int(headers["X-RateLimit-Reset"]) - int(time.time()))
    headers["Retry-After"] = str(retry_after)
    log.warning("API: too many failed key attempts from one address; refusing before bcrypt")
    error = ApiError(
        429,
        "rate_limited",
        f"Too many failed authentication attempts from your address; retry in {retry_after} seconds.",
        {"limit": item.amount, "window_seconds": item.get_expiry(), "scope": "client_address"},
        headers,
    )
    return Auth(error=error, headers=headers)


# --- Flask-Limiter callables (evaluated in before_request, before the guard) ---------------


def key_limit() -> str:
    """The per-key limit string, from the key's own ``rate_limit`` read on this request."""
    auth = authenticate()
    return f"{auth.rate_limit}/minute" if auth.key is not None else "1/minute"


def key_bucket() -> str:
    """The bucket of the per-key limit: the key's public prefix, never its secret."""
    return authenticate().prefix or "unauthenticated"


def not_authenticated() -> bool:
    """Exempt refused requests from the per-key limit; they count per address instead."""
    return authenticate().key is None


def install(bp: Blueprint) -> None:
    """Attach the per-key limit, the guard and the failure headers to the API blueprint."""
    limiter.shared_limit(
        key_limit,
        scope=PER_KEY_SCOPE,
        key_func=key_bucket,
        exempt_when=not_authenticated,
    )(bp)
    bp.before_request(guard)
    bp.after_request(_add_failure_headers)


def guard() -> None:
    """Refuse the request unless its key is valid and holds the endpoint's ability."""
    from app.api.views import required_ability

    auth = authenticate()
    if auth.exception is not None:
        raise auth.exception
    if auth.error is not None:
        raise auth.error
    g.api_key = auth.key
    ability = required_ability(request.endpoint or "")
    if ability is None:
        # Deny by default: an API endpoint without a declared ability serves nobody.
        raise ApiError(404, "not_found", "No such endpoint.")
    if ability not in auth.abilities:
        raise ApiError(
            403,
            "forbidden",
            f"This key does not have the {ability!r} ability needed here; an admin can add it.",
            {"required_ability": ability},
        )


def _add_failure_headers(response: Response) -> Response:
    cached = g.get("_api_auth")
    if cached is not None and cached[1].headers:
        for name, value in cached[1].headers.items():
            response.headers.setdefault(name, value)
    return response
