"""Trigger-kept row counts on both databases: exact through every kind of write, read by the lists."""

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
from tests.conftest import base_config, create_fresh_database, drop_database

# PostgreSQL appends a delta row per writing statement and folds them; SQLite keeps one
# counter row per table. Most tests here are about one of the two.
on_both = pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
on_postgresql = pytest.mark.parametrize("backend", ["postgresql"])
on_sqlite = pytest.mark.parametrize("backend", ["sqlite"])


def kept_counts() -> dict[str, int]:
    rows = db.session.execute(text("SELECT table_name, sum(delta) FROM row_counts GROUP BY table_name")).all()
    return {name: count for name, count in rows}


def real_counts() -> dict[str, int]:
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in counted_tables()}


@on_both
def test_counts_stay_exact_through_inserts_deletes_and_clearing(app: Flask, backend: str) -> None:
    from app.seed import seed_demo

    with app.app_context():
        assert set(kept_counts()) == {t.name for t in counted_tables()}
        seed_demo(scale=5)  # bulk inserts: one trigger run per statement (PostgreSQL), per row (SQLite)
        assert kept_counts() == real_counts() and real_counts()["products"] > 0
        brands = MODULES_BY_SLUG["brands"].model
        db.session.execute(insert(brands), [{"name": f"Counted {n}", "country": "US"} for n in range(7)])
        db.session.execute(delete(brands).where(brands.name.in_(["Counted 1", "Counted 2"])))
        db.session.commit()
        assert kept_counts() == real_counts()
        # A rolled-back insert leaves the count as it was: the counter is transactional.
        db.session.execute(insert(brands).values(name="Rolled back", country="US"))
        db.session.rollback()
        assert kept_counts() == real_counts()
        # TRUNCATE's own trigger; SQLite's DELETE without WHERE still runs the row triggers.
        clear = "TRUNCATE" if backend == "postgresql" else "DELETE FROM"
        db.session.execute(text(f"{clear} amazon_ledger_entries"))
        db.session.commit()
        assert kept_counts()["amazon_ledger_entries"] == 0
        assert kept_counts() == real_counts()
        if backend == "sqlite":  # one counter row per table, changed in place
            assert all(delta_rows(t.name) == 1 for t in counted_tables())


@on_postgresql
def test_writers_append_and_a_list_request_folds(
    app: Flask, backend: str, call: Any, all_abilities_key: Any
) -> None:
    # A long transaction of single-row inserts appends one delta per statement (linear:
    # nothing is updated or deleted inside it); the next list request folds them into one.
    from app import row_counts

    brands = MODULES_BY_SLUG["brands"].model
    with app.app_context():
        for n in range(1_000):
            db.session.execute(insert(brands).values(name=f"One by one {n}", country="US"))
        db.session.execute(delete(brands).where(brands.name.like("One by one 1%")))
        db.session.commit()
        assert kept_counts()["brands"] == real_counts()["brands"] == 1_000 - 111
        assert delta_rows("brands") == 1 + 1_000 + 1  # the first count, the inserts, the delete
    row_counts._last_folds.clear()
    body = call("/api/v1/brands", all_abilities_key.raw_key).get_json()
    assert body["meta"]["total"] == 1_000 - 111
    with app.app_context():
        assert delta_rows("brands") == 1
        assert kept_counts()["brands"] == 1_000 - 111
        # Within FOLD_INTERVAL the same process does not fold the table again.
        db.session.execute(insert(brands).values(name="After the fold", country="US"))
        db.session.commit()
    assert call("/api/v1/brands", all_abilities_key.raw_key).get_json()["meta"]["total"] == 1_000 - 110
    with app.app_context():
        assert delta_rows("brands") == 2


def delta_rows(table_name: str) -> int:
    return db.session.scalar(text("SELECT count(*) FROM row_counts WHERE table_name = :t"), {"t": table_name})


@on_postgresql
def test_writers_under_repeatable_read_are_counted_too(app: Flask, backend: str) -> None:
    brands = MODULES_BY_SLUG["brands"].model
    with app.app_context():
        connection = db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        for n in range(130):
            connection.execute(insert(brands).values(name=f"Repeatable {n}", country="US"))
        db.session.commit()
        assert kept_counts()["brands"] == real_counts()["brands"] == 130


@on_both
def test_lists_read_the_counter_and_filtered_lists_count(
    app: Flask, backend: str, call: Any, all_abilities_key: Any
) -> None:
    from app.seed import seed_demo

    with app.app_context():
        seed_demo(scale=5)
        real = real_counts()["brands"]
        # Skew the counter on purpose: an unfiltered list must report it (it did not count).
        db.session.execute(
            text(
                "UPDATE row_counts SET delta = delta + :skew WHERE id = "
                "(SELECT max(id) FROM row_counts WHERE table_name = 'brands')"
            ),
            {"skew": 999 - real},
        )
        db.session.commit()
    raw = all_abilities_key.raw_key
    assert call("/api/v1/brands", raw).get_json()["meta"]["total"] == 999
    since = "updated_since=2000-01-01T00:00:00Z"
    assert call(f"/api/v1/brands?{since}", raw).get_json()["meta"]["total"] == real
    with app.app_context():
        if backend == "postgresql":  # the recount after a load that bypassed the triggers
            db.session.execute(text("SELECT row_counts_refresh()"))
            db.session.commit()
            assert kept_counts() == real_counts()
        # Without a counter row the list falls back to COUNT(*).
        db.session.execute(text("DELETE FROM row_counts WHERE table_name = 'brands'"))
        db.session.commit()
    assert call("/api/v1/brands", raw).get_json()["meta"]["total"] == real


@on_postgresql
def test_the_count_is_never_executed_when_a_counter_exists(app: Flask, backend: str) -> None:
    from app.api.listing import _list_statement
    from app.seed import seed_demo

    with app.app_context():
        seed_demo(scale=2)  # rows on the page: the total column is evaluated
        module = MODULES_BY_SLUG["products"]
        page = _list_statement(module, "id", False, False).page
        compiled = page.compile(db.engine)
        params = {**compiled.params, "limit": 25, "offset": 0}
        connection = db.session.connection()
        plan = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, COSTS OFF) {compiled}", params).scalars()
        lines = list(plan)
        # The page scans products once; the COUNT(*) would scan it again (EXPLAIN calls
        # that second reference products_1): that scan must never run.
        count_scans = [line for line in lines if "on products products_1" in line]
        assert count_scans and all("never executed" in line for line in count_scans), "\n".join(lines)


@on_postgresql
def test_the_migration_counts_rows_that_exist_before_it(backend: str, postgres_server_url: str) -> None:
    url = create_fresh_database(postgres_server_url)
    try:
        app = create_app(base_config(url))
        with app.app_context():
            upgrade(revision="cc4fab0f73b6")  # before the counters
            db.session.execute(
                text(
                    "INSERT INTO brands (name, country, brand_registry, created_at, updated_at) "
                    "VALUES ('Before', 'US', false, now(), now()), ('Also', 'US', false, now(), now())"
                )
            )
            db.session.commit()
            upgrade()
            assert kept_counts()["brands"] == 2
            db.session.execute(
                text(
                    "INSERT INTO brands (name, country, brand_registry, created_at, updated_at) "
                    "VALUES ('After', 'US', false, now(), now())"
                )
            )
            db.session.commit()
            assert kept_counts() == real_counts()
            db.session.remove()
            db.engine.dispose()
    finally:
        drop_database(postgres_server_url, url)


@on_sqlite
def test_the_sqlite_migration_counts_rows_that_exist_before_it(backend: str, tmp_path: Path) -> None:
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
