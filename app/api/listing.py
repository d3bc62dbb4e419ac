"""The database side of the API: one page of a module's records with its total, one record, the dump.

Statements are built once per shape (module, sort, which filters) with the values as bound
parameters. A page carries the filtered total as its last column, so one round trip answers
both (an uncorrelated scalar subquery runs once, not once per row). The total is an exact
``COUNT(*)``: see ``docs/decisions/001-list-totals.md`` for why there is no kept row count.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, String, bindparam, func, or_, select

from app.api.params import ListArgs
from app.catalogue import Module
from app.extensions import db
from app.schemas.fast_dump import compile_dumper

# ``q`` is matched with LIKE ... ESCAPE '/': a literal %, _ or / in the search is escaped.
LIKE_ESCAPE = "/"


@dataclass(frozen=True)
class Page:
    """One page of records and the total number of records matching the filters."""

    records: list[Any]
    total: int


def fetch_page(module: Module, args: ListArgs) -> Page:
    """Read the page ``args`` asks for, with its total."""
    statements = _statements(module, args.sort, args.q is not None, args.updated_since is not None)
    params: dict[str, Any] = {}
    if args.q is not None:
        params["search"] = like_pattern(args.q)
    if args.updated_since is not None:
        params["since"] = args.updated_since
    rows = db.session.execute(
        statements.page, {**params, "limit": args.per_page, "offset": (args.page - 1) * args.per_page}
    ).all()
    if rows:
        return Page([record for record, _total in rows], rows[0][1])
    # Past the last page (or nothing matches): the total still has to be told.
    return Page([], db.session.execute(statements.count, params).scalar_one())


def fetch_one(module: Module, record_id: int) -> Any:
    """The record with this id, or None."""
    return db.session.get(module.model, record_id, options=list(module.query_options))


def dump(module: Module, records: list[Any]) -> list[dict[str, Any]]:
    """The records as the module's schema dumps them (``app.schemas.fast_dump``)."""
    dump_one = compile_dumper(module.schema)
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
    """The page (records with the total as a last column) and the bare count of one list shape."""

    page: Select[Any]
    count: Select[Any]


@cache
def _statements(module: Module, sort: str, searching: bool, since: bool) -> _Statements:
    """Build the statements of one list shape once: building a Select costs ~0.1 ms of CPU."""
    model = module.model
    conditions: list[ColumnElement[bool]] = []
    if searching and module.searchable:
        search = bindparam("search", type_=String)
        conditions.append(
            or_(*(getattr(model, name).ilike(search, escape=LIKE_ESCAPE) for name in module.searchable))
        )
    if since:
        conditions.append(model.updated_at >= bindparam("since"))
    count = select(func.count()).select_from(model).where(*conditions)
    page = select(model, count.scalar_subquery().label("total")).where(*conditions)
    if module.query_options:
        page = page.options(*module.query_options)
    descending = sort.startswith("-")
    column = getattr(model, sort.lstrip("-"))
    order = [column.desc() if descending else column.asc()]
    if sort.lstrip("-") != "id":
        # Tie-break by id so equal sort values never shuffle between pages.
        order.append(model.id.desc() if descending else model.id.asc())
    page = (
        page.order_by(*order)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )
    return _Statements(page=page, count=count)
