"""The API guard (SPEC §5): who is calling, may they call this endpoint, and how fast.

Every request to the ``api`` blueprint passes these checks in this order; the first that fails
answers. Each step's reasons are in the function that takes it.

1. No key in the query string (400): URLs end up in proxy logs and browser history.
2. One key, from ``Authorization: Bearer`` or ``X-API-Key`` (401 missing, 400 two different).
3. Format and checksum, with no database query and no bcrypt (401 ``invalid_key``).
4. Failed attempts per client address (``ratelimit.count_failure``): every refusal and every
   bcrypt check is counted before bcrypt runs; past the budget every failure gets the same 429.
5. At most ``API_BCRYPT_CONCURRENCY`` bcrypt checks per process (503 beyond, never a queue).
6. Verification (``keys.verification.verify``): the row read fresh, bcrypt once per key per
   process, the key's state decided by the model (401 ``key_inactive``, ``key_revoked``,
   ``key_rolled`` naming the new key, ``key_expired``). A refused state is always its 401,
   never a 429, and is charged to the client address, never to any key's bucket.
7. Allowed IPs (403 ``ip_not_allowed``), charged like a state refusal: a stolen IP-locked
   key can neither read data nor keep its owner at 429.
8. The key's own limit (``ratelimit.hit_key``; one bucket per roll chain): 429 when spent.
9. The ability (403 ``forbidden``); an endpoint without a declared ability is a 404.

What the guard learns travels in one ``ApiCall`` (``g.api_call``); ``finish`` puts its headers
(``X-RateLimit-*``, ``Stockgate-Key-Expires-At``, ``Deprecation``/``Sunset``, ``X-Request-Id``)
on every response and counts the request for usage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from flask import Blueprint, Response, g, request
from werkzeug.http import http_date

from app import usage
from app.api import ratelimit
from app.api.errors import REQUEST_ID_HEADER, ApiError, bearer_challenge, request_id
from app.audit import security_log
from app.catalogue import ENDPOINT_ABILITIES, KEY_ONLY_ENDPOINTS
from app.keys import allowed_ips, rolling, verification
from app.keys.format import PREFIX_PATTERN, parse_key
from app.models.api_keys import ApiKey
from app.models.types import iso_utc
from app.models.usage import IP_REFUSED_OPERATION

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
EXPIRES_HEADER = "Stockgate-Key-Expires-At"

NO_KEY_MESSAGE = "No API key was sent. Send `Authorization: Bearer <key>` or `X-API-Key: <key>`."
# ``.format(ability=...)``: the 403 for a key without the endpoint's ability.
MISSING_ABILITY_MESSAGE = "This key does not have the {ability!r} ability needed here; an admin can add it."

_MESSAGES = {
    verification.INVALID_KEY: "The API key is not valid. Check that it was copied completely.",
    verification.KEY_INACTIVE: "This API key is inactive; an admin can activate it again.",
    verification.KEY_REVOKED: "This API key was revoked; ask an admin for a new key.",
    verification.KEY_EXPIRED: "This API key has expired; ask an admin for a new key or a later expiry.",
    verification.KEY_ROLLED: "This API key was rolled and replaced by a new key; use the new key.",
}


@dataclass(frozen=True)
class Auth:
    """Outcome of authenticating one request: the key, or the error to answer with."""

    key: ApiKey | None = None
    # The key whose secret was proven, also when it is then refused for its state.
    proven: ApiKey | None = None
    prefix: str | None = None
    # The rate-limit bucket (shared by the old and new key of a roll).
    bucket: str | None = None
    rate_limit: int = 0
    abilities: frozenset[str] = frozenset()
    error: ApiError | None = None
    # X-RateLimit-* of the bucket this request counted against.
    headers: dict[str, str] = field(default_factory=dict)


def authenticate() -> Auth:
    """Authenticate the current request (steps 1-6): the key, or the error to answer with."""
    refusal = _refuse_key_in_query()
    if refusal is not None:
        return refusal
    presented, refusal = _presented_key()
    if refusal is not None:
        return refusal
    gate = ratelimit.BcryptGate()
    try:
        result = verification.verify(presented, bcrypt_gate=gate)
    except ratelimit.Throttled as throttled:
        return _throttled(throttled.window, presented)
    except ratelimit.BcryptBusy:
        return _busy(gate.window, presented)
    if not result.ok:
        code = result.reason or verification.INVALID_KEY
        message = _MESSAGES.get(code, _MESSAGES[verification.INVALID_KEY])
        if code == verification.KEY_ROLLED and result.key is not None and result.key.successor_id is not None:
            message = _rolled_message(result.key.successor_id)
        if result.checked_secret:
            # The attempt was counted (and allowed) before bcrypt ran: do not count it twice.
            headers = gate.window.headers() if gate.window is not None else {}
            error = ApiError(401, code, message, None, headers)
            return Auth(proven=result.key, error=error, headers=headers)
        if result.key is not None:
            return replace(_refuse_proven(401, code, message), proven=result.key)
        return _refuse(401, code, message, presented=presented)
    key = result.key
    assert key is not None
    return Auth(
        key=key,
        proven=key,
        prefix=key.prefix,
        bucket=key.bucket_name,
        rate_limit=key.rate_limit,
        abilities=frozenset(key.abilities),
    )


def _rolled_message(successor_id: int) -> str:
    # Only the prefix of the new key: the holder of the old secret learns which key to ask for.
    new_prefix = rolling.successor_prefix(successor_id)
    return (
        f"This API key was rolled and replaced by the key with prefix {new_prefix}; "
        "use that key (ask an admin if you do not have it)."
    )


def deprecation_headers(key: ApiKey) -> dict[str, str]:
    """``Deprecation`` (RFC 9745) and ``Sunset`` (RFC 8594) for a key in its grace period."""
    if key.successor_id is None or key.sunset_at is None:
        return {}
    return {"Deprecation": f"@{int(key.sunset_at.timestamp())}", "Sunset": http_date(key.sunset_at)}


def _refuse_key_in_query() -> Auth | None:
    """A 400 when a parameter is named like a credential or holds something shaped like a key
    prefix (a ``q`` search for a key string too, on purpose); the value is never echoed."""
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
                challenge="invalid_request",
            )
    return None


def _header(name: str) -> list[str]:
    """The header's value, if sent. WSGI gives each header name one value (a server joins
    repeated ones with commas, and such a joined key fails its format check); ``get`` reads it
    straight from the environ, where ``getlist`` walks every header of the request."""
    value = request.headers.get(name)
    return [] if value is None else [value]


def _presented_key() -> tuple[str | None, Auth | None]:
    presented: list[str] = []
    for value in _header("Authorization"):
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
    for value in _header("X-API-Key"):
        if not value.strip():
            return None, _refuse(401, "missing_key", "The X-API-Key header is empty.")
        presented.append(value.strip())
    if not presented:
        return None, _refuse(401, "missing_key", NO_KEY_MESSAGE)
    if len(set(presented)) > 1:
        return None, _refuse(
            400,
            "bad_request",
            "Two different API keys were sent; send exactly one, in one header.",
            {"headers": ["Authorization and X-API-Key (or repeated headers) hold different keys."]},
            challenge="invalid_request",
        )
    return presented[0], None


def _refuse(
    status: int,
    code: str,
    message: str,
    details: object = None,
    *,
    challenge: str | None = None,
    presented: str | None = None,
    throttle: bool = True,
) -> Auth:
    """Count a refused request against its address and build the error to answer with.

    Once the address's budget is spent the answer is the same 429 for every failure (unless
    ``throttle`` is False). ``challenge`` is an RFC 6750 error code for a ``WWW-Authenticate``
    header on a 400.
    """
    window = ratelimit.count_failure()
    if window is not None and not window.allowed:
        if throttle:
            return _throttled(window, presented)
        window = replace(window, allowed=True)  # a 401, not a 429: no Retry-After
    headers = window.headers() if window is not None else {}
    error_headers = dict(headers)
    if challenge is not None:
        error_headers["WWW-Authenticate"] = bearer_challenge(challenge)
    return Auth(error=ApiError(status, code, message, details, error_headers), headers=headers)


def _refuse_proven(status: int, code: str, message: str, details: object = None) -> Auth:
    """Refuse a proven key for its state or its address: counted against the client address
    (``ratelimit.count_refusal``), never a key's bucket, and always answered with its own error."""
    window = ratelimit.count_refusal()
    if window is not None and not window.allowed:
        window = replace(window, allowed=True)  # the refusal, not a 429: no Retry-After
    headers = window.headers() if window is not None else {}
    return Auth(error=ApiError(status, code, message, details, headers), headers=headers)


def _shown_prefix(presented: str | None) -> str | None:
    """The public prefix of a well-formed presented key, for the security log (never the key)."""
    parsed = parse_key(presented) if presented is not None else None
    return parsed.prefix if parsed is not None else None


def _throttled(window: ratelimit.Window, presented: str | None) -> Auth:
    headers = window.headers()
    security_log.record(
        "api.throttled",
        reason="failed_attempt_budget",
        address=request.remote_addr,
        bucket=ratelimit.client_address(),
        prefix=_shown_prefix(presented),
        limit=window.limit,
    )
    error = ApiError(
        429,
        "rate_limited",
        f"Too many failed authentication attempts from your address; retry in {window.retry_after} seconds.",
        {"limit": window.limit, "window_seconds": 60, "scope": "client_address"},
        headers,
    )
    return Auth(error=error, headers=headers)


def _busy(window: ratelimit.Window | None, presented: str | None) -> Auth:
    headers = window.headers() if window is not None else {}
    security_log.record(
        "api.throttled",
        reason="bcrypt_concurrency",
        address=request.remote_addr,
        prefix=_shown_prefix(presented),
    )
    error = ApiError(
        503,
        "service_unavailable",
        "The server is busy checking other new keys; retry in "
        f"{ratelimit.BCRYPT_BUSY_RETRY_AFTER} second. A key it has checked once is served at once.",
        None,
        {**headers, "Retry-After": str(ratelimit.BCRYPT_BUSY_RETRY_AFTER)},
    )
    return Auth(error=error, headers=headers)


def key_rate_limited(limit: int, retry_after: int, headers: dict[str, str] | None = None) -> ApiError:
    """The 429 for a key whose bucket is full (the docs' example is made by it too)."""
    return ApiError(
        429,
        "rate_limited",
        f"Rate limit of {limit} requests per minute exceeded for this key; retry in {retry_after} seconds.",
        {"limit": limit, "window_seconds": 60, "scope": "key"},
        headers,
    )


@dataclass
class ApiCall:
    """One API request as the guard saw it, kept in ``g.api_call`` for the view and ``finish``."""

    # The proven key (also when then refused for its state, its address or its limit).
    key: ApiKey | None = None
    # The key's bucket after this request (introspection reports it).
    window: ratelimit.Window | None = None
    # Headers every response to this request carries: rate limit, expiry, deprecation.
    headers: dict[str, str] = field(default_factory=dict)
    # The usage operation when it is not the endpoint's own (an IP refusal).
    operation: str | None = None


def current_call() -> ApiCall:
    """The guard's record of the current API request."""
    return g.api_call


def install(bp: Blueprint) -> None:
    """Attach the guard and its response hook to the API blueprint."""
    bp.before_request(guard)
    bp.after_request(finish)


def guard() -> None:
    """Refuse the request unless its key is valid, within its limit and holds the ability."""
    call = g.api_call = ApiCall()
    auth = authenticate()
    call.key = auth.proven
    if auth.proven is not None and auth.proven.expires_at is not None:
        # The key is proven (also when refused for its state): its holder hears of its expiry.
        call.headers[EXPIRES_HEADER] = iso_utc(auth.proven.expires_at)
    call.headers.update(auth.headers)
    if auth.error is not None:
        raise auth.error
    assert auth.key is not None and auth.bucket is not None
    call.headers.update(deprecation_headers(auth.key))
    if auth.key.allowed_ips and not allowed_ips.is_allowed(request.remote_addr, tuple(auth.key.allowed_ips)):
        seen = request.remote_addr or "an unknown address"
        call.operation = IP_REFUSED_OPERATION
        refusal = _refuse_proven(
            403,
            "ip_not_allowed",
            f"This key may not be used from {seen}; an admin can add the address to the key's allowed IPs.",
            {"address": request.remote_addr},
        )
        call.headers.update(refusal.headers)
        raise refusal.error
    call.window = ratelimit.hit_key(auth.bucket, auth.rate_limit)
    if call.window is not None:
        call.headers.update(call.window.headers())
        if not call.window.allowed:
            raise key_rate_limited(call.window.limit, call.window.retry_after)
    if request.endpoint in KEY_ONLY_ENDPOINTS:
        return  # any valid key may call it (introspection): no ability to check
    ability = ENDPOINT_ABILITIES.get(request.endpoint or "")
    if ability is None:
        # Deny by default: an API endpoint without a declared ability serves nobody.
        raise ApiError(404, "not_found", "No such endpoint.")
    if ability not in auth.abilities:
        raise ApiError(
            403,
            "forbidden",
            MISSING_ABILITY_MESSAGE.format(ability=ability),
            {"required_ability": ability},
            {"WWW-Authenticate": bearer_challenge("insufficient_scope", scope=ability)},
        )


def finish(response: Response) -> Response:
    """Give the response the headers the guard collected, and count it for a proven key.

    Registered first among the blueprint's ``after_request`` hooks, so it runs last and sees
    the final status (also a 304 made by gzip's conditional check).
    """
    response.headers[REQUEST_ID_HEADER] = request_id()
    call: ApiCall | None = g.get("api_call")
    if call is not None:
        response.headers.update(call.headers)
        if call.key is not None:
            # Every answer to a proven key is counted, refusals included (SPEC §13).
            operation = call.operation or usage.operation_of(request.endpoint)
            usage.count(call.key.id, operation, response.status_code)
    # Answers depend on the key: no cache may keep them. List and show answers set their own
    # ``private, no-cache`` (they carry an ETag to revalidate with; ``app.api.views``).
    response.headers.setdefault("Cache-Control", "no-store")
    return response
