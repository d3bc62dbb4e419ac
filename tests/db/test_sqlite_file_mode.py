"""The embedded SQLite database is readable by its owner only (0600), with its WAL files."""

from __future__ import annotations

import os
import stat

from sqlalchemy import text

from app import create_app
from app.extensions import db
from tests.conftest import base_config


def test_sqlite_database_and_wal_files_are_created_owner_only(tmp_path):
    """Created on first connect under a permissive umask: still 0600, and so are -wal and -shm."""
    path = tmp_path / "stockgate.db"
    app = create_app(base_config(f"sqlite:///{path}"))
    previous = os.umask(0o022)
    try:
        with app.app_context():
            db.create_all()
            with db.engine.connect() as conn:
                conn.execute(text("SELECT count(*) FROM users")).scalar_one()
                modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir() if p.is_file()}
            db.engine.dispose()
    finally:
        os.umask(previous)
    assert modes["stockgate.db"] == 0o600
    assert modes["stockgate.db-wal"] == 0o600 and modes["stockgate.db-shm"] == 0o600


def test_an_existing_sqlite_file_keeps_its_mode_and_its_data(tmp_path):
    """Only a missing file is created: an existing database is opened as it is."""
    path = tmp_path / "stockgate.db"
    first = create_app(base_config(f"sqlite:///{path}"))
    with first.app_context():
        db.create_all()
        db.engine.dispose()
    path.chmod(0o640)
    second = create_app(base_config(f"sqlite:///{path}"))
    with second.app_context():
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 0
        db.engine.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
