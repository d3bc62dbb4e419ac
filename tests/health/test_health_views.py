"""Liveness and readiness probes."""

import pytest

from app.extensions import db


def test_healthz_answers_ok_without_database(client, app):
    """/healthz says ok even with the database unreachable: liveness touches nothing."""
    with app.app_context():
        db.engine.dispose()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


@pytest.mark.both_databases
def test_readyz_checks_database_and_limiter_storage(client):
    """/readyz reports each dependency it checked."""
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "rate_limit_storage": "ok"},
    }


@pytest.mark.both_databases
def test_readyz_is_503_when_database_is_down(app_config, backend):
    """A database that cannot be reached makes /readyz answer 503, not 500."""
    from app import create_app

    if backend == "sqlite":
        app_config["SQLALCHEMY_DATABASE_URI"] = "sqlite:////nonexistent-dir/x/stockgate.db"
    else:
        app_config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    broken = create_app(app_config)
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "unavailable"
