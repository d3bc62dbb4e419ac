"""Shared fixtures: one app per test, on SQLite and (when available) PostgreSQL.

The data-layer fixtures are parametrised over both databases. PostgreSQL tests need
``TEST_DATABASE_URL`` (any database on the server; a fresh one is created per run and
dropped at the end). Under ``CI=true`` a missing variable fails the run instead of
skipping, so CI can never pass with a suite silently left out.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from app import create_app
from app.db.engine import engine_options
from app.extensions import db, limiter
from app.keys import service as keys_service
from app.models.users import User

# The audit actor the factories name when a test does not say who made a change.
TEST_ACTOR = "tests"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ["sqlite", "postgresql"]


def _require(variable: str) -> str:
    """Return an environment variable a suite needs; skip locally, fail in CI."""
    value = os.environ.get(variable)
    if value:
        return value
    message = f"{variable} is not set; this suite needs it"
    if IN_CI:
        pytest.fail(f"{message} (CI must run every suite)", pytrace=False)
    pytest.skip(message)


def _psycopg_url(url: str) -> str:
    if url.startswith("postgres://") or url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The PostgreSQL server given by TEST_DATABASE_URL."""
    return _psycopg_url(_require("TEST_DATABASE_URL"))


def create_fresh_database(server_url: str) -> str:
    """Create an empty, uniquely named PostgreSQL database and return its URL."""
    name = f"stockgate_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, url: str) -> None:
    """Drop a database made by ``create_fresh_database``, closing its connections."""
    name = make_url(url).database
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def fresh_schema_database(server_url: str) -> Iterator[str]:
    """A new PostgreSQL database with every table created; dropped on exit."""
    url = create_fresh_database(server_url)
    engine = create_engine(url)
    db.metadata.create_all(engine)
    engine.dispose()
    try:
        yield url
    finally:
        drop_database(server_url, url)


@pytest.fixture(scope="session")
def postgres_database(postgres_server_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this run, with the schema created once."""
    with fresh_schema_database(postgres_server_url) as url:
        yield url


@pytest.fixture
def redis_url() -> str:
    """TEST_REDIS_URL: the Redis database the tests may use (skipped locally, failed in CI)."""
    return _require("TEST_REDIS_URL")


def base_config(database_url: str) -> dict[str, Any]:
    """Test configuration: fast bcrypt, in-memory limits, the given database."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(database_url),
        "API_KEY_BCRYPT_ROUNDS": 4,
        "PASSWORD_BCRYPT_ROUNDS": 4,
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_ENABLED": True,
        # No flush thread per test app: tests that read usage flush it (app.usage.flush).
        "USAGE_FLUSH_SECONDS": 0,
    }


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database engine this test runs on."""
    return request.param


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database URL for one test: a new SQLite file, or the run's PostgreSQL database."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("postgres_database")


@pytest.fixture
def app_config(database_url: str) -> dict[str, Any]:
    """The config mapping the ``app`` fixture passes to ``create_app``; tests may extend it."""
    return base_config(database_url)


@pytest.fixture
def app(app_config: dict[str, Any], backend: str) -> Iterator[Flask]:
    """A fresh application with an empty schema and empty rate-limit counters."""
    application = create_app(app_config)
    with application.app_context():
        if backend == "sqlite":
            db.create_all()
        limiter.reset()
    yield application
    with application.app_context():
        db.session.remove()
        if backend == "postgresql":
            tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        limiter.reset()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for ``app``."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    """A CLI runner for ``app``."""
    return app.test_cli_runner()


@pytest.fixture
def make_user(app: Flask) -> Any:
    """Factory: ``make_user(email=..., name=..., is_admin=..., is_system=..., password=...)``."""
    from app import accounts

    counter = iter(range(1, 1_000_000))

    def factory(**kwargs: Any) -> User:
        n = next(counter)
        kwargs.setdefault("email", f"user{n}@example.com")
        kwargs.setdefault("name", f"User {n}")
        kwargs.setdefault("actor", TEST_ACTOR)
        with app.app_context():
            user = accounts.create_user(
                kwargs.pop("email"),
                kwargs.pop("name"),
                **kwargs,
            )
            db.session.refresh(user)
            db.session.expunge(user)
            return user

    return factory


@pytest.fixture
def make_key(app: Flask, make_user: Any) -> Any:
    """Factory: ``make_key(name=..., owner=..., abilities=[...], rate_limit=..., expires_at=...)``.

    Returns the ``CreatedKey`` (``.key`` detached, ``.raw_key`` the full key).
    """
    owner_cache: dict[str, User] = {}

    def factory(**kwargs: Any) -> keys_service.CreatedKey:
        if "owner" not in kwargs:
            if "default" not in owner_cache:
                owner_cache["default"] = make_user(email="owner@example.com", name="Key Owner")
            kwargs["owner"] = owner_cache["default"].email
        elif isinstance(kwargs["owner"], User):
            kwargs["owner"] = kwargs["owner"].email
        kwargs.setdefault("name", "Test key")
        kwargs.setdefault("abilities", ["products:list"])
        kwargs.setdefault("actor", TEST_ACTOR)
        with app.app_context():
            created = keys_service.create_key(**kwargs)
            db.session.refresh(created.key)
            db.session.expunge(created.key)
            return created

    return factory


@pytest.fixture
def in_parallel(app: Flask) -> Any:
    """``in_parallel(*calls)``: run each call in a thread of its own, each with its own app
    context (so its own session and connection), all released at once; return what each call
    returned or raised, in order. For races: two admins pressing one button at the same time."""

    def run(*calls: Any) -> list[Any]:
        start = threading.Barrier(len(calls))
        outcomes: list[Any] = [None] * len(calls)

        def work(index: int, call: Any) -> None:
            with app.app_context():
                start.wait(timeout=30)
                try:
                    outcomes[index] = call()
                except Exception as exc:  # the caller asserts on what each one raised
                    outcomes[index] = exc

        threads = [threading.Thread(target=work, args=pair, daemon=True) for pair in enumerate(calls)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads), "a parallel call never finished"
        return outcomes

    return run


@pytest.fixture
def bcrypt_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count calls to ``bcrypt.checkpw`` (the expensive step of verifying a key)."""
    counts = {"checkpw": 0}
    real = bcrypt.checkpw
    lock = threading.Lock()  # tests call from several threads; `+=` alone could lose counts

    def counting(password: bytes, hashed: bytes) -> bool:
        with lock:
            counts["checkpw"] += 1
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    return counts


@contextmanager
def serve_in_thread(application: Flask) -> Iterator[str]:
    """Serve ``application`` with werkzeug from a thread on a free port; yield its base URL.

    Use a SQLite *file* database: ``:memory:`` is per connection, and the server thread
    shares nothing else with the test.
    """
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with application.app_context():
            db.session.remove()
            db.engine.dispose()


CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags chromium keeps dialling Google on this closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, through Playwright; skipped locally without it, failed in CI."""
    if not os.path.exists(CHROMIUM):
        _require("STOCKGATE_CHROMIUM_PRESENT")  # skips locally, fails under CI=true
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
