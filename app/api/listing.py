"""The database side of the API: one page of a module's records with its total, one record, the dump.

Statements are built once per shape (module, sort, which filters) with the values as bound
parameters. A page carries the filtered total as its last column, so one round trip answers
both (an uncorrelated scalar subquery runs once, not once per row). The total is a ``COUNT(*)``
capped at ``TOTAL_CAP`` (SPEC §6): it counts at most ``TOTAL_CAP + 1`` matching rows, and past
the cap the page has no total, so page 1 costs the same at 100,000 records as at 10,000
(``docs/decisions/001-list-totals.md``). Whether a next page exists is read from the page
itself (``per_page + 1`` rows), never from the total, so ``links.next`` works past the cap.
A record is a plain row of the table's columns, run on the session's connection (cheaper than
ORM objects: ``docs/decisions/008-speed-code.md``), except in modules whose records nest others
(orders and their lines), which load ORM entities. A page names the columns its rows hold, so
the dump reads them by position.

Cursor mode (SPEC §14, ``docs/decisions/005-sync.md``) is a keyset read: the rows after the
cursor's (sort value, id) in the same order page mode uses, ``per_page + 1`` of them to know
whether a next page exists, and no count. A nullable sort column orders its NULLs as if larger
than any value (last ascending, first descending) on every database, so the keyset condition
can say exactly where NULLs lie.

Data scope (SPEC §16, ``app.api.scope``) is part of every statement: its conditions join the
filters (so lists, totals, cursors and ETags cover only the scoped records, and a show of any
other record finds nothing, the 404 of a missing id), a list of plain rows selects only the
visible columns, and the dump leaves hidden fields out, nested lines included. The statements
stay cached per shape, the key's values bound at call time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, String, and_, bindparam, func, or_, select

from app.api import cursors, scope
from app.api.params import ListArgs
from app.api.scope import NO_SHAPE, Scope, Shape
from app.catalogue import Module
from app.extensions import db
from app.schemas.fast_dump import compile_dumper

# ``q`` is matched with LIKE ... ESCAPE '/': a literal %, _ or / in the search is escaped.
LIKE_ESCAPE = "/"
# SPEC §6: page mode counts at most this many matching records; past it there is no total.
TOTAL_CAP = 10_000


@dataclass(frozen=True)
class Page:
    """One page of records, the number of records matching the filters (None when more than
    ``TOTAL_CAP`` match), whether another page follows, and the columns its records start with
    when they are plain rows (None: ORM entities)."""

    records: list[Any]
    total: int | None
    has_next: bool
    columns: tuple[str, ...] | None = None


def fetch_page(module: Module, args: ListArgs, within: Scope | None = None) -> Page:
    """Read the page ``args`` asks for within the key's scope (None: every record), with its
    total up to ``TOTAL_CAP``."""
    shape, scope_params = _narrowing(module, within)
    statements = _statements(
        module, args.sort, _searched(module, args, shape), args.updated_since is not None, shape
    )
    # Read at call time (not baked into the cached statements), so the cap is one constant.
    params = {**_filter_params(args), **scope_params, "count_limit": TOTAL_CAP + 1}
    # One row more than the page: its presence says a next page exists, whatever the total.
    limit, offset = args.per_page + 1, (args.page - 1) * args.per_page
    rows = _execute(module, statements.page, {**params, "limit": limit, "offset": offset}).all()
    if rows:
        # The total is the last column; a record is its row's entity, or the row itself.
        counted = rows[0][-1]
        page = rows[: args.per_page]
        records = [row[0] for row in page] if nests_records(module) else page
        return Page(records, _capped(counted), len(rows) > args.per_page, _row_columns(module, shape))
    # Past the last page (or nothing matches): the total still has to be told.
    return Page([], _capped(db.session.execute(statements.count, params).scalar_one()), False)


def _capped(counted: int) -> int | None:
    """The total to tell: the count, or None when it passed the cap (it stops at ``TOTAL_CAP + 1``)."""
    return counted if counted <= TOTAL_CAP else None


@dataclass(frozen=True)
class CursorPage:
    """One page of records in cursor mode, the cursor of the next page (None on the last), and
    the columns of its records when they are plain rows (as ``Page.columns``)."""

    records: list[Any]
    next_cursor: str | None
    columns: tuple[str, ...] | None = None


def fetch_cursor_page(module: Module, args: ListArgs, within: Scope | None = None) -> CursorPage:
    """Read the page after ``args.after`` (the first page when None) within the scope, uncounted."""
    after = args.after
    position = None if after is None else ("null" if after.value is None else "value")
    shape, scope_params = _narrowing(module, within)
    searched, since = _searched(module, args, shape), args.updated_since is not None
    statement = _cursor_statement(module, args.sort, searched, since, position, shape)
    params = {**_filter_params(args), **scope_params}
    if after is not None:
        params["after_id"] = after.id
        if after.value is not None:
            params["after_value"] = after.value
    # One row more than the page: its presence says a next page exists, with no COUNT.
    rows = _execute(module, statement, {**params, "limit": args.per_page + 1}).all()
    records = [row[0] for row in rows] if nests_records(module) else rows
    columns = _row_columns(module, shape)
    if len(records) <= args.per_page:
        return CursorPage(records, None, columns)
    records = records[: args.per_page]
    return CursorPage(records, cursors.encode(module, args.sort, records[-1]), columns)


def _narrowing(module: Module, within: Scope | None) -> tuple[Shape, dict[str, Any]]:
    """How ``within`` narrows ``module``'s statements, and the values it binds; a key without a
    scope (None) narrows nothing, and its request never asks ``app.api.scope``."""
    if within is None:
        return NO_SHAPE, {}
    shape = within.shape(module)
    return shape, within.params(shape)


def nests_records(module: Module) -> bool:
    """Whether a record of ``module`` holds others (order lines), loaded by its ``query_options``."""
    return bool(module.query_options)


def _searched(module: Module, args: ListArgs, shape: Shape) -> tuple[str, ...] | None:
    """The fields ``q`` matches: the searchable ones the key can see; None when not searching."""
    if args.q is None:
        return None
    return tuple(name for name in module.searchable if name not in shape.hidden)


def _selected(module: Module, shape: Shape) -> list[Any]:
    """What a list selects per record: the ORM entity when its records nest others, else the
    table's visible columns as a plain row, which dumps the same (attributes are named as
    columns) and skips the ORM's per-object bookkeeping (identity map, instance state)."""
    if nests_records(module):
        return [module.model]
    return [column for column in module.model.__table__.columns if column.name not in shape.hidden]


@cache
def _row_columns(module: Module, shape: Shape) -> tuple[str, ...] | None:
    """The columns a list's plain row starts with, in order; None when its records are entities."""
    if nests_records(module):
        return None
    return tuple(column.name for column in _selected(module, shape))


def _execute(module: Module, statement: Select[Any], params: dict[str, Any]) -> Any:
    """Run a list statement: plain rows on the session's connection, ORM entities through the session."""
    if nests_records(module):
        return db.session.execute(statement, params)
    return db.session.connection().execute(statement, params)


def _filter_params(args: ListArgs) -> dict[str, Any]:
    """The bound values of the ``q`` and ``updated_since`` filters."""
    params: dict[str, Any] = {}
    if args.q is not None:
        params["search"] = like_pattern(args.q)
    if args.updated_since is not None:
        params["since"] = args.updated_since
    return params


def fetch_one(module: Module, record_id: int, within: Scope | None = None) -> Any:
    """The record with this id within the key's scope, or None (out of scope is not found)."""
    shape, scope_params = _narrowing(module, within)
    if not shape.narrows:
        return db.session.get(module.model, record_id, options=list(module.query_options))
    params = {**scope_params, "record_id": record_id}
    return db.session.scalars(_show_statement(module, shape), params).first()


@cache
def _show_statement(module: Module, shape: Shape) -> Select[Any]:
    """The show of one record within a narrowing scope, built once per shape."""
    model = module.model
    statement = select(model).where(
        model.id == bindparam("record_id", type_=Integer), *scope.conditions(module, shape)
    )
    return statement.options(*module.query_options) if module.query_options else statement


def dump(
    module: Module,
    records: list[Any],
    hidden: frozenset[str] = frozenset(),
    columns: tuple[str, ...] | None = None,
) -> list[dict[str, Any]]:
    """The records as the module's schema dumps them, without the ``hidden`` fields (the scope's);
    ``columns``: a page's ``columns``, when its records are plain rows."""
    dump_one = compile_dumper(module.schema, hidden, columns)
    return [dump_one(record) for record in records]


def like_pattern(q: str) -> str:
    """``%q%`` with LIKE's wildcards in ``q`` escaped, so a search is always a plain substring."""
    escaped = (
        q.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", f"{LIKE_ESCAPE}%")
        .replace("_", f"{LIKE_ESCAPE}_")
    )
    return f"%{escaped}%"


@dataclass(frozen=True)
class _Statements:
    """The page (records with the capped total as a last column) and the capped count alone."""

    page: Select[Any]
    count: Select[Any]


def _conditions(
    module: Module, searched: tuple[str, ...] | None, since: bool, shape: Shape
) -> list[ColumnElement[bool]]:
    """The WHERE conditions of the scope and the ``q`` and ``updated_since`` filters, as bound parameters."""
    model = module.model
    conditions: list[ColumnElement[bool]] = scope.conditions(module, shape)
    if searched:
        search = bindparam("search", type_=String)
        conditions.append(or_(*(getattr(model, name).ilike(search, escape=LIKE_ESCAPE) for name in searched)))
    if since:
        conditions.append(model.updated_at >= bindparam("since"))
    return conditions


def _order_by(module: Module, sort: str) -> list[Any]:
    """ORDER BY of a sort: the field, then id in the same direction (ties never shuffle)."""
    model = module.model
    descending = sort.startswith("-")
    name = cursors.field_of(sort)
    column = getattr(model, name)
    if model.__table__.c[name].nullable:
        # NULLs as the largest value on every database (PostgreSQL's default; SQLite's is the
        # opposite), so page mode and the keyset condition agree on where they lie.
        order = [column.desc().nulls_first() if descending else column.asc().nulls_last()]
    else:
        order = [column.desc() if descending else column.asc()]
    if name != "id":
        order.append(model.id.desc() if descending else model.id.asc())
    return order


@cache
def _statements(
    module: Module, sort: str, searched: tuple[str, ...] | None, since: bool, shape: Shape
) -> _Statements:
    """Build the statements of one list shape once: building a Select costs more than running
    it (docs/decisions/008-speed-code.md)."""
    model = module.model
    conditions = _conditions(module, searched, since, shape)
    # Count the ids of at most ``count_limit`` matching rows: the scan stops there.
    matching = select(model.id).where(*conditions).limit(bindparam("count_limit", type_=Integer))
    count = select(func.count()).select_from(matching.subquery())
    page = select(*_selected(module, shape), count.scalar_subquery().label("matching_total")).where(
        *conditions
    )
    if module.query_options:
        page = page.options(*module.query_options)
    page = (
        page.order_by(*_order_by(module, sort))
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )
    return _Statements(page=page, count=count)


@cache
def _cursor_statement(
    module: Module, sort: str, searched: tuple[str, ...] | None, since: bool, after: str | None, shape: Shape
) -> Select[Any]:
    """Build the keyset statement of one cursor-mode shape once.

    ``after`` is None on the first page, ``"value"`` after a row with a sort value, ``"null"``
    after a row whose (nullable) sort value is NULL.
    """
    conditions = _conditions(module, searched, since, shape)
    if after is not None:
        conditions.append(_after(module, sort, after == "null"))
    statement = select(*_selected(module, shape)).where(*conditions)
    if module.query_options:
        statement = statement.options(*module.query_options)
    return statement.order_by(*_order_by(module, sort)).limit(bindparam("limit", type_=Integer))


def _after(module: Module, sort: str, after_null: bool) -> ColumnElement[bool]:
    """The keyset condition: rows strictly after (``after_value``, ``after_id``) in ``_order_by``'s order."""
    model = module.model
    descending = sort.startswith("-")
    name = cursors.field_of(sort)
    after_id = bindparam("after_id", type_=Integer)
    id_after = model.id < after_id if descending else model.id > after_id
    if name == "id":
        return id_after
    column = getattr(model, name)
    nullable = model.__table__.c[name].nullable
    if after_null:
        # After a NULL: ascending, only NULLs with a larger id remain; descending, those with a
        # smaller id, then every non-NULL value.
        rest = and_(column.is_(None), id_after)
        return or_(column.is_not(None), rest) if descending else rest
    value = bindparam("after_value", type_=model.__table__.c[name].type)
    # ``col >= v AND (col > v OR id > i)`` rather than a bare OR: the first term bounds an
    # index range scan on the sort column on both databases.
    if descending:
        return and_(column <= value, or_(column < value, id_after))
    keyset = and_(column >= value, or_(column > value, id_after))
    return or_(keyset, column.is_(None)) if nullable else keyset
