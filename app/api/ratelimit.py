"""The API's two rate-limit buckets, counted by Flask-Limiter's configured strategy and storage.

* **Per key** (``hit_key``): ``"<rate_limit> per 1 minute"`` from the key's own row, read fresh
  on every request; the bucket is named by the key's public prefix (``sgk_`` + key id), never
  by its secret, and shared by every endpoint. Changing a key's limit starts a new bucket (the
  amount is part of the bucket's name).
* **Failed attempts per client address** (``failure_budget_left`` / ``count_failure``):
  ``API_AUTH_FAILURE_LIMIT`` (default ``20/minute``), consulted before bcrypt.

Both use ``limiter.limiter``: the strategy object Flask-Limiter builds from
``RATELIMIT_STRATEGY`` over the storage of ``RATELIMIT_STORAGE_URI`` (``limiter.reset()``,
``/readyz`` and the storage options all apply). The guard calls it after authenticating rather
than through a ``limiter.limit(...)`` decorator, so the order is explicit (authenticate, then
count against the key) and the decorator's per-request resolution of limits is not paid.

**Strategy: moving window** (``RATELIMIT_STRATEGY``, set in ``app.config``): exact, a key
limited to N/minute never gets more than N requests in any 60 seconds, also across the minute
boundary, where fixed-window lets up to 2N through. The price is memory: the bucket keeps one
timestamp per request in the window (at most the key's limit). See
``docs/decisions/002-rate-limit-strategy.md`` for the measurements.

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
def parsed(limit: str) -> RateLimitItem:
    """The limit item of a limit string such as ``20/minute`` (cached: parsing is slow)."""
    return parse(limit)


def _window(item: RateLimitItem, allowed: bool, *identifiers: str) -> Window:
    reset, remaining = limiter.limiter.get_window_stats(item, *identifiers)
    return Window(allowed, item.amount, remaining, reset)


def hit_key(prefix: str, rate_limit: int) -> Window | None:
    """Count one request against the key's bucket; None when limiting is off."""
    if not enabled():
        return None
    item = per_minute(rate_limit)
    allowed = limiter.limiter.hit(item, prefix, PER_KEY_SCOPE)
    return _window(item, allowed, prefix, PER_KEY_SCOPE)


def _failure_item() -> RateLimitItem:
    return parsed(current_app.config.get("API_AUTH_FAILURE_LIMIT", DEFAULT_FAILURE_LIMIT))


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
