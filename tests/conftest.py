"""Shared fixtures: one app per test, on SQLite, and on PostgreSQL too where the SQL can differ.

Which database (SPEC §10): a test runs once, on SQLite, unless it is marked
``@pytest.mark.both_databases`` (a test, a class, or a module's ``pytestmark``): then it runs
on SQLite and on PostgreSQL. Mark what exercises SQL that can differ between the two --
queries, migrations, counting, locking, search, pagination, concurrency; HTML, CLI wording and
validation run once. ``pytest --all-databases`` runs every database test on both, the full
matrix, for a change to the data layer. A test may also parametrize ``backend`` itself
(``@pytest.mark.parametrize("backend", ["postgresql"])``).

PostgreSQL tests need ``TEST_DATABASE_URL`` (any database on the server; a fresh one is
created per run and dropped at the end). Under ``CI=true`` a missing variable fails the run
instead of skipping, so CI can never pass with a suite silently left out.

The schema is built once per run, not per test (measured on this 2-core machine, under load):

- SQLite: ``create_all`` into a template file once per session; each test gets a copy
  (``shutil.copyfile``, about 0.4 ms against about 30 ms for ``create_all``). The copy is the
  same file ``create_all`` would have made: same DDL (search triggers included), WAL mode.
- PostgreSQL: one database per run with the schema; after each test every table is emptied
  with ``DELETE`` (children first) and every sequence restarted, in one round trip: about
  3 ms, against about 105 ms for ``TRUNCATE ... RESTART IDENTITY`` of the 23 tables. A
  SAVEPOINT rolled back per test was not chosen: the app writes on connections of its own
  (``db.engine.begin()`` for Last Used At and the usage flush), tests open other engines
  and threads, and servers in other processes write too; none of those would be rolled back.
  Serving tests share that database too (``pg_url``), emptied the same way, instead of
  creating and dropping one per test (a ``DROP DATABASE`` waits for a checkpoint: 0.2-10 s).
  The run's databases commit without waiting for the WAL flush (``synchronous_commit=off``:
  0.4 ms against 4 ms a commit); only a crash of the server could lose what a test wrote.
- Jinja: every test app shares the compiled templates (``CompiledTemplates``); compiling
  them again per app was half of a panel test's time.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import bcrypt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from jinja2.bccache import Bucket, BytecodeCache
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from app import create_app
from app.db.engine import engine_options
from app.extensions import db, limiter
from app.keys import search
from app.keys import service as keys_service
from app.models.users import User

# The audit actor the factories name when a test does not say who made a change.
TEST_ACTOR = "tests"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ["sqlite", "postgresql"]
DEFAULT_BACKEND = "sqlite"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--all-databases``: run every database test on both engines, marked or not."""
    parser.addoption(
        "--all-databases",
        action="store_true",
        help="run every test that uses a database on SQLite and PostgreSQL (not only both_databases)",
    )


def _parametrizes_backend_itself(metafunc: pytest.Metafunc) -> bool:
    """Whether the test already has a ``parametrize`` mark naming ``backend``."""
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        if isinstance(names, str):
            names = [name.strip() for name in names.split(",")]
        if "backend" in names:
            return True
    return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run tests marked ``both_databases`` (or all, with ``--all-databases``) on both engines."""
    if "backend" not in metafunc.fixturenames or _parametrizes_backend_itself(metafunc):
        return
    both = metafunc.definition.get_closest_marker("both_databases") is not None
    if both or metafunc.config.getoption("all_databases"):
        metafunc.parametrize("backend", BACKENDS, indirect=True)


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
        # A commit need not wait for its WAL to reach the disk (every connection, servers
        # in other processes included): about 4 ms less per commit here. Only a crash of the
        # server could lose such a commit; what a test sees is the same.
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, url: str) -> None:
    """Drop a database made by ``create_fresh_database``, closing its connections."""
    name = make_url(url).database
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_EMPTYING: dict[str, str] = {}


def empty_postgres_database(connection: Any) -> None:
    """Delete every row (children first) and restart every sequence: the reset between tests.

    ``connection`` is a SQLAlchemy connection in a transaction (``engine.begin()``).
    """
    url = connection.engine.url.render_as_string(hide_password=False)
    if url not in _EMPTYING:
        sequences = connection.execute(text("SELECT schemaname, sequencename FROM pg_sequences")).all()
        statements = [f'DELETE FROM "{table.name}"' for table in reversed(db.metadata.sorted_tables)]
        statements += [f'ALTER SEQUENCE "{schema}"."{name}" RESTART' for schema, name in sequences]
        _EMPTYING[url] = "; ".join(statements)
    connection.exec_driver_sql(_EMPTYING[url])


@contextmanager
def fresh_schema_database(server_url: str) -> Iterator[str]:
    """A new PostgreSQL database with every table created; dropped on exit."""
    url = create_fresh_database(server_url)
    engine = create_engine(url)
    search.register_ddl()  # as create_app does: the trigram indexes need their extension first
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


@pytest.fixture(scope="session")
def new_postgres_database(postgres_server_url: str) -> Iterator[Any]:
    """Factory: ``new_postgres_database()`` makes an empty database (no tables) and returns its URL.

    All are dropped together at the end of the run: a ``DROP DATABASE`` waits for a
    checkpoint of the whole server, and the first one in a row pays for the rest.
    """
    made: list[str] = []

    def make() -> str:
        made.append(create_fresh_database(postgres_server_url))
        return made[-1]

    yield make
    for url in made:
        drop_database(postgres_server_url, url)


@pytest.fixture(scope="session")
def redis_url(worker_id: str) -> str:
    """TEST_REDIS_URL: the Redis database the tests may use (skipped locally, failed in CI).

    Under pytest-xdist each worker gets a database number of its own, counting down from the
    one given (``gw1`` of ``/15`` uses ``/14``), so one worker's flush never empties another's.
    """
    url = _require("TEST_REDIS_URL")
    if worker_id == "master":
        return url
    parts = urlsplit(url)
    number = int(parts.path.lstrip("/") or 0) - int(worker_id.removeprefix("gw"))
    if number < 0:
        pytest.fail(f"TEST_REDIS_URL {url}: too few Redis databases below it for worker {worker_id}")
    return urlunsplit(parts._replace(path=f"/{number}"))


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


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The database engine this test runs on: SQLite, or each in turn for ``both_databases``."""
    return getattr(request, "param", DEFAULT_BACKEND)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file holding the whole schema, built once per run; tests get copies of it."""
    path = tmp_path_factory.mktemp("schema") / "template.db"
    application = create_app(base_config(f"sqlite:///{path}"))
    with application.app_context():
        db.create_all()
        with db.engine.connect() as conn:
            # Everything into the main file, so a copy of that file alone is the whole database.
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.engine.dispose()
    return path


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database URL for one test, schema included: a copy of the SQLite template, or the
    run's PostgreSQL database (emptied after each test by ``app``)."""
    if backend == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        path.chmod(0o600)  # as the app itself creates a SQLite file
        return f"sqlite:///{path}"
    return request.getfixturevalue("postgres_database")


@pytest.fixture
def app_config(database_url: str) -> dict[str, Any]:
    """The config mapping the ``app`` fixture passes to ``create_app``; tests may extend it."""
    return base_config(database_url)


class CompiledTemplates(BytecodeCache):
    """Jinja's compiled templates, kept for the run and shared by every test app.

    Each test's app has a Jinja environment of its own, which compiled every template it
    rendered again: about half of a panel test's time. Entries are keyed by template and
    checked against the source's checksum, so an edited template is compiled afresh.
    """

    def __init__(self) -> None:
        self.compiled: dict[str, tuple[str, Any]] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        """Hand the bucket the code compiled earlier from the same source, if any."""
        checksum, code = self.compiled.get(bucket.key, (None, None))
        if checksum == bucket.checksum:
            bucket.code = code

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Keep what was just compiled."""
        self.compiled[bucket.key] = (bucket.checksum, bucket.code)


COMPILED_TEMPLATES = CompiledTemplates()


@pytest.fixture
def app(app_config: dict[str, Any], backend: str, database_url: str) -> Iterator[Flask]:
    """A fresh application with an empty schema and empty rate-limit counters."""
    application = create_app(app_config)
    application.jinja_env.bytecode_cache = COMPILED_TEMPLATES
    own_database = app_config["SQLALCHEMY_DATABASE_URI"] == database_url
    with application.app_context():
        if backend == "sqlite" and not own_database:
            db.create_all()  # a test pointed the app at a SQLite file of its own
        limiter.reset()
    yield application
    with application.app_context():
        db.session.remove()
        limiter.reset()
        if backend == "postgresql":
            engine = db.engine if own_database else create_engine(database_url)
            with engine.begin() as conn:
                empty_postgres_database(conn)
            engine.dispose()
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
def make_warehouse(app: Flask) -> Any:
    """Factory: ``make_warehouse(code, name=...)`` adds a warehouse (for a key's scope to name)."""
    from app.models.products import Warehouse, WarehouseKind

    def factory(code: str, name: str | None = None) -> str:
        with app.app_context():
            where = {"city": "Reno", "country": "US"}
            db.session.add(Warehouse(code=code, name=name or f"Hall {code}", kind=WarehouseKind.OWN, **where))
            db.session.commit()
        return code

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
def seed_scale() -> int:
    """How much demo data ``seeded`` writes (``seed_demo``'s scale); a module may override it."""
    return 5


@pytest.fixture
def seeded(app: Flask, seed_scale: int) -> dict[str, int]:
    """Demo data in every module (``seed_demo`` at ``seed_scale``); returns rows per module slug."""
    from app.catalogue import MODULES
    from app.seed import seed_demo

    with app.app_context():
        seed_demo(scale=seed_scale)
        return {m.slug: db.session.scalar(select(func.count()).select_from(m.model)) or 0 for m in MODULES}


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
