"""The migrations build exactly the models' schema on both databases (`flask db check` is clean)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _flask_db(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    # A subprocess: Alembic's fileConfig would otherwise reconfigure this process's logging.
    env = {**os.environ, "DATABASE_URL": database_url, "FLASK_APP": "wsgi.py"}
    return subprocess.run(
        [sys.executable, "-m", "flask", "db", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _assert_round_trip(database_url: str) -> None:
    upgrade = _flask_db(database_url, "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    check = _flask_db(database_url, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr
    downgrade = _flask_db(database_url, "downgrade", "base")
    assert downgrade.returncode == 0, downgrade.stderr


def test_migrations_match_the_models_on_sqlite(tmp_path: Path) -> None:
    _assert_round_trip(f"sqlite:///{tmp_path / 'migrated.db'}")


def test_migrations_match_the_models_on_postgresql(new_postgres_database: Any) -> None:
    _assert_round_trip(new_postgres_database())
