"""One generic list view and one show view, registered for every module of the catalogue.

For a module with slug ``products`` this registers ``GET /api/v1/products`` (endpoint
``api.products_list``, ability ``products:list``) and ``GET /api/v1/products/<id>``
(``api.products_show``, ``products:show``). ``ENDPOINT_ABILITIES`` is the registry the guard
enforces and the docs and the deny-by-default test read. Modules whose model is not built
yet are skipped. Only GET (and HEAD) are routed, so write methods are 405.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    DateTime,
    Enum,
    Integer,
    Select,
    String,
    bindparam,
    cast,
    func,
    or_,
    select,
    type_coerce,
)

from app import row_counts
from app.api.errors import ApiError
from app.api.params import parse_list_args
from app.catalogue import MODULES, Module
from app.extensions import db
from app.models.types import UTCDateTime
from app.schemas.dumping import Dumper, RowDumper, compile_dumper, compile_row_dumper

# Largest id a path may name: integer primary keys are 32-bit on PostgreSQL.
MAX_ID = 2**31 - 1

# endpoint ("api.products_list") -> ability ("products:list"); filled by ``register_views``.
ENDPOINT_ABILITIES: dict[str, str] = {}
# endpoint -> (module, action), for the docs.
ENDPOINT_MODULES: dict[str, tuple[Module, str]] = {}


def required_ability(endpoint: str) -> str | None:
    """Return the ability an API endpoint requires, or None when it declares none."""
    return ENDPOINT_ABILITIES.get(endpoint)


def list_endpoint(module: Module) -> str:
    """The endpoint name of ``module``'s list view, e.g. ``api.products_list``."""
    return f"api.{module.slug}_list"


def show_endpoint(module: Module) -> str:
    """The endpoint name of ``module``'s show view, e.g. ``api.products_show``."""
    return f"api.{module.slug}_show"


def register_views(bp: Blueprint) -> None:
    """Register list and show for every catalogue module whose model exists."""
    for module in MODULES:
        if module.model is None or module.schema is None:
            continue
        for action, rule, view in (
            ("list", f"/{module.slug}", _make_list_view(module)),
            ("show", f"/{module.slug}/<int:record_id>", _make_show_view(module)),
        ):
            endpoint = f"{module.slug}_{action}"
            bp.add_url_rule(rule, endpoint=endpoint, view_func=view, methods=["GET"])
            ENDPOINT_ABILITIES[f"{bp.name}.{endpoint}"] = module.ability(action)
            ENDPOINT_MODULES[f"{bp.name}.{endpoint}"] = (module, action)


# --- serialisation -------------------------------------------------------------------------


def _dumper(module: Module) -> Dumper:
    """The module's schema compiled for the hot path (a class or an instance in the catalogue)."""
    declared = module.schema
    return compile_dumper(declared if isinstance(declared, type) else type(declared))


def _row_dumper(module: Module, columns: tuple[str, ...]) -> RowDumper:
    """The module's schema compiled for plain rows with ``columns`` in this order."""
    declared = module.schema
    return compile_row_dumper(declared if isinstance(declared, type) else type(declared), columns)


# --- list ----------------------------------------------------------------------------------


def _make_list_view(module: Module) -> Callable[[], Response]:
    def list_records() -> Response:
        """List the module's records: paginated, sorted, searchable, incremental."""
        return _list(module)

    list_records.__name__ = f"{module.slug.replace('-', '_')}_list"
    list_records.__doc__ = (
        f"List {module.name}: paginated, sortable, searchable, incremental (updated_since)."
    )
    return list_records


# Bound parameters of the cached list statements (``_list_statement``).
_LIMIT = bindparam("limit", type_=Integer)
_OFFSET = bindparam("offset", type_=Integer)
_SEARCH = bindparam("search", type_=String)
_SINCE = bindparam("since")
# ``q`` is matched with LIKE ... ESCAPE '/': a literal %, _ or / in the search is escaped.
_LIKE_ESCAPE = "/"


def _like_pattern(q: str) -> str:
    """``%q%`` with LIKE's wildcards in ``q`` escaped, so a search is always a plain substring."""
    escaped = q.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


def _filters(module: Module, searching: bool, since: bool) -> list[ColumnElement[bool]]:
    model = module.model
    conditions: list[ColumnElement[bool]] = []
    if searching and module.searchable:
        conditions.append(
            or_(*(getattr(model, name).ilike(_SEARCH, escape=_LIKE_ESCAPE) for name in module.searchable))
        )
    if since:
        conditions.append(model.updated_at >= _SINCE)
    return conditions


def _ordered(module: Module, stmt: Select[Any], sort: str) -> Select[Any]:
    model = module.model
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    column = getattr(model, name)
    order = [column.desc() if descending else column.asc()]
    if name != "id":
        # Tie-break by id so equal sort values never shuffle between pages.
        order.append(model.id.desc() if descending else model.id.asc())
    return stmt.order_by(*order)


@dataclass(frozen=True)
class _ListStatements:
    """The statements of one list shape (module, sort, which filters), built once."""

    count: Select[Any]
    # Flat modules: the page with the filtered total as its last column, in one round trip
    # (an uncorrelated scalar subquery runs once: an InitPlan on PostgreSQL, OP_Once on
    # SQLite, not once per row). Modules with nested lines: ORM entities, total counted apart.
    page: Select[Any]
    with_total: bool
    # Names of the page's columns, in order (flat modules), for the row dumper.
    columns: tuple[str, ...] = ()


def _as_stored(column: Column[Any]) -> ColumnElement[Any]:
    """A column as the database returns it when the compiled dumper converts it anyway.

    Timestamps come back naive (the dumper reads naive as UTC, as ``UTCDateTime`` does) and
    enums as their stored strings (the dumper checks them against the enum's values): the
    per-value type conversions would be undone by the dump at once.
    """
    if isinstance(column.type, UTCDateTime):
        return type_coerce(column, DateTime()).label(column.key)
    if isinstance(column.type, Enum) and column.type.enum_class is not None:
        return type_coerce(column, String()).label(column.key)
    return column


def _total(module: Module, conditions: list[ColumnElement[bool]], kept_counts: bool) -> ColumnElement[int]:
    """The list's total: the trigger-kept row count when unfiltered (PostgreSQL), else COUNT(*)."""
    counted = select(func.count()).select_from(module.model).where(*conditions).scalar_subquery()
    if conditions or not kept_counts:
        return counted
    # See app.row_counts: exact, and O(1) where COUNT(*) reads the whole table. COALESCE
    # evaluates lazily, so the COUNT(*) runs only if the table has no counter row.
    kept = (
        select(cast(func.sum(row_counts.row_counts.c.delta), BigInteger))
        .where(row_counts.row_counts.c.table_name == module.model.__tablename__)
        .scalar_subquery()
    )
    return func.coalesce(kept, counted)


@cache
def _list_statement(
    module: Module, sort: str, searching: bool, since: bool, kept_counts: bool
) -> _ListStatements:
    """Build (once per shape) the count and page statements; values arrive as bound parameters."""
    # Building a Select costs ~0.1 ms of CPU; the values (page, search, since) vary per
    # request, the shape does not, so the statements are cached per shape.
    model = module.model
    conditions = _filters(module, searching, since)
    count = select(_total(module, conditions, kept_counts))
    if module.query_options:
        page = select(model).where(*conditions).options(*module.query_options)
    else:
        total = _total(module, conditions, kept_counts).label("list_total")
        page = select(*map(_as_stored, model.__table__.columns), total).where(*conditions)
    page = _ordered(module, page, sort).limit(_LIMIT).offset(_OFFSET)
    if module.query_options:
        return _ListStatements(count=count, page=page, with_total=False)
    return _ListStatements(
        count=count, page=page, with_total=True, columns=tuple(page.selected_columns.keys())
    )


def _list(module: Module) -> Response:
    args = parse_list_args(module)
    kept_counts = db.session.get_bind().dialect.name == "postgresql"
    statements = _list_statement(
        module, args.sort, args.q is not None, args.updated_since is not None, kept_counts
    )
    params: dict[str, Any] = {"limit": args.per_page, "offset": (args.page - 1) * args.per_page}
    if args.q is not None:
        params["search"] = _like_pattern(args.q)
    if args.updated_since is not None:
        params["since"] = args.updated_since
    rows, total = _page(statements, params)
    if kept_counts:
        row_counts.fold_if_due(module.model.__tablename__)
    pages = math.ceil(total / args.per_page) if total else 0
    dump = _row_dumper(module, statements.columns) if statements.with_total else _dumper(module)
    base_url = request.base_url
    return jsonify(
        data=[dump(row) for row in rows],
        meta={"page": args.page, "per_page": args.per_page, "total": total, "pages": pages},
        links={
            "self": _page_url(base_url, args.page),
            "next": _page_url(base_url, args.page + 1) if args.page < pages else None,
            "prev": _page_url(base_url, min(args.page - 1, max(pages, 1))) if args.page > 1 else None,
        },
    )


def _page(statements: _ListStatements, params: dict[str, Any]) -> tuple[list[Any], int]:
    """One page of records and the filtered total: plain rows for flat modules, else ORM objects."""
    if statements.with_total:
        # Core execution on the session's connection: flat rows need no identity map, and
        # the compiled dumper reads a row's attributes the same way as an object's.
        rows = list(db.session.connection().execute(statements.page, params))
        if rows:
            return rows, rows[0][-1]
        # Past the last page (or nothing matches): the total still has to be told.
        return [], _count(statements, params)
    total = _count(statements, params)
    if params["offset"] >= total:
        return [], total
    return list(db.session.scalars(statements.page, params).unique()), total


def _count(statements: _ListStatements, params: dict[str, Any]) -> int:
    values = {name: value for name, value in params.items() if name not in ("limit", "offset")}
    return db.session.connection().execute(statements.count, values).scalar_one()


def _page_url(base_url: str, page: int) -> str:
    """Absolute URL of the same list with the same query and another page."""
    query = request.args.to_dict()
    query["page"] = str(page)
    return f"{base_url}?{urlencode(query)}"


# --- show ----------------------------------------------------------------------------------


def _make_show_view(module: Module) -> Callable[[int], Response]:
    def show_record(record_id: int) -> Response:
        """Show one record of the module by id."""
        return _show(module, record_id)

    show_record.__name__ = f"{module.slug.replace('-', '_')}_show"
    show_record.__doc__ = f"Show one of the {module.name} by id."
    return show_record


def _show(module: Module, record_id: int) -> Response:
    record = None
    if 1 <= record_id <= MAX_ID:
        record = db.session.get(module.model, record_id, options=list(module.query_options))
    if record is None:
        raise ApiError(
            404, "not_found", f"No record with id {record_id} in {module.name}.", {"id": record_id}
        )
    return jsonify(data=_dumper(module)(record))
