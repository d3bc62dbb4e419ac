"""Fixtures for serving tests: real servers (gunicorn, waitress, nginx), PostgreSQL, Redis, faults.

Tests that need ``TEST_DATABASE_URL``, ``TEST_REDIS_URL`` or a binary (redis-server, nginx)
skip locally without it and fail under ``CI=true``, like every suite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine

from app import create_app
from app.accounts import create_user
from app.catalogue import ALL_ABILITIES
from app.extensions import db
from app.keys import service as keys_service
from bench.harness import Server, free_port
from tests.conftest import _require, base_config, empty_postgres_database


@pytest.fixture
def pg_url(postgres_database: str) -> Iterator[str]:
    """The run's PostgreSQL database (the schema, no rows), emptied again after the test.

    Shared rather than created and dropped per test: a ``DROP DATABASE`` waits for a checkpoint
    (0.2-10 s on a busy machine). Servers that use it are stopped before it is emptied (ask
    for ``pg_url`` before ``gunicorn``, so it is torn down after).
    """
    empty(postgres_database)
    yield postgres_database
    empty(postgres_database)


def empty(database_url: str) -> None:
    """Delete every row of ``database_url`` and restart its sequences."""
    engine = create_engine(database_url)
    with engine.begin() as conn:
        empty_postgres_database(conn)
    engine.dispose()


@pytest.fixture
def shared_redis_url(redis_url: str) -> str:
    """TEST_REDIS_URL, emptied first (it is the tests' own database number)."""
    redis.Redis.from_url(redis_url).flushdb()
    return redis_url


class RedisServer:
    """A private redis-server on a free port, which a test may stop and start again."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            _require("REDIS_SERVER_BINARY")  # skips locally, fails in CI
        self.binary = binary or "redis-server"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The redis:// URL of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        """Stop the server (as a crash or a maintenance would)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()


def seed_key(database_url: str, *, create_schema: bool = False, bcrypt_rounds: int = 4, **kwargs: Any) -> str:
    """Create an owner (once) and a key in ``database_url``; return the full key.

    ``create_schema`` first creates the tables (a fresh SQLite file); ``bcrypt_rounds`` is the
    key hash's cost.
    """
    app = create_app({**base_config(database_url), "API_KEY_BCRYPT_ROUNDS": bcrypt_rounds})
    with app.app_context():
        from app.accounts import find_user_by_email

        if create_schema:
            db.create_all()

        if find_user_by_email("sync@example.com") is None:
            create_user("sync@example.com", "Amazon SP-API sync", is_system=True, actor="tests")
        kwargs.setdefault("name", "Partner feed")
        kwargs.setdefault("abilities", list(ALL_ABILITIES))
        raw = keys_service.create_key(owner="sync@example.com", actor="tests", **kwargs).raw_key
        db.engine.dispose()
    return raw


def server_env(database_url: str, storage_uri: str) -> dict[str, str]:
    """Environment for a server (gunicorn or waitress) of the app."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "RATELIMIT_STORAGE_URI": storage_uri,
        "SECRET_KEY": "production-test",
        "API_KEY_BCRYPT_ROUNDS": "4",
    }


@pytest.fixture
def gunicorn() -> Iterator[Any]:
    """Factory: ``gunicorn(env, workers=4)`` starts gunicorn (stock workers), stopped after the test."""
    servers: list[Server] = []

    def start(env: dict[str, str], workers: int = 4, threads: int = 1) -> Server:
        server = Server(env, workers=workers, threads=threads).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)
