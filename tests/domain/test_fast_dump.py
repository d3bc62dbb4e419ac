"""The compiled dumper the API uses gives exactly what the marshmallow schema's dump gives."""

from sqlalchemy import literal, select

from app import seed
from app.api.listing import _as_stored
from app.catalogue import MODULES
from app.extensions import db
from app.schemas.dumping import compile_dumper, compile_row_dumper


def test_compiled_dump_equals_schema_dump_for_every_module(app):
    """Every record of every module, nested order lines included, dumps identically."""
    with app.app_context():
        seed.seed_demo(scale=20)
        for module in MODULES:
            schema_class = module.schema if isinstance(module.schema, type) else type(module.schema)
            records = db.session.scalars(select(module.model).options(*module.query_options)).unique().all()
            assert records, module.slug
            fast = compile_dumper(schema_class)
            expected = schema_class(many=True).dump(records)
            assert [fast(r) for r in records] == expected, module.slug
            if not module.query_options:
                # Flat modules are listed from plain rows (with the list's total as an extra,
                # last column): by attribute and by position they must dump identically too.
                table = module.model.__table__
                stmt = select(*table.columns, literal(7).label("list_total")).order_by(table.c.id)
                result = db.session.execute(stmt)
                columns = tuple(result.keys())
                rows = result.all()
                by_id = sorted(expected, key=lambda record: record["id"])
                assert [fast(row) for row in rows] == by_id, module.slug
                by_position = compile_row_dumper(schema_class, columns)
                assert [by_position(row) for row in rows] == by_id, module.slug
                # As the list statement reads them: naive timestamps and enums as stored strings.
                stored = db.session.execute(
                    select(*map(_as_stored, table.columns), literal(7).label("list_total")).order_by(
                        table.c.id
                    )
                ).all()
                assert [by_position(row) for row in stored] == by_id, module.slug
                # Reversed column order: positions follow the names given.
                reordered = tuple(reversed(columns))
                swapped = [tuple(reversed(tuple(row))) for row in rows]
                assert [compile_row_dumper(schema_class, reordered)(row) for row in swapped] == by_id


def test_compiled_dump_equals_schema_dump_on_unusual_values():
    """The direct conversions hand every value they do not expect to marshmallow's own."""
    from datetime import UTC, date, datetime, timedelta, timezone
    from decimal import Decimal
    from types import SimpleNamespace

    from marshmallow import ValidationError, fields

    from app.models.catalog import ProductStatus
    from app.schemas import fields as f
    from app.schemas.base import RecordSchema

    class Sample(RecordSchema):
        price = f.money("A price.", "1.00")
        ratio = f.decimal("A ratio.", "0.125", places=3, nullable=True)
        day = f.day("A day.", "2026-11-27", nullable=True)
        status = f.choice(ProductStatus, "A status.", "active", nullable=True)
        seen = fields.DateTime(allow_none=True)

    fast = compile_dumper(Sample)
    base = {"id": 1, "created_at": datetime(2026, 11, 27, 9, 30, 0, 123456), "seen": None}
    samples = [
        {
            "updated_at": datetime(2026, 11, 27, 10, 0),
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
            "updated_at": datetime(2026, 11, 27, tzinfo=UTC),
            "price": "3.456",
            "ratio": Decimal("-0.0005"),
            "day": datetime(2026, 1, 1, 5),
            "status": None,
        },
    ]
    for values in samples:
        record = SimpleNamespace(**base, **values)
        assert fast(record) == Sample().dump(record), values
    # A non-finite decimal: whatever marshmallow does with it, the compiled dumper does too.
    broken = SimpleNamespace(**base, **{**samples[0], "price": Decimal("NaN")})
    outcomes = []
    for dump in (fast, Sample().dump):
        try:
            outcomes.append(dump(broken))
        except ValidationError as error:
            outcomes.append(error.messages)
    assert outcomes[0] == outcomes[1]


def test_row_dumper_falls_back_to_attributes_when_a_field_has_no_column():
    """A schema field the row does not carry is read by attribute, as Schema.dump would."""
    from types import SimpleNamespace

    from app.schemas.catalog import BrandSchema

    record = SimpleNamespace(
        id=3, created_at=None, updated_at=None, name="Acme", country="US", website=None, brand_registry=True
    )
    dump = compile_row_dumper(BrandSchema, ("id", "name"))
    assert dump(record) == BrandSchema().dump(record)
