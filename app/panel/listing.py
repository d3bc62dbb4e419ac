"""Ordering and paging for the API Keys table, on top of ``keys.service.search_keys``.

Paging fetches one row more than a page instead of counting: an exact COUNT over 100,000
keys on every keystroke would cost more than the page itself.

Unknown status, sort or direction values fall back to the defaults (an old bookmark still
opens). Hostile values do not: ``argument_errors`` names every parameter holding a control
character (PostgreSQL refuses NUL, so the search never runs with one) and a page number not
written in ASCII digits, and the view answers 422 with the message by the search box.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, Select, false

from app import untrusted
from app.db import dialect, key_search
from app.extensions import db
from app.keys.service import STATUS_FILTERS, search_keys
from app.models.api_keys import ApiKey
from app.models.users import User

PER_PAGE = 25
MAX_PAGE = 10_000
# No searchable field is longer than an email address (254): a longer query matches nothing.
LONGEST_SEARCHABLE = 254

# Sort key in the URL -> column. Tie-broken by id so pages never overlap.
SORT_COLUMNS: dict[str, Any] = {
    "name": ApiKey.name,
    "prefix": ApiKey.prefix,
    "owner": User.name,
    "status": ApiKey.status,
    "rate_limit": ApiKey.rate_limit,
    "expires_at": ApiKey.expires_at,
    "last_used_at": ApiKey.last_used_at,
    "created_at": ApiKey.created_at,
}
DEFAULT_SORT = "created_at"
DEFAULT_DIRECTION = "desc"
DIRECTIONS = ("asc", "desc")
# How the table's query parameters are named to the admin in error messages.
ARGUMENT_LABELS = {"q": "Search", "status": "Status", "sort": "Sort", "dir": "Sort direction", "page": "Page"}


@dataclass(frozen=True)
class ListParams:
    """What the table shows: search text, status filter, sort, direction and page."""

    q: str = ""
    status: str = "all"
    sort: str = DEFAULT_SORT
    direction: str = DEFAULT_DIRECTION
    page: int = 1

    @classmethod
    def from_args(cls, args: Any) -> ListParams:
        """Read the params from a query string, replacing unknown values with defaults."""
        status = args.get("status", "all")
        sort = args.get("sort", DEFAULT_SORT)
        direction = args.get("dir", DEFAULT_DIRECTION)
        try:
            page = min(max(untrusted.parse_whole_number(args.get("page", "1")), 1), MAX_PAGE)
        except ValueError:
            page = 1
        q = args.get("q", "")
        return cls(
            # A search holding a control character is refused (argument_errors), never run.
            q="" if untrusted.control_character_error(q) else q,
            status=status if status in STATUS_FILTERS else "all",
            sort=sort if sort in SORT_COLUMNS else DEFAULT_SORT,
            direction=direction if direction in DIRECTIONS else DEFAULT_DIRECTION,
            page=page,
        )

    def query_args(self, **changes: Any) -> dict[str, Any]:
        """URL arguments for these params with ``changes``, leaving defaults out of the URL."""
        params = replace(self, **changes)
        args: dict[str, Any] = {}
        if params.q:
            args["q"] = params.q
        if params.status != "all":
            args["status"] = params.status
        if params.sort != DEFAULT_SORT or params.direction != DEFAULT_DIRECTION:
            args["sort"] = params.sort
            args["dir"] = params.direction
        if params.page != 1:
            args["page"] = params.page
        return args

    def sort_args(self, column: str) -> dict[str, Any]:
        """URL arguments that sort by ``column`` (toggling direction if already sorted by it)."""
        toggled = "asc" if self.direction == "desc" else "desc"
        direction = toggled if column == self.sort else "asc"
        return self.query_args(sort=column, direction=direction, page=1)


@dataclass(frozen=True)
class KeyPage:
    """One page of keys and whether there are pages either side."""

    keys: list[ApiKey]
    params: ListParams
    has_next: bool

    @property
    def has_previous(self) -> bool:
        """True when this is not the first page."""
        return self.params.page > 1


def argument_errors(args: Any) -> list[str]:
    """One message per query parameter that must be refused; empty when the query is fine."""
    errors: dict[str, str] = {}
    for name in args:
        for value in args.getlist(name):
            if problem := untrusted.control_character_error(value):
                errors[name] = problem
    page = args.get("page", "")
    if "page" not in errors and page and not untrusted.is_whole_number(page):
        errors["page"] = untrusted.NOT_A_WHOLE_NUMBER
    return [
        f"{ARGUMENT_LABELS.get(name, 'A parameter of the address')}: {error}"
        for name, error in errors.items()
    ]


def empty_page(params: ListParams) -> KeyPage:
    """A page with no keys, for a query that was refused (nothing was looked up)."""
    return KeyPage(keys=[], params=params, has_next=False)


def _order(params: ListParams) -> list[ColumnElement[Any]]:
    column = SORT_COLUMNS[params.sort]
    primary = column.asc() if params.direction == "asc" else column.desc()
    tiebreak = ApiKey.id.asc() if params.direction == "asc" else ApiKey.id.desc()
    if column.nullable:
        # Keys without an expiry or never used sort last either way, on SQLite and PostgreSQL.
        primary = primary.nulls_last()
    # (Not on NOT NULL columns: PostgreSQL cannot walk an index for DESC NULLS LAST.)
    return [primary, tiebreak]


def _filtered(params: ListParams) -> Select[tuple[ApiKey]]:
    query = params.q.strip()
    if len(query) > LONGEST_SEARCHABLE:
        return search_keys("", params.status).where(false())
    if query:
        sparse = key_search.sparse_matches(query, db.session, dialect())
        if sparse is not None:
            return search_keys("", params.status).where(sparse)
    return search_keys(query, params.status)


def list_keys(params: ListParams) -> KeyPage:
    """Return the page of keys that ``params`` asks for."""
    stmt = (
        _filtered(params).order_by(*_order(params)).offset((params.page - 1) * PER_PAGE).limit(PER_PAGE + 1)
    )
    keys = list(db.session.scalars(stmt).unique())
    return KeyPage(keys=keys[:PER_PAGE], params=params, has_next=len(keys) > PER_PAGE)
