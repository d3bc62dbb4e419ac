"""`flask seed-demo` and the seed service: every module filled, deterministically, once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app import seed
from app.catalogue import MODULES
from app.extensions import db
from app.models import (
    Brand,
    InventoryLevel,
    LedgerEntry,
    Product,
    PurchaseOrder,
    ReturnOrder,
    SalesOrder,
)

# Both databases: bulk inserts and sequences.
pytestmark = pytest.mark.both_databases

SMALL_SCALE = 30


def _dump_everything() -> dict[str, list[dict[str, Any]]]:
    """Every record of every module as the API would render it."""
    return {
        module.slug: module.schema(many=True).dump(
            db.session.scalars(select(module.model).options(*module.query_options).order_by(module.model.id))
        )
        for module in MODULES
    }


def _wipe_domain_tables() -> None:
    domain_tables = {model.__tablename__ for model in seed.DOMAIN_MODELS}
    for table in reversed(db.metadata.sorted_tables):
        if table.name in domain_tables:
            db.session.execute(table.delete())
    db.session.commit()


def test_seeding_fills_every_module_and_every_line_table(app: Flask) -> None:
    with app.app_context():
        result = seed.seed_demo(SMALL_SCALE)
        assert result.seeded
        rows = seed.count_rows()
        assert rows == result.rows
        assert all(count > 0 for count in rows.values()), rows
        for module in MODULES:
            assert db.session.scalar(select(func.count()).select_from(module.model)) > 0, module.slug
        assert rows["products"] == SMALL_SCALE
        assert rows["amazon_ledger_entries"] == SMALL_SCALE * seed.LEDGER_ENTRIES_PER_PRODUCT


def test_seeding_twice_changes_nothing(app: Flask) -> None:
    with app.app_context():
        seed.seed_demo(SMALL_SCALE)
        before = _dump_everything()
        again = seed.seed_demo(SMALL_SCALE)
        assert not again.seeded
        # A different scale is no reason to add to existing data either.
        assert not seed.seed_demo(SMALL_SCALE * 3).seeded
        assert _dump_everything() == before


def test_seeding_is_deterministic_same_ids_and_values(app: Flask) -> None:
    with app.app_context():
        seed.seed_demo(SMALL_SCALE)
        first = _dump_everything()
        _wipe_domain_tables()
        assert not seed.has_domain_data()
        seed.seed_demo(SMALL_SCALE)
        assert _dump_everything() == first


def test_new_records_after_seeding_get_fresh_ids(app: Flask) -> None:
    """Seeded rows carry explicit ids; PostgreSQL's sequence must still hand out new ones."""
    with app.app_context():
        seed.seed_demo(SMALL_SCALE)
        brand = Brand(name="Brand New Co.", country="US")
        db.session.add(brand)
        db.session.commit()
        assert brand.id == seed.count_rows()["brands"]


def test_seeded_data_is_consistent(app: Flask) -> None:
    with app.app_context():
        seed.seed_demo(SMALL_SCALE)
        for level in db.session.scalars(select(InventoryLevel)):
            assert level.available == level.on_hand - level.reserved >= 0
        for order in db.session.scalars(select(PurchaseOrder)):
            assert order.total == sum((line.line_total for line in order.lines), Decimal(0))
            assert order.lines
        for sale in db.session.scalars(select(SalesOrder)):
            assert sale.total == sum((line.line_total for line in sale.lines), Decimal(0))
            assert sale.lines
        for returned in db.session.scalars(select(ReturnOrder)):
            sale = db.session.get(SalesOrder, returned.sales_order_id)
            assert sale is not None and sale.amazon_order_id == returned.amazon_order_id
            assert returned.requested_at > sale.purchased_at
            assert {line.product_id for line in returned.lines} <= {line.product_id for line in sale.lines}
        products = {p.sku: p for p in db.session.scalars(select(Product))}
        for entry in db.session.scalars(select(LedgerEntry)):
            product = products[entry.msku]
            assert (entry.asin, entry.fnsku, entry.title) == (product.asin, product.fnsku, product.name)
        # Nothing in the demo happens after its anchor ("now" of the data).
        for module in MODULES:
            latest = db.session.scalar(select(func.max(module.model.updated_at)))
            assert latest <= seed.ANCHOR, module.slug


def test_seeded_identifiers_look_like_amazons(app: Flask) -> None:
    with app.app_context():
        seed.seed_demo(SMALL_SCALE)
        product = db.session.scalars(select(Product)).first()
        assert product.asin.startswith("B0") and len(product.asin) == 10
        assert product.fnsku.startswith("X00") and len(product.fnsku) == 10
        order_ids = db.session.scalars(select(SalesOrder.amazon_order_id)).all()
        assert all(len(o) == 19 and o[3] == "-" and o[11] == "-" for o in order_ids)
        events = set(db.session.scalars(select(LedgerEntry.event_type).distinct()))
        assert {"Shipments", "Receipts", "CustomerReturns", "Adjustments"} <= {e.value for e in events}
        centers = set(db.session.scalars(select(LedgerEntry.fulfillment_center).distinct()))
        assert "PHX7" in centers


def test_identifier_codes_never_collide() -> None:
    ids = range(1, 200_001)
    assert len({seed.asin_for(i) for i in ids}) == len(ids)
    assert len({seed.fnsku_for(i) for i in ids}) == len(ids)


def test_plan_reaches_a_million_ledger_entries_at_scale_100k() -> None:
    plan = seed.plan_for(100_000)
    assert plan.ledger_entries == 1_000_000
    assert plan.steps > plan.ledger_entries


@pytest.mark.parametrize("scale", [0, -1, "abc", "", "1.5", seed.MAX_SCALE + 1, 10**30, True])
def test_bad_scale_is_refused_by_the_service(scale: Any) -> None:
    from app.validation.errors import InvalidInput

    with pytest.raises(InvalidInput):
        seed.validate_scale(scale)


def test_seed_demo_command_seeds_then_reports_nothing_to_do(app: Flask, runner: Any) -> None:
    first = runner.invoke(args=["seed-demo", "--scale", str(SMALL_SCALE)])
    assert first.exit_code == 0, first.output
    assert "Seeded" in first.stdout and "amazon_ledger_entries" in first.stdout
    # The progress bar goes to stderr, so stdout stays a clean report.
    assert "Seeding demo data (30 products)" in first.stderr
    assert "Seeding" not in first.stdout
    second = runner.invoke(args=["seed-demo", "--scale", str(SMALL_SCALE)])
    assert second.exit_code == 0
    assert "already present (30 products); nothing changed" in second.stdout
    with app.app_context():
        assert seed.count_rows()["products"] == SMALL_SCALE


@pytest.mark.parametrize("scale", ["0", "-1", "abc", "", "1e5", "2000001", "99999999999999999999"])
def test_seed_demo_with_a_bad_scale_is_a_one_line_error_and_writes_nothing(
    app: Flask, runner: Any, scale: str
) -> None:
    result = runner.invoke(args=["seed-demo", "--scale", scale])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    assert "Traceback" not in result.output
    with app.app_context():
        assert not seed.has_domain_data()


def test_seed_demo_without_a_value_for_scale_is_a_one_line_error(app: Flask, runner: Any) -> None:
    result = runner.invoke(args=["seed-demo", "--scale"])
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1


def test_seed_demo_on_an_unmigrated_database_is_a_one_line_error(tmp_path: Any) -> None:
    from app import create_app
    from tests.conftest import base_config

    bare = create_app(base_config(f"sqlite:///{tmp_path / 'empty.db'}"))
    result = bare.test_cli_runner().invoke(args=["seed-demo", "--scale", "5"])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "flask db upgrade" in lines[0], result.output
    with bare.app_context():
        db.engine.dispose()
