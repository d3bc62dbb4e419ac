"""`flask db upgrade` on an empty database gives exactly the schema of the models."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from app import create_app
from app.extensions import db
from tests.conftest import base_config, create_fresh_database, drop_database


@pytest.fixture
def empty_database_url(backend, tmp_path, request):
    """An empty database of each engine, never touched by create_all."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    server = request.getfixturevalue("postgres_server_url")
    url = create_fresh_database(server)
    yield url
    drop_database(server, url)


def test_migrations_produce_the_model_schema(empty_database_url):
    """Alembic's autogenerate finds nothing to add after upgrading to head."""
    app = create_app(base_config(empty_database_url))
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
        db.engine.dispose()
    assert diff == []
