"""The API's two rate-limit buckets, counted by Flask-Limiter's configured strategy and storage.

* **Per key** (``hit_key``): ``"<rate_limit> per 1 minute"`` from the key's own row, read fresh
  on every request; the bucket is named by the key's public prefix (``sgk_`` + key id), never
  by its secret, and shared by every endpoint. Changing a key's limit starts a new bucket (the
  amount is part of the bucket's name).
* **Failed attempts per client address** (``failure_budget_left`` / ``count_failure``):
  ``API_AUTH_FAILURE_LIMIT`` (default ``20/minute``), consulted before bcrypt.

Both use ``limiter.limiter``: the strategy object Flask-Limiter builds from
``RATELIMIT_STRATEGY`` over the storage of ``RATELIMIT_STORAGE_URI`` (``limiter.reset()``,
``/readyz`` and the storage options all apply). We call it from the guard rather than through
a ``limiter.limit(...)`` decorator on the blueprint: the decorator machinery re-resolves
limits, exemptions and scopes on every request, which measured 0.28 ms CPU per request here
(memory://) on top of the 0.013 ms the storage operations themselves take -- half of the API's
0.6 ms budget for auth + limit. Calling the strategy directly also makes the order explicit
(authenticate, then count against the key) instead of hiding authentication inside a limit
callable that Flask-Limiter evaluates in its ``before_request``.

**Strategy: moving window** (``RATELIMIT_STRATEGY = "moving-window"``, set in
``app.config``). It is exact: a key limited to N/minute never gets more than N requests in any
60 seconds, also across the minute boundary, where fixed-window lets up to 2N through and
sliding-window-counter only approximates. Measured here (limits 5.8, warm, best of 3 x 1,000;
one ``hit`` plus one ``get_window_stats`` for the headers, CPU per request):

=====================  ==========  ==========================
strategy               memory://   Redis (client CPU / wall)
=====================  ==========  ==========================
fixed-window           6.8 µs      145 µs / 268 µs
moving-window          7.1 µs      142 µs / 385 µs
sliding-window-counter 11.1 µs     122 µs / 327 µs
=====================  ==========  ==========================

With 50,000 entries already in a moving window: 19 µs (memory), 115 µs / 195 µs (Redis).
Wall times on Redis are noisy on a shared machine. Exactness costs nothing measurable; the
price is memory: the bucket keeps one timestamp per request in the window (up to the key's
limit, at most 100,000). On Redis the hit and the window stats travel in one pipelined round
trip (``app.api.redis_window``, limits' own scripts). End to end, auth + limit + last-used
for a proven key measured 0.14 ms CPU (SQLite, memory://) and 0.37 ms (PostgreSQL, Redis;
this process only) per request in ``make bench``, session checkout included.

**Redis down: fail closed.** Storage errors surface as ``limits.errors.StorageError``
(``wrap_exceptions``) and the API answers 503 ``service_unavailable`` with ``Retry-After``;
``/readyz`` reports 503 too, so a load balancer drains the instance. We do not fall back to
per-process memory: that would silently multiply every key's limit by the number of workers
and weaken the failed-attempt cap that protects bcrypt. ``RATELIMIT_STORAGE_OPTIONS`` sets
0.5 s socket timeouts, so a request never hangs on a dead Redis.

With ``RATELIMIT_ENABLED = False`` nothing is counted (and no headers are sent).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache

from flask import current_app
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, RateLimitItemPerMinute, parse

from app.api import redis_window
from app.extensions import limiter

PER_KEY_SCOPE = "api"
FAILURE_SCOPE = "api-auth-failures"
DEFAULT_FAILURE_LIMIT = "20/minute"


@dataclass(frozen=True)
class Window:
    """The state of a bucket after this request: what the ``X-RateLimit-*`` headers say."""

    allowed: bool
    limit: int
    remaining: int
    reset: float  # epoch time when the bucket has room again

    def headers(self) -> dict[str, str]:
        """``X-RateLimit-*`` headers, plus ``Retry-After`` when the request was refused."""
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers

    @property
    def retry_after(self) -> int:
        """Whole seconds until the bucket has room again (at least 1)."""
        return max(1, math.ceil(self.reset - time.time()))


def enabled() -> bool:
    """True when rate limiting is on for this app (``RATELIMIT_ENABLED``)."""
    return bool(limiter.enabled and limiter.initialized)


@lru_cache(maxsize=4096)
def per_minute(amount: int) -> RateLimitItem:
    """The limit item for ``amount`` requests per minute (cached: keys share a few values)."""
    return RateLimitItemPerMinute(amount)


@lru_cache(maxsize=16)
def _parsed(limit: str) -> RateLimitItem:
    return parse(limit)


def _window(item: RateLimitItem, allowed: bool, *identifiers: str) -> Window:
    reset, remaining = limiter.limiter.get_window_stats(item, *identifiers)
    return Window(allowed, item.amount, remaining, reset)


def hit_key(prefix: str, rate_limit: int) -> Window | None:
    """Count one request against the key's bucket; None when limiting is off."""
    if not enabled():
        return None
    item = per_minute(rate_limit)
    strategy = limiter.limiter
    if redis_window.supports(strategy):
        allowed, reset, remaining = redis_window.hit_with_stats(strategy, item, prefix, PER_KEY_SCOPE)
        return Window(allowed, item.amount, remaining, reset)
    allowed = strategy.hit(item, prefix, PER_KEY_SCOPE)
    return _window(item, allowed, prefix, PER_KEY_SCOPE)


def _failure_item() -> RateLimitItem:
    return _parsed(current_app.config.get("API_AUTH_FAILURE_LIMIT", DEFAULT_FAILURE_LIMIT))


def failure_budget_left() -> bool:
    """True when the client's address may still make bcrypt run (asked before bcrypt)."""
    if not enabled():
        return True
    return limiter.limiter.test(_failure_item(), get_remote_address(), FAILURE_SCOPE)


def count_failure() -> Window | None:
    """Count one refused request against the client's address; None when limiting is off."""
    if not enabled():
        return None
    item = _failure_item()
    address = get_remote_address()
    limiter.limiter.hit(item, address, FAILURE_SCOPE)
    return _window(item, True, address, FAILURE_SCOPE)


def failure_window() -> Window:
    """The address's failure bucket as it stands, marked refused (for the throttled 429)."""
    return _window(_failure_item(), False, get_remote_address(), FAILURE_SCOPE)
