"""PostgreSQL's trigger-kept row counts: exact through every kind of write, read by the lists."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import delete, func, insert, select, text

from app import create_app
from app.catalogue import MODULES_BY_SLUG
from app.extensions import db
from app.row_counts import counted_tables
from tests.conftest import base_config, create_fresh_database, drop_database

# The counters exist on PostgreSQL only; SQLite lists keep COUNT(*) (covered by every list test).
pytestmark = pytest.mark.parametrize("backend", ["postgresql"])


def kept_counts() -> dict[str, int]:
    rows = db.session.execute(text("SELECT table_name, sum(delta) FROM row_counts GROUP BY table_name")).all()
    return {name: count for name, count in rows}


def real_counts() -> dict[str, int]:
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in counted_tables()}


def test_counts_stay_exact_through_inserts_deletes_and_truncate(app: Flask, backend: str) -> None:
    from app.seed import seed_demo

    with app.app_context():
        assert set(kept_counts()) == {t.name for t in counted_tables()}
        seed_demo(scale=5)  # bulk inserts: one trigger run per statement
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
        db.session.execute(text("TRUNCATE amazon_ledger_entries"))
        db.session.commit()
        assert kept_counts()["amazon_ledger_entries"] == 0
        assert kept_counts() == real_counts()


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


def test_writers_under_repeatable_read_are_counted_too(app: Flask, backend: str) -> None:
    brands = MODULES_BY_SLUG["brands"].model
    with app.app_context():
        connection = db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        for n in range(130):
            connection.execute(insert(brands).values(name=f"Repeatable {n}", country="US"))
        db.session.commit()
        assert kept_counts()["brands"] == real_counts()["brands"] == 130


def test_lists_read_the_counter_and_filtered_lists_count(
    app: Flask, backend: str, call: Any, all_abilities_key: Any
) -> None:
    from app.seed import seed_demo

    with app.app_context():
        seed_demo(scale=5)
        real = real_counts()["brands"]
        # Skew the counter on purpose: an unfiltered list must report it (it did not count).
        db.session.execute(
            text("INSERT INTO row_counts (table_name, delta) VALUES ('brands', :skew)"), {"skew": 999 - real}
        )
        db.session.commit()
    raw = all_abilities_key.raw_key
    assert call("/api/v1/brands", raw).get_json()["meta"]["total"] == 999
    since = "updated_since=2000-01-01T00:00:00Z"
    assert call(f"/api/v1/brands?{since}", raw).get_json()["meta"]["total"] == real
    with app.app_context():
        db.session.execute(text("SELECT row_counts_refresh()"))
        db.session.commit()
        assert kept_counts() == real_counts()
        # Without a counter row the list falls back to COUNT(*).
        db.session.execute(text("DELETE FROM row_counts WHERE table_name = 'brands'"))
        db.session.commit()
    assert call("/api/v1/brands", raw).get_json()["meta"]["total"] == real


def test_the_count_is_never_executed_when_a_counter_exists(app: Flask, backend: str) -> None:
    from app.api.listing import _list_statement
    from app.seed import seed_demo

    with app.app_context():
        seed_demo(scale=2)  # rows on the page: the total column is evaluated
        module = MODULES_BY_SLUG["products"]
        page = _list_statement(module, "id", False, False, True).page
        compiled = page.compile(db.engine)
        params = {**compiled.params, "limit": 25, "offset": 0}
        connection = db.session.connection()
        plan = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, COSTS OFF) {compiled}", params).scalars()
        lines = list(plan)
        # The page scans products once; the COUNT(*) would scan it again (EXPLAIN calls
        # that second reference products_1): that scan must never run.
        count_scans = [line for line in lines if "on products products_1" in line]
        assert count_scans and all("never executed" in line for line in count_scans), "\n".join(lines)


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
