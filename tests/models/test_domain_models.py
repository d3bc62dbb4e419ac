"""Domain models: timestamps move on update, constraints keep bad rows out."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import seed
from app.extensions import db
from app.models import InventoryLevel, Product

# Both databases: column types and constraints.
pytestmark = pytest.mark.both_databases


def test_updating_a_record_moves_its_updated_at_but_not_created_at(app: Flask) -> None:
    with app.app_context():
        seed.seed_demo(10)
        product = db.session.scalars(select(Product).order_by(Product.id)).first()
        created, updated = product.created_at, product.updated_at
        product.sale_price = product.sale_price + Decimal("1.00")
        db.session.commit()
        db.session.refresh(product)
        assert product.created_at == created
        # The seed dates everything before its anchor; a real update happens now.
        assert product.updated_at > updated
        assert product.updated_at > seed.ANCHOR


def test_a_currency_must_be_three_letters(app: Flask) -> None:
    with app.app_context():
        seed.seed_demo(10)
        product = db.session.get(Product, 1)
        product.currency = "US"  # a country, not a currency
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_a_product_has_one_inventory_level_per_warehouse(app: Flask) -> None:
    with app.app_context():
        seed.seed_demo(10)
        level = db.session.get(InventoryLevel, 1)
        db.session.add(
            InventoryLevel(
                product_id=level.product_id,
                warehouse_id=level.warehouse_id,
                sku=level.sku,
                on_hand=1,
                reserved=0,
                inbound=0,
                available=1,
            )
        )
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_a_sku_is_unique(app: Flask) -> None:
    with app.app_context():
        seed.seed_demo(10)
        first = db.session.get(Product, 1)
        second = db.session.get(Product, 2)
        second.sku = first.sku
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
