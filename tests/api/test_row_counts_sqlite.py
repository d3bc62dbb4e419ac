"""SQLite's trigger-kept row counts: one counter row per table, exact through every write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import delete, func, insert, select, text

from app import create_app
from app.catalogue import MODULES_BY_SLUG
from app.extensions import db
from app.row_counts import counted_tables
from tests.conftest import base_config

# PostgreSQL's counters (appended deltas, folds, TRUNCATE) are in test_row_counts.py.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


def counter_rows() -> dict[str, list[int]]:
    rows = db.session.execute(text("SELECT table_name, delta FROM row_counts")).all()
    found: dict[str, list[int]] = {}
    for name, delta in rows:
        found.setdefault(name, []).append(delta)
    return found


def kept_counts() -> dict[str, int]:
    return {name: sum(deltas) for name, deltas in counter_rows().items()}


def real_counts() -> dict[str, int]:
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in counted_tables()}


def test_one_counter_row_per_table_stays_exact(app: Flask, backend: str) -> None:
    from app.seed import seed_demo

    with app.app_context():
        assert counter_rows() == {t.name: [0] for t in counted_tables()}
        seed_demo(scale=5)
        assert kept_counts() == real_counts() and real_counts()["products"] > 0
        assert all(len(deltas) == 1 for deltas in counter_rows().values())
        brands = MODULES_BY_SLUG["brands"].model
        db.session.execute(insert(brands), [{"name": f"Counted {n}", "country": "US"} for n in range(7)])
        db.session.execute(delete(brands).where(brands.name.in_(["Counted 1", "Counted 2"])))
        db.session.commit()
        assert kept_counts() == real_counts()
        # A rolled-back insert leaves the count as it was: the counter is transactional.
        db.session.execute(insert(brands).values(name="Rolled back", country="US"))
        db.session.rollback()
        assert kept_counts() == real_counts()
        # DELETE without WHERE (SQLite's truncate) still runs the row triggers.
        db.session.execute(text("DELETE FROM amazon_ledger_entries"))
        db.session.commit()
        assert kept_counts()["amazon_ledger_entries"] == 0
        assert kept_counts() == real_counts()


def test_lists_read_the_counter_and_filtered_lists_count(
    app: Flask, backend: str, call: Any, all_abilities_key: Any
) -> None:
    from app.seed import seed_demo

    with app.app_context():
        seed_demo(scale=5)
        real = real_counts()["brands"]
        # Skew the counter on purpose: an unfiltered list must report it (it did not count).
        db.session.execute(text("UPDATE row_counts SET delta = 999 WHERE table_name = 'brands'"))
        db.session.commit()
    raw = all_abilities_key.raw_key
    assert call("/api/v1/brands", raw).get_json()["meta"]["total"] == 999
    since = "updated_since=2000-01-01T00:00:00Z"
    assert call(f"/api/v1/brands?{since}", raw).get_json()["meta"]["total"] == real
    with app.app_context():
        # Without a counter row the list falls back to COUNT(*).
        db.session.execute(text("DELETE FROM row_counts WHERE table_name = 'brands'"))
        db.session.commit()
    assert call("/api/v1/brands", raw).get_json()["meta"]["total"] == real


def test_the_migration_counts_rows_that_exist_before_it(backend: str, tmp_path: Path) -> None:
    app = create_app(base_config(f"sqlite:///{tmp_path / 'migrated.db'}"))
    brand = (
        "INSERT INTO brands (name, country, brand_registry, created_at, updated_at) "
        "VALUES (:name, 'US', 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
    )
    with app.app_context():
        upgrade(revision="d4a1c9e7b2f0")  # before SQLite's counters
        for name in ("Before", "Also"):
            db.session.execute(text(brand), {"name": name})
        db.session.commit()
        upgrade()
        assert kept_counts()["brands"] == 2
        db.session.execute(text(brand), {"name": "After"})
        db.session.commit()
        assert kept_counts() == real_counts()
        # Down and up again: the triggers and the table go, and come back with a recount.
        db.session.remove()
        downgrade(revision="d4a1c9e7b2f0")
        triggers = db.session.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%_count_%'")
        ).all()
        assert triggers == []
        db.session.execute(text(brand), {"name": "Uncounted meanwhile"})
        db.session.commit()
        upgrade()
        assert kept_counts()["brands"] == 4 == real_counts()["brands"]
        db.session.remove()
        db.engine.dispose()
