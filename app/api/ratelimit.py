"""The API's rate-limit buckets, counted through Flask-Limiter's strategy and storage.

* **Per key** (``hit_key``): the key's own requests per minute, in a bucket named by its public
  prefix (never its secret), one per roll chain.
* **Failed attempts per client address** (``count_failure``, ``BcryptGate``): every refusal and
  every bcrypt check, counted *before* bcrypt runs, so concurrent requests cannot overshoot.
  An address is its IPv4, or its IPv6 /64 (``validation.untrusted.address_bucket``).
* **Refusals of a proven key per client address** (``count_refusal``): its state or its address
  refused; apart from the failure budget and from every key's bucket (issue 24).
* **Concurrent bcrypt checks per process** (``BcryptGate``): beyond ``API_BCRYPT_CONCURRENCY``,
  503 at once, never a queue.

The guard calls ``limiter.limiter`` after authenticating, not a ``limiter.limit`` decorator, so
the order is explicit. The strategy is the moving window (exact across a minute's edge;
decision 002). Redis down fails closed: 503 with ``Retry-After`` and ``/readyz`` 503, never a
per-process fallback that would multiply every limit by the workers.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

from flask import Flask, current_app
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, RateLimitItemPerMinute, parse

from app.extensions import limiter
from app.validation.untrusted import address_bucket

PER_KEY_SCOPE = "api"
FAILURE_SCOPE = "api-auth-failures"
REFUSAL_SCOPE = "api-key-refusals"
DEFAULT_FAILURE_LIMIT = "20/minute"
BCRYPT_SLOTS_NAME = "stockgate.bcrypt_slots"
# Seconds a client should wait when every bcrypt slot is taken: one check takes ~0.3 s.
BCRYPT_BUSY_RETRY_AFTER = 1


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


def hit_key(bucket: str, rate_limit: int) -> Window | None:
    """Count one request against a key's bucket (``ApiKey.bucket_name``: the prefix, or the one
    a roll chain shares); None when limiting is off."""
    if not enabled():
        return None
    item = per_minute(rate_limit)
    allowed = limiter.limiter.hit(item, bucket, PER_KEY_SCOPE)
    return _window(item, allowed, bucket, PER_KEY_SCOPE)


def init_app(app: Flask) -> None:
    """Give the app its cap on concurrent bcrypt checks (``API_BCRYPT_CONCURRENCY``)."""
    app.extensions[BCRYPT_SLOTS_NAME] = threading.BoundedSemaphore(app.config["API_BCRYPT_CONCURRENCY"])


def _failure_item() -> RateLimitItem:
    return parsed(current_app.config.get("API_AUTH_FAILURE_LIMIT", DEFAULT_FAILURE_LIMIT))


def client_address() -> str:
    """The failed-attempt bucket of this client: its IPv4 address, or its IPv6 /64 network."""
    return address_bucket(get_remote_address())


def _hit_address(scope: str) -> Window | None:
    if not enabled():
        return None
    item = _failure_item()
    address = client_address()
    allowed = limiter.limiter.hit(item, address, scope)
    return _window(item, allowed, address, scope)


def count_failure() -> Window | None:
    """Count one failed attempt against the client's address; None when limiting is off.

    The returned window says whether the hit was allowed: once the budget is spent it is not,
    and the caller answers 429 whatever else was wrong with the request.
    """
    return _hit_address(FAILURE_SCOPE)


def count_refusal() -> Window | None:
    """Count one refusal of a proven key (its state, its address) against the client's address.

    Never a key's bucket nor the failed-attempt budget; the caller answers the refusal whatever
    the count, so the window only feeds the ``X-RateLimit-*`` headers. None when limiting is off.
    """
    return _hit_address(REFUSAL_SCOPE)


class Throttled(Exception):
    """The address has spent its failed-attempt budget: bcrypt was not run."""

    def __init__(self, window: Window) -> None:
        super().__init__("failed-attempt budget spent")
        self.window = window


class BcryptBusy(Exception):
    """Every bcrypt slot of this process is taken: bcrypt was not run (nor queued)."""


class BcryptGate:
    """Entered around one bcrypt check: count the attempt first, then hold a bcrypt slot.

    ``window`` keeps the address's failure bucket as this request left it (for its headers).
    """

    def __init__(self) -> None:
        self.window: Window | None = None

    @contextmanager
    def __call__(self) -> Iterator[None]:
        """Raise ``Throttled`` or ``BcryptBusy`` instead of running bcrypt; never wait."""
        self.window = count_failure()
        if self.window is not None and not self.window.allowed:
            raise Throttled(self.window)
        slots: threading.BoundedSemaphore = current_app.extensions[BCRYPT_SLOTS_NAME]
        if not slots.acquire(blocking=False):
            raise BcryptBusy
        try:
            yield
        finally:
            slots.release()
