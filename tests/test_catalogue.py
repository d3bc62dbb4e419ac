"""The catalogue's domain entries: indexed sorts, text searches, schemas that match, no N+1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Index, String, Text, UniqueConstraint, event, select

from app import seed
from app.catalogue import MODULES, Module
from app.extensions import db

# Both databases: the statements each list runs.
pytestmark = pytest.mark.both_databases


def _leading_indexed_columns(table: Any) -> set[str]:
    columns = {column.name for column in table.primary_key.columns}
    for item in [*table.indexes, *table.constraints]:
        if isinstance(item, Index | UniqueConstraint) and item.columns:
            columns.add(next(iter(item.columns)).name)
    return columns


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.slug)
def test_every_module_has_a_model_a_schema_and_indexed_sorts(module: Module) -> None:
    assert module.model is not None and module.schema is not None
    assert {"id", "updated_at"} <= set(module.sortable)
    table = module.model.__table__
    unindexed = set(module.sortable) - _leading_indexed_columns(table)
    assert not unindexed, f"{module.slug}: sortable but not indexed: {unindexed}"
    schema_fields = set(module.schema().fields)
    assert set(module.sortable) <= schema_fields
    assert set(module.searchable) <= schema_fields
    for name in module.searchable:
        assert isinstance(table.c[name].type, String | Text), f"{module.slug}.{name} is not text"
    default = module.default_sort.removeprefix("-")
    assert default in module.sortable


@contextmanager
def _count_queries() -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.slug)
def test_listing_a_page_and_dumping_it_takes_at_most_two_queries(app: Flask, module: Module) -> None:
    with app.app_context():
        seed.seed_demo(40)
        db.session.expire_all()
        with _count_queries() as statements:
            page = db.session.scalars(
                select(module.model).options(*module.query_options).order_by(module.model.id).limit(25)
            ).all()
            module.schema(many=True).dump(page)
        # One for the page, one per selectin-loaded collection of line items.
        assert len(page) > 0
        assert len(statements) <= 1 + len(module.query_options), statements


def test_no_module_slug_collides_with_the_introspection_path() -> None:
    """``GET /api/v1/key`` is the key's own description: no module may take the slug ``key``."""
    from app.catalogue import KEY_ONLY_ENDPOINTS, MODULES_BY_SLUG

    assert "key" not in MODULES_BY_SLUG
    assert {"api.key"} == KEY_ONLY_ENDPOINTS


def test_scope_declarations_name_real_columns_groups_and_schema_fields() -> None:
    """SPEC §16: each module's warehouse and marketplace columns exist, its field groups are
    the catalogue's, and every field a group hides is one its schema (or its lines') dumps."""
    from app.catalogue import FIELD_GROUPS, MODULES_BY_SLUG

    for module in MODULES:
        columns = module.model.__table__.c
        if module.warehouse_column is not None:
            assert module.warehouse_column in columns, module.slug
        if module.marketplace_column is not None:
            assert module.marketplace_column in columns, module.slug
        if module.marketplace_via is not None:
            assert MODULES_BY_SLUG[module.marketplace_via].marketplace_via is None
        for group, names in module.field_groups:
            assert group in FIELD_GROUPS
            for name in names:
                schema_fields = module.schema().dump_fields
                if "." in name:
                    outer, inner = name.split(".")
                    schema_fields = schema_fields[outer].inner.schema.dump_fields
                    name = inner
                assert name in schema_fields, (module.slug, name)
    scoped = {m.slug for m in MODULES if m.warehouse_column}
    assert scoped == {
        "inventory",
        "purchase-orders",
        "sales-orders",
        "return-orders",
        "replenishment-plans",
        "warehouses",
    }
    assert {m.slug for m in MODULES if m.marketplace_column} == {"sales-orders", "return-orders"}
    hidden = {(m.slug, g) for m in MODULES for g, _ in m.field_groups}
    assert {g for _, g in hidden} == set(FIELD_GROUPS)
