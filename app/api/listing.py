"""The database side of the list endpoints: one page of a module's records and its total.

Statements are built once per shape (module, sort, which filters) with the values as bound
parameters; a flat module's page carries its total as a last column, so one round trip
answers both. An unfiltered total is the trigger-kept row count
(``app.row_counts``). Rows are dumped by the module's compiled schema
(``app.schemas.dumping``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

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
from app.api import reads
from app.api.params import ListArgs
from app.catalogue import Module
from app.extensions import db
from app.models.types import UTCDateTime
from app.schemas.dumping import Dumper, RowDumper, compile_dumper, compile_row_dumper


@dataclass(frozen=True)
class Page:
    """One page of records, the filtered total, and the function that dumps each record."""

    rows: list[Any]
    total: int
    dump: Callable[[Any], dict[str, Any]]


def fetch_page(module: Module, args: ListArgs) -> Page:
    """Read the page ``args`` asks for, with its total, from the request's session."""
    statements = _list_statement(module, args.sort, args.q is not None, args.updated_since is not None)
    params: dict[str, Any] = {"limit": args.per_page, "offset": (args.page - 1) * args.per_page}
    if args.q is not None:
        params["search"] = _like_pattern(args.q)
    if args.updated_since is not None:
        params["since"] = args.updated_since
    rows, total = _page(statements, params)
    if db.session.get_bind().dialect.name == "postgresql":  # appended deltas; SQLite keeps one row
        row_counts.fold_if_due(module.model.__tablename__)
    dump = row_dumper(module, statements.columns) if statements.with_total else dumper(module)
    return Page(rows, total, dump)


def dumper(module: Module) -> Dumper:
    """The module's schema compiled for the hot path (a class or an instance in the catalogue)."""
    declared = module.schema
    return compile_dumper(declared if isinstance(declared, type) else type(declared))


def row_dumper(module: Module, columns: tuple[str, ...]) -> RowDumper:
    """The module's schema compiled for plain rows with ``columns`` in this order."""
    declared = module.schema
    return compile_row_dumper(declared if isinstance(declared, type) else type(declared), columns)


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


def _total(module: Module, conditions: list[ColumnElement[bool]]) -> ColumnElement[int]:
    """The list's total: the trigger-kept row count when unfiltered, else COUNT(*)."""
    counted = select(func.count()).select_from(module.model).where(*conditions).scalar_subquery()
    if conditions:
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
def _list_statement(module: Module, sort: str, searching: bool, since: bool) -> _ListStatements:
    """Build (once per shape) the count and page statements; values arrive as bound parameters."""
    # Building a Select costs ~0.1 ms of CPU; the values (page, search, since) vary per
    # request, the shape does not, so the statements are cached per shape.
    model = module.model
    conditions = _filters(module, searching, since)
    count = select(_total(module, conditions))
    if module.query_options:
        page = select(model).where(*conditions).options(*module.query_options)
    else:
        total = _total(module, conditions).label("list_total")
        page = select(*map(_as_stored, model.__table__.columns), total).where(*conditions)
    page = _ordered(module, page, sort).limit(_LIMIT).offset(_OFFSET)
    if module.query_options:
        return _ListStatements(count=count, page=page, with_total=False)
    return _ListStatements(
        count=count, page=page, with_total=True, columns=tuple(page.selected_columns.keys())
    )


def _page(statements: _ListStatements, params: dict[str, Any]) -> tuple[list[Any], int]:
    """One page of records and the filtered total: plain rows for flat modules, else ORM objects."""
    if statements.with_total:
        # Core execution on the request's read connection: flat rows need no identity map,
        # and the row dumper reads their values by position.
        rows = list(reads.connection().execute(statements.page, params))
        if rows:
            return rows, rows[0][-1]
        # Past the last page (or nothing matches): the total still has to be told.
        return [], _count(statements, params)
    total = _count(statements, params)
    if params["offset"] >= total:
        return [], total
    scalars = db.session.scalars(statements.page, params, bind_arguments=reads.bind_arguments())
    return list(scalars.unique()), total


def _count(statements: _ListStatements, params: dict[str, Any]) -> int:
    values = {name: value for name, value in params.items() if name not in ("limit", "offset")}
    return reads.connection().execute(statements.count, values).scalar_one()
