"""Query arguments of the list endpoints (SPEC §6), validated by one marshmallow schema per module.

``list_args_schema(module)`` is the single definition: the list view loads it and the docs
document exactly its fields. Decisions:

* ``page`` is 1..``MAX_PAGE`` (so ``10**20`` is a 400, not a database overflow);
  ``per_page`` is 1..100, default 25.
* ``sort`` is ``field`` or ``-field`` with ``field`` from ``module.sortable``; ties are
  always broken by ``id`` so pages never overlap or skip rows.
* ``q`` searches ``module.searchable`` case-insensitively (``LIKE`` with ``%``/``_``
  escaped), at most ``MAX_Q_LENGTH`` characters; a blank ``q`` means no search.
* ``updated_since`` is ISO 8601 (``Z`` or an offset; a naive value is taken as UTC) whose
  UTC instant lies in years 1-9999 (``0001-01-01T00:00:00+01:00`` is a 400, not an overflow).
* Hostile input is a 400 naming the parameter (``app.validation.untrusted``): a control character in any
  value (PostgreSQL refuses NUL), and numbers written other than in ASCII digits (``1_0``,
  `` 5``, Arabic-Indic or fullwidth digits), which Python's ``int()`` would accept.
* Unknown parameters and parameters given twice are a 400 naming them: a typo such as
  ``per-page`` or ``updatedSince`` silently ignored would return the wrong data.
* ``cursor`` switches the list to cursor mode (SPEC §14, ``app.api.cursors``): empty for the
  first page, then each page's ``next_cursor``. It may be up to ``MAX_CURSOR_LENGTH``
  characters (it carries a sort value such as a 200-character name). A cursor that is not
  ours, or was made for another list or sort, is a 400 naming ``cursor``; ``cursor`` with
  ``page`` is a 400 naming both (two ways to say where to start).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from flask import request
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from app.api import cursors
from app.api.errors import ApiError
from app.catalogue import Module
from app.schemas.input_fields import UtcDateTime, WholeNumber
from app.validation import untrusted
from app.validation.errors import flatten_errors

DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100
# Ten million pages: offsets stay far inside a 32-bit integer on every database.
MAX_PAGE = 10_000_000
MAX_Q_LENGTH = 100
# Longer raw values are refused before parsing (e.g. a 5,000-digit page number).
MAX_RAW_LENGTH = 200
# A cursor holds a sort value (names run to 254 characters, more once JSON-escaped) and a
# signature, so it gets more room than the other parameters.
MAX_CURSOR_LENGTH = 2048
INVALID_PARAMETERS_MESSAGE = "Invalid query parameters; see details."
# SPEC §16: a key's scope hides these; ``.format(field=...)``.
HIDDEN_SORT_MESSAGE = "This key cannot sort by {field}: its scope hides that field."
HIDDEN_SEARCH_MESSAGE = "This key's scope hides every field q searches here."


@dataclass(frozen=True)
class ListArgs:
    """Validated list arguments."""

    page: int
    per_page: int
    sort: str
    q: str | None
    updated_since: datetime | None
    # Cursor mode: ``cursor`` is the raw value sent ("" for the first page), ``after`` the
    # position it names (None on the first page). ``cursor`` is None in page mode.
    cursor: str | None = None
    after: cursors.Position | None = None


class ListArgsSchema(Schema):
    """Base of the per-module list-arguments schema; ``sort`` and ``q`` are added per module."""

    class Meta:
        """Unknown parameters are left to ``parse_list_args``."""

        # Unknown names are reported by ``parse_list_args`` with a clearer message.
        unknown = EXCLUDE

    page = WholeNumber(
        load_default=1,
        validate=validate.Range(min=1, max=MAX_PAGE),
        metadata={"description": f"Page number, 1 to {MAX_PAGE:,}.", "example": 1},
    )
    per_page = WholeNumber(
        load_default=DEFAULT_PER_PAGE,
        validate=validate.Range(min=1, max=MAX_PER_PAGE),
        metadata={"description": f"Items per page, 1 to {MAX_PER_PAGE}.", "example": DEFAULT_PER_PAGE},
    )
    cursor = fields.String(
        load_default=None,
        metadata={
            "description": "Cursor mode (for syncing): send it empty for the first page, then "
            "the `meta.next_cursor` of each page, until it is null. Works with any `sort`, `q` "
            "and `updated_since`; a cursor is bound to its list and sort. Not with `page`.",
            "example": "",
            "maxLength": MAX_CURSOR_LENGTH,
            # What a cursor is made of (base64url and dots): documented so clients and fuzzers
            # know any other character is a 400.
            "pattern": "^[A-Za-z0-9_.-]*$",
        },
    )
    updated_since = UtcDateTime(
        load_default=None,
        in_url=True,
        metadata={
            "description": "Only records updated at or after this instant (ISO 8601, e.g. "
            "2026-11-01T00:00:00Z), for incremental sync. Send the `+` of an offset as `%2B`: "
            "an unencoded `+` arrives as a space.",
            "example": "2026-11-01T00:00:00Z",
        },
    )


def _sort_values(module: Module) -> list[str]:
    return [value for name in module.sortable for value in (name, f"-{name}")]


@cache
def list_args_schema(module: Module) -> Schema:
    """Return the marshmallow schema of ``module``'s list query arguments (shared with the docs)."""
    extra: dict[str, fields.Field] = {
        "sort": fields.String(
            load_default=module.default_sort,
            validate=validate.OneOf(
                _sort_values(module),
                error="Unknown sort field; use one of: {choices}.",
            ),
            metadata={
                "description": "Sort by a field, ascending; prefix with `-` for descending. "
                "Ties are broken by id.",
                "enum": _sort_values(module),
                "example": module.default_sort,
            },
        )
    }
    if module.searchable:
        extra["q"] = fields.String(
            load_default=None,
            validate=validate.Length(max=MAX_Q_LENGTH),
            metadata={
                "description": f"Case-insensitive text search in: {', '.join(module.searchable)} "
                f"(at most {MAX_Q_LENGTH} characters, no control characters).",
                # What ``parse_list_args`` enforces (``app.validation.untrusted``): documented, so clients
                # and fuzzers know a control character is a 400.
                "pattern": "^[^\\x00-\\x1f\\x7f]*$",
            },
        )
    name = "".join(part.capitalize() for part in module.slug.split("-")) + "ListArgsSchema"
    return ListArgsSchema.from_dict(extra, name=name)()


def parse_list_args(module: Module, hidden: frozenset[str] = frozenset()) -> ListArgs:
    """Validate the current request's query string for ``module``; 400 with per-field details.

    ``hidden``: the fields the key's scope hides (SPEC §16). Sorting by one is refused, naming
    it, and ``q`` is refused when every searchable field is hidden: neither the order nor the
    matches may reveal a hidden value.
    """
    schema = list_args_schema(module)
    errors: dict[str, list[str]] = {}
    for name in request.args:
        if name not in schema.fields:
            errors[name] = [f"Unknown query parameter. Allowed: {', '.join(sorted(schema.fields))}."]
        elif len(request.args.getlist(name)) > 1:
            errors[name] = ["Given more than once; send it once."]
        elif len(request.args[name]) > (limit := MAX_CURSOR_LENGTH if name == "cursor" else MAX_RAW_LENGTH):
            errors[name] = [f"Longer than {limit} characters."]
        elif problem := untrusted.control_character_error(request.args[name]):
            # Checked before any field parses the value: NUL must never reach a query.
            errors[name] = [problem]
    raw = {name: request.args[name] for name in request.args if name not in errors}
    try:
        loaded = schema.load(raw)
    except ValidationError as error:
        errors.update(flatten_errors(error.normalized_messages()))
        loaded = None
    if loaded is not None and (sort_field := loaded["sort"].removeprefix("-")) in hidden:
        errors["sort"] = [HIDDEN_SORT_MESSAGE.format(field=sort_field)]
    if loaded is not None and loaded.get("q") and all(name in hidden for name in module.searchable):
        errors["q"] = [HIDDEN_SEARCH_MESSAGE]
    cursor, after = None, None
    if loaded is not None and loaded["cursor"] is not None:
        cursor = loaded["cursor"]
        if "page" in request.args:
            both = "Send either cursor (cursor mode) or page (page mode), not both."
            errors.setdefault("cursor", []).append(both)
            errors.setdefault("page", []).append(both)
        elif cursor and "sort" not in errors:
            try:
                after = cursors.decode(module, loaded["sort"], cursor)
            except cursors.CursorError as error:
                errors["cursor"] = [str(error)]
    if errors or loaded is None:
        raise ApiError(400, "bad_request", INVALID_PARAMETERS_MESSAGE, errors)
    q = loaded.get("q")
    return ListArgs(
        page=loaded["page"],
        per_page=loaded["per_page"],
        sort=loaded["sort"],
        q=q.strip() or None if q is not None else None,
        updated_since=loaded["updated_since"],
        cursor=cursor,
        after=after,
    )
