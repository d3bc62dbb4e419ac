"""``memory://`` rate-limit storage: limits' counting, with one sweeper thread instead of a timer per hit."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from app import memory_storage
from app.memory_storage import SweptMemoryStorage

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def quick_sweeps(monkeypatch):
    """Sweep every 20 ms, so a test sees a whole sweeper's life in well under a second."""
    monkeypatch.setattr(memory_storage, "SWEEP_SECONDS", 0.02)


def _wait_until(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        gc.collect()
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_memory_uri_builds_the_swept_storage(tmp_path):
    """memory:// -- the embedded default -- gets this storage, in limits and in the app."""
    assert isinstance(storage_from_string("memory://"), SweptMemoryStorage)
    # A fresh interpreter: the app alone (not this test's import) must register the class.
    script = (
        "from app import create_app; from app.extensions import limiter; "
        "from tests.conftest import base_config; "
        f"app = create_app({{**base_config('sqlite:///{tmp_path / 'x.db'}'), "
        "'RATELIMIT_STORAGE_URI': 'memory://'}); "
        "print(type(limiter.storage).__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "SweptMemoryStorage"


def test_hits_spread_over_time_start_no_timer_threads(monkeypatch):
    """limits starts a Timer 10 ms after each finished one; here one sweeper serves all hits."""
    started: list[threading.Thread] = []
    original_start = threading.Thread.start

    def counting_start(thread: threading.Thread) -> None:
        started.append(thread)
        original_start(thread)

    storage = SweptMemoryStorage()
    strategy = MovingWindowRateLimiter(storage)
    item = RateLimitItemPerSecond(1000)
    monkeypatch.setattr(threading.Thread, "start", counting_start)
    for _ in range(5):
        assert strategy.hit(item, "spread")
        time.sleep(0.03)  # longer than limits' 10 ms timer
    assert [thread.name for thread in started] == ["rate-limit-sweeper"]
    assert not any(isinstance(thread, threading.Timer) for thread in started)


@pytest.mark.parametrize("strategy_class", [MovingWindowRateLimiter, FixedWindowRateLimiter])
def test_counting_is_limits_own(strategy_class):
    """3 per second: three hits pass, the fourth is refused, and a second later one passes."""
    strategy = strategy_class(SweptMemoryStorage())
    item = RateLimitItemPerSecond(3)
    assert [strategy.hit(item, "k") for _ in range(4)] == [True, True, True, False]
    time.sleep(1.05)
    assert strategy.hit(item, "k")


def test_the_sweeper_frees_expired_entries_then_ends(quick_sweeps):
    """Once every window has passed, the sweep empties the storage and its thread ends."""
    storage = SweptMemoryStorage()
    moving, fixed = MovingWindowRateLimiter(storage), FixedWindowRateLimiter(storage)
    item = RateLimitItemPerSecond(5)
    assert moving.hit(item, "moving") and fixed.hit(item, "fixed")
    sweeper = storage._sweeper
    assert sweeper is not None and sweeper.is_alive()
    assert storage.events and storage.expirations
    assert _wait_until(lambda: not sweeper.is_alive())
    assert not any(storage.events.values()) and not storage.expirations
    assert moving.hit(item, "moving")  # the next hit starts a new sweeper
    assert storage._sweeper is not sweeper and storage._sweeper.is_alive()


def test_the_sweeper_does_not_keep_a_dropped_storage_alive(quick_sweeps):
    """A storage nobody holds (a finished test's app) is collected, and its sweeper ends."""
    storage = SweptMemoryStorage()
    MovingWindowRateLimiter(storage).hit(RateLimitItemPerSecond(5), "k")
    sweeper = storage._sweeper
    del storage
    gc.collect()
    assert _wait_until(lambda: not sweeper.is_alive())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_worker_starts_its_own_sweeper():
    """gunicorn forks workers from a master that may have hit the storage: the child sweeps too."""
    storage = SweptMemoryStorage()
    strategy = MovingWindowRateLimiter(storage)
    item = RateLimitItemPerSecond(5)
    strategy.hit(item, "k")
    parent_sweeper = storage._sweeper
    pid = os.fork()
    if pid == 0:  # the child: report through the exit code only
        ok = not parent_sweeper.is_alive()
        strategy.hit(item, "k")
        ok = ok and storage._sweeper is not parent_sweeper and storage._sweeper.is_alive()
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
