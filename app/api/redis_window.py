"""Moving-window hit and window stats in one Redis round trip, with limits' own Lua scripts.

``MovingWindowRateLimiter.hit`` and ``get_window_stats`` are two round trips to Redis, and
the API needs both on every request (the verdict, then the ``X-RateLimit-*`` headers). This
sends the same two scripts -- the ones ``limits.storage.RedisStorage`` registered, with the
arguments ``acquire_entry`` and ``get_moving_window`` pass -- as one pipeline, so the
algorithm, the keys and the stored entries stay the library's; only the network trip is
shared. Measured on the production bench shape: about 0.1 ms of CPU and one round trip
less per API request.

Only a plain ``RedisStorage`` behind the moving-window strategy takes this path (cluster
and sentinel storages, other strategies and ``memory://`` use the library's calls). A test
checks that both paths give the same windows, so a change of ``limits`` that breaks the
assumption fails there.
"""

from __future__ import annotations

import time

from limits import RateLimitItem
from limits.errors import StorageError
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter, RateLimiter
from redis.exceptions import NoScriptError


def supports(strategy: RateLimiter) -> bool:
    """True when ``hit_with_stats`` can serve this strategy and storage."""
    return type(strategy) is MovingWindowRateLimiter and type(strategy.storage) is RedisStorage


def hit_with_stats(strategy: RateLimiter, item: RateLimitItem, *identifiers: str) -> tuple[bool, float, int]:
    """Count one hit; return (allowed, reset epoch, remaining) as hit + get_window_stats would."""
    storage = strategy.storage
    assert isinstance(storage, RedisStorage)
    key = storage.prefixed_key(item.key_for(*identifiers))
    expiry = item.get_expiry()
    now = time.time()
    # transaction=False: no MULTI/EXEC; Redis runs each script atomically, as the library does.
    pipe = storage.get_connection().pipeline(transaction=False)
    pipe.evalsha(storage.lua_acquire_moving_window.sha, 1, key, now, item.amount, expiry, 1)
    pipe.evalsha(storage.lua_moving_window.sha, 1, key, now - expiry, item.amount)
    try:
        acquired, window = pipe.execute(raise_on_error=False)
    except storage.base_exceptions as exc:
        raise StorageError(exc) from exc
    if isinstance(acquired, NoScriptError):
        # Redis lost its scripts (restart, SCRIPT FLUSH): nothing was counted. The library's
        # calls load the scripts again.
        allowed = strategy.hit(item, *identifiers)
        reset, remaining = strategy.get_window_stats(item, *identifiers)
        return allowed, reset, remaining
    if isinstance(acquired, Exception):
        raise StorageError(acquired)
    if isinstance(window, NoScriptError):
        # The hit was counted; only the stats script is missing.
        reset, remaining = strategy.get_window_stats(item, *identifiers)
        return bool(acquired), reset, remaining
    if isinstance(window, Exception):
        raise StorageError(window)
    # As RedisStorage.get_moving_window and MovingWindowRateLimiter.get_window_stats.
    start, count = (float(window[0]), int(window[1])) if window else (now, 0)
    return bool(acquired), start + expiry, item.amount - count
