"""Ordering and paging for the API Keys table, on top of ``keys.service.search_keys`` (the one
key search, which ``flask keys list --search`` calls too).

Paging fetches one row more than a page instead of counting: an exact COUNT over 100,000
keys on every keystroke would cost more than the page itself.

The query parameters are read by ``app.panel.list_params`` (shared with the Audit Log):
unknown status, sort or direction values fall back to the defaults, hostile values are
refused by ``ListParams.argument_errors`` and the view answers 422 with the message by the
search box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import ColumnElement

from app.extensions import db
from app.keys.inputs import max_lifetime_days
from app.keys.service import STATUS_FILTERS, search_keys
from app.models.api_keys import ApiKey
from app.models.users import User
from app.panel.list_params import ListQuery, param

PER_PAGE = 25

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
# The table's columns, each sortable by its key: sort key -> header (and each cell's label).
COLUMNS = {
    "name": "Name",
    "prefix": "Key Prefix",
    "owner": "Owner",
    "status": "Status",
    "rate_limit": "Rate Limit",
    "expires_at": "Expires At",
    "last_used_at": "Last Used At",
}
# The status filter's options in the order shown: every value of ``STATUS_FILTERS``, labelled.
# The first is the default: it hides revoked keys and dead ones (past their roll cutover).
STATUS_OPTIONS = {
    "working": "All working",
    "active": "Active",
    "inactive": "Inactive",
    "expiring": "Expiring soon",
    "expired": "Expired",
    "rolled": "Rolled (replaced)",
    "all": "All (not revoked)",
    "revoked": "Revoked",
    "over_lifetime": "Over the lifetime policy",
}
DEFAULT_STATUS = next(iter(STATUS_OPTIONS))


def status_options() -> dict[str, str]:
    """The status filter's options; "Over the lifetime policy" only when KEY_MAX_LIFETIME_DAYS is set."""
    if max_lifetime_days() is not None:
        return STATUS_OPTIONS
    return {value: label for value, label in STATUS_OPTIONS.items() if value != "over_lifetime"}


DEFAULT_SORT = "created_at"
DEFAULT_DIRECTION = "desc"
DIRECTIONS = ("asc", "desc")


@dataclass(frozen=True)
class ListParams(ListQuery):
    """What the table shows: search text, status filter, sort, direction and page."""

    q: str = param("", "Search")
    status: str = param(DEFAULT_STATUS, "Status", choices=STATUS_FILTERS)
    sort: str = param(DEFAULT_SORT, "Sort", choices=SORT_COLUMNS)
    direction: str = param(DEFAULT_DIRECTION, "Sort direction", arg="dir", choices=DIRECTIONS)
    page: int = param(1, "Page")

    # The sort rides in the URL whole (the table's hidden inputs carry both into a search).
    together: ClassVar[frozenset[str]] = frozenset({"sort", "direction"})

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


def list_keys(params: ListParams) -> KeyPage:
    """Return the page of keys that ``params`` asks for."""
    stmt = (
        search_keys(params.q, params.status)
        .order_by(*_order(params))
        .offset((params.page - 1) * PER_PAGE)
        .limit(PER_PAGE + 1)
    )
    keys = list(db.session.scalars(stmt).unique())
    return KeyPage(keys=keys[:PER_PAGE], params=params, has_next=len(keys) > PER_PAGE)
