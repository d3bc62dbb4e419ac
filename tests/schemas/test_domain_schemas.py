"""Output schemas: money as decimal strings with a currency, UTC times with Z, documented fields."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from flask import Flask
from marshmallow import fields
from sqlalchemy import select

from app import seed
from app.catalogue import MODULES
from app.extensions import db
from app.models import Product, SalesOrder, SalesOrderLine
from app.schemas.fields import UTCTimestamp
from app.schemas.orders import SalesOrderSchema
from app.schemas.products import ProductSchema

# Both databases: values as each driver returns them (decimals, datetimes).
pytestmark = pytest.mark.both_databases

MONEY = re.compile(r"^-?\d+\.\d{2}$")
UTC_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
WHEN = datetime(2026, 11, 27, 17, 30, tzinfo=UTC)


def _product(**overrides: object) -> Product:
    values: dict[str, object] = {
        "id": 7,
        "sku": "HSK-SCM-000007",
        "asin": "B0C7XK2M4P",
        "fnsku": "X001K7Q2ZD",
        "name": "Hearthstone Stoneware Coffee Mug, Matte Black",
        "brand_id": 1,
        "category_id": 2,
        "cost": Decimal("12.5"),
        "sale_price": Decimal("24"),
        "currency": "USD",
        "status": "active",
        "created_at": WHEN,
        "updated_at": WHEN,
    }
    values.update(overrides)
    return Product(**values)


def test_money_is_a_decimal_string_with_two_places_and_a_currency() -> None:
    data = ProductSchema().dump(_product())
    assert data["cost"] == "12.50"
    assert data["sale_price"] == "24.00"
    assert data["currency"] == "USD"


def test_money_keeps_exact_cents() -> None:
    data = ProductSchema().dump(_product(cost=Decimal("0.10") + Decimal("0.20")))
    assert data["cost"] == "0.30"


def test_timestamps_are_utc_iso8601_ending_in_z() -> None:
    data = ProductSchema().dump(_product())
    assert data["created_at"] == "2026-11-27T17:30:00Z"
    assert data["updated_at"] == "2026-11-27T17:30:00Z"


def test_a_timestamp_in_another_zone_is_converted_to_utc() -> None:
    berlin = timezone(timedelta(hours=1))
    field = UTCTimestamp()
    assert (
        field.serialize("t", {"t": datetime(2026, 11, 27, 18, 30, tzinfo=berlin)}) == "2026-11-27T17:30:00Z"
    )
    # Naive values are stored UTC (UTCDateTime), so they are read as UTC.
    assert field.serialize("t", {"t": datetime(2026, 11, 27, 17, 30)}) == "2026-11-27T17:30:00Z"
    assert field.serialize("t", {"t": None}) is None


def test_orders_nest_their_lines_with_line_totals() -> None:
    order = SalesOrder(
        id=1,
        amazon_order_id="113-4567890-1234567",
        customer_id=3,
        warehouse_id=1,
        marketplace="Amazon.com",
        fulfillment_channel="AFN",
        status="Shipped",
        purchased_at=WHEN,
        shipped_at=None,
        currency="USD",
        total=Decimal("29.98"),
        created_at=WHEN,
        updated_at=WHEN,
    )
    order.lines = [
        SalesOrderLine(
            id=5,
            product_id=7,
            order_item_id="62139877283914",
            sku="HSK-SCM-000007",
            asin="B0C7XK2M4P",
            quantity=2,
            unit_price=Decimal("14.99"),
            created_at=WHEN,
            updated_at=WHEN,
        )
    ]
    data = SalesOrderSchema().dump(order)
    assert data["shipped_at"] is None
    assert data["lines"] == [
        {
            "id": 5,
            "product_id": 7,
            "order_item_id": "62139877283914",
            "sku": "HSK-SCM-000007",
            "asin": "B0C7XK2M4P",
            "quantity": 2,
            "unit_price": "14.99",
            "line_total": "29.98",
            "created_at": "2026-11-27T17:30:00Z",
            "updated_at": "2026-11-27T17:30:00Z",
        }
    ]


def _leaf_fields(schema: object) -> list[tuple[str, fields.Field]]:
    found = []
    for name, field in schema.fields.items():  # type: ignore[attr-defined]
        if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
            found += [(f"{name}[].{n}", f) for n, f in _leaf_fields(field.inner.schema)]
        found.append((name, field))
    return found


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.slug)
def test_every_field_has_a_description_and_an_example_for_the_docs(module: object) -> None:
    for name, field in _leaf_fields(module.schema()):  # type: ignore[attr-defined]
        assert field.metadata.get("description"), f"{module.slug}.{name}"  # type: ignore[attr-defined]
        if not isinstance(field, fields.List):
            assert "example" in field.metadata, f"{module.slug}.{name}"  # type: ignore[attr-defined]


def test_every_module_dumps_seeded_records_as_plain_json(app: Flask) -> None:
    with app.app_context():
        seed.seed_demo(20)
        for module in MODULES:
            schema = module.schema()
            record = db.session.scalars(
                select(module.model).options(*module.query_options).order_by(module.model.id)
            ).first()
            data = json.loads(json.dumps(schema.dump(record)))
            assert data["id"] == record.id
            for name, field in _leaf_fields(schema):
                if "[]" in name:
                    continue
                value = data[name]
                if isinstance(field, UTCTimestamp) and value is not None:
                    assert UTC_Z.match(value), (module.slug, name, value)
                if isinstance(field, fields.Decimal) and value is not None:
                    assert isinstance(value, str) and re.match(r"^-?\d+\.\d+$", value), (module.slug, name)
                    if field.metadata["description"].endswith("In the record's `currency`."):
                        assert MONEY.match(value) and "currency" in data, (module.slug, name)
