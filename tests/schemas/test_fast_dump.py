"""The API's compiled dumper gives exactly what the marshmallow schema's own dump gives."""

from collections import namedtuple
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest
from flask import Flask
from marshmallow import ValidationError, fields
from sqlalchemy import literal, select

from app import seed
from app.catalogue import MODULES
from app.extensions import db
from app.models.products import ProductStatus
from app.schemas import fields as f
from app.schemas.base import RecordSchema
from app.schemas.fast_dump import compile_dumper

# Both databases: plain rows as each driver returns them.
pytestmark = pytest.mark.both_databases


def test_compiled_dump_equals_schema_dump_for_every_module(app: Flask) -> None:
    """Every record of every module, nested order lines included, dumps identically."""
    with app.app_context():
        seed.seed_demo(scale=20)
        for module in MODULES:
            records = db.session.scalars(select(module.model).options(*module.query_options)).unique().all()
            assert records, module.slug
            fast = compile_dumper(module.schema)
            assert [fast(record) for record in records] == module.schema(many=True).dump(records), module.slug


def test_plain_rows_read_by_position_dump_as_the_schema_dumps_them(app: Flask) -> None:
    """A list's plain rows (table order, a trailing extra column) dump as their records do."""
    with app.app_context():
        seed.seed_demo(scale=20)
        for module in MODULES:
            if module.query_options:  # records that nest others are ORM entities
                continue
            table = module.model.__table__
            result = db.session.execute(
                select(*table.columns, literal(0).label("extra")).order_by(table.c.id)
            )
            columns = tuple(result.keys())[:-1]
            rows = result.all()
            records = db.session.scalars(select(module.model).order_by(module.model.id)).all()
            fast = compile_dumper(module.schema, columns=columns)
            assert [fast(row) for row in rows] == module.schema(many=True).dump(records), module.slug


class Sample(RecordSchema):
    """Every field kind the dumper converts directly, and one it leaves to marshmallow."""

    price = f.money("A price.", "1.00")
    ratio = f.decimal("A ratio.", "0.125", places=3, nullable=True)
    day = f.day("A day.", "2026-11-27", nullable=True)
    status = f.choice(ProductStatus, "A status.", "active", nullable=True)
    seen = fields.DateTime(allow_none=True)


BASE = {"id": 1, "created_at": datetime(2026, 11, 27, 9, 30, 0, 123456, tzinfo=UTC), "seen": None}


@pytest.mark.parametrize(
    "values",
    [
        {
            "updated_at": datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
            "price": Decimal("1"),
            "ratio": Decimal("0.12345"),
            "day": date(2026, 2, 28),
            "status": ProductStatus.ACTIVE,
        },
        {
            "updated_at": datetime(2026, 11, 27, 12, tzinfo=timezone(timedelta(hours=2))),
            "price": 2.5,
            "ratio": None,
            "day": None,
            "status": "inactive",
        },
        {
            "updated_at": datetime(2026, 11, 27, 8),
            "price": "3.456",
            "ratio": Decimal("-0.0005"),
            "day": datetime(2026, 1, 1, 5),
            "status": None,
        },
    ],
)
def test_unusual_values_dump_as_marshmallow_dumps_them(values: dict) -> None:
    record = SimpleNamespace(**BASE, **values)
    assert compile_dumper(Sample)(record) == Sample().dump(record)


@pytest.mark.parametrize(
    "shown",
    [{"id", "seen"}, {"seen"}, {"created_at"}, set()],
    ids=["one-read", "none-read", "one-converted", "nothing"],
)
def test_a_few_shown_fields_dump_as_marshmallow_dumps_them(shown: set[str]) -> None:
    """A schema cut down to one read field, one converted field or none dumps as marshmallow dumps it."""
    record = SimpleNamespace(
        **BASE, updated_at=BASE["created_at"], price=Decimal("1"), ratio=None, day=None, status=None
    )
    row = namedtuple("Row", vars(record))(**vars(record))  # like a plain row: positions and attributes
    exclude = frozenset(Sample().dump_fields) - shown
    expected = Sample(exclude=exclude).dump(record)
    assert compile_dumper(Sample, exclude)(record) == expected
    assert compile_dumper(Sample, exclude, tuple(vars(record)))(row) == expected


def test_a_non_finite_decimal_fails_as_marshmallow_fails() -> None:
    record = SimpleNamespace(
        **BASE, updated_at=BASE["created_at"], price=Decimal("NaN"), ratio=None, day=None, status=None
    )
    outcomes = []
    for dump in (compile_dumper(Sample), Sample().dump):
        try:
            outcomes.append(dump(record))
        except ValidationError as error:
            outcomes.append(error.messages)
    assert outcomes[0] == outcomes[1]
