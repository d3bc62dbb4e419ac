"""PostgreSQL pool: a connection the server dropped is replaced before a request uses it."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from app import create_app
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


def _backend_pid() -> int:
    return db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_postgresql_connections_are_checked_before_use():
    """SQLAlchemy's stock pre-ping, not a hand-made one (docs/decisions/008-speed-code.md)."""
    assert engine_options("postgresql+psycopg://db/x")["pool_pre_ping"] is True


def test_a_connection_cut_while_pooled_is_replaced_before_use(pg_app):
    """The server ends the pooled connection (as a restart would): the next request still works."""
    with pg_app.app_context():
        first = _backend_pid()
        db.session.remove()
        other = create_engine(db.engine.url)
        with other.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        other.dispose()
        second = _backend_pid()  # would raise OperationalError without the pre-ping
        db.session.remove()
    assert second != first
