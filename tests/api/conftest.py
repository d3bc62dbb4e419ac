"""Fixtures for the API tests: keys with chosen abilities, and a caller that sends them."""

from __future__ import annotations

import threading
import time
from typing import Any

import bcrypt
import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.catalogue import ALL_ABILITIES


@pytest.fixture
def all_abilities_key(make_key: Any) -> Any:
    """A key holding every list and show ability, with a limit no test reaches by accident."""
    return make_key(name="Everything", abilities=list(ALL_ABILITIES), rate_limit=100_000)


@pytest.fixture
def call(client: FlaskClient) -> Any:
    """``call(path, key=None, method="GET", headers=None)``: request with ``X-API-Key`` when given."""

    def request(
        path: str,
        key: str | None = None,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> TestResponse:
        sent = dict(headers or {})
        if key is not None:
            sent["X-API-Key"] = key
        return client.open(path, method=method, headers=sent, **kwargs)

    return request


class SlowBcrypt:
    """Counts of a ``bcrypt.checkpw`` that takes at least ``delay`` seconds (GIL released)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.calls = 0
        self.running = 0
        self.most_at_once = 0
        self.lock = threading.Lock()


@pytest.fixture
def slow_bcrypt(monkeypatch: pytest.MonkeyPatch) -> SlowBcrypt:
    """Make every bcrypt check last 50 ms and count calls and overlap, so concurrent requests
    really overlap inside bcrypt whatever the machine's speed."""
    stats = SlowBcrypt(0.05)
    real = bcrypt.checkpw

    def slow(password: bytes, hashed: bytes) -> bool:
        with stats.lock:
            stats.calls += 1
            stats.running += 1
            stats.most_at_once = max(stats.most_at_once, stats.running)
        try:
            time.sleep(stats.delay)
            return real(password, hashed)
        finally:
            with stats.lock:
                stats.running -= 1

    monkeypatch.setattr(bcrypt, "checkpw", slow)
    return stats


@pytest.fixture
def concurrently(app: Any) -> Any:
    """``concurrently([(path, headers, remote_addr), ...])``: send them all at once, one thread
    and one test client each, released together by a barrier; return the responses in order."""

    def run(requests: list[tuple[str, dict[str, str], str]]) -> list[Any]:
        barrier = threading.Barrier(len(requests))
        responses: list[Any] = [None] * len(requests)

        def send(n: int, path: str, headers: dict[str, str], remote_addr: str) -> None:
            client = app.test_client()
            barrier.wait()
            responses[n] = client.get(path, headers=headers, environ_base={"REMOTE_ADDR": remote_addr})

        threads = [threading.Thread(target=send, args=(n, *request)) for n, request in enumerate(requests)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        return responses

    return run
