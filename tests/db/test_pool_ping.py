"""PostgreSQL pool: connections are pinged only after sitting idle, and a cut one is replaced unseen."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from app import create_app
from app.db import pool_ping
from app.db.engine import engine_options
from app.extensions import db
from tests.conftest import base_config


@pytest.fixture
def pg_app(postgres_database):
    """An app on the test run's PostgreSQL database, with the production engine options."""
    app = create_app(base_config(postgres_database))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def pings(pg_app, monkeypatch):
    """Every ping the pool sends, counted."""
    with pg_app.app_context():
        dialect = db.engine.dialect
    sent: list[object] = []
    original = dialect.do_ping

    def counting_ping(dbapi_connection):
        sent.append(dbapi_connection)
        return original(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counting_ping)
    return sent


def _terminate(pid: int) -> None:
    """End a backend from a connection of another engine (as a server restart would)."""
    other = create_engine(db.engine.url)
    with other.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    other.dispose()


def _pooled_connection_ended_by_the_server() -> int:
    """Use a connection, return it to the pool, then end its backend; return the backend's pid."""
    pid = _backend_pid()
    db.session.remove()
    _terminate(pid)
    return pid


def _backend_pid() -> int:
    return db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_postgresql_has_no_ping_on_every_checkout():
    """The per-request SELECT 1 of pool_pre_ping is gone; the idle ping replaces it."""
    assert "pool_pre_ping" not in engine_options("postgresql+psycopg://db/x")


def test_a_connection_in_steady_use_is_not_pinged(pg_app, pings):
    """Requests one after the other reuse the connection with no round trip before each."""
    with pg_app.app_context():
        for _ in range(20):
            _backend_pid()
            db.session.remove()
    assert pings == []


def test_a_connection_idle_past_the_limit_is_pinged(pg_app, pings, monkeypatch):
    """After IDLE_SECONDS in the pool, the next checkout pings first."""
    monkeypatch.setattr(pool_ping, "IDLE_SECONDS", 0.0)
    with pg_app.app_context():
        _backend_pid()
        db.session.remove()
        _backend_pid()
        db.session.remove()
    assert len(pings) == 1


def test_a_connection_cut_while_idle_is_replaced_before_use(pg_app, monkeypatch):
    """The server ends the pooled connection (as a restart would): the next request still works."""
    monkeypatch.setattr(pool_ping, "IDLE_SECONDS", 0.0)
    with pg_app.app_context():
        first = _pooled_connection_ended_by_the_server()
        second = _backend_pid()  # would raise OperationalError without the ping
        db.session.remove()
    assert second != first


def test_without_the_ping_a_cut_connection_fails_the_request(pg_app, monkeypatch):
    """The case the ping exists for: with a long idle limit the dead connection is used."""
    from sqlalchemy.exc import OperationalError

    monkeypatch.setattr(pool_ping, "IDLE_SECONDS", 3600.0)
    with pg_app.app_context():
        first = _pooled_connection_ended_by_the_server()
        with pytest.raises(OperationalError):
            _backend_pid()
        db.session.remove()
        assert _backend_pid() != first  # and the pool recovers on the next request
        db.session.remove()
