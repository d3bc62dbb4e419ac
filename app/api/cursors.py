"""Opaque, signed cursors for keyset pagination of the lists (SPEC §14).

A cursor names the last record of a page: its value of the sort field and its id, plus the
module and the sort it was made for. It is JSON signed with itsdangerous
(``URLSafeSerializer`` with the app's ``SECRET_KEY`` and the salt ``CURSOR_SALT``), so a
client can neither forge a position nor reuse a cursor with another list or sort; either is a
400 naming ``cursor``. Values are written exactly: decimals as strings, datetimes as ISO 8601
with microseconds and offset, dates as ISO dates; ``None`` for a NULL sort value.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy.types import TypeDecorator

from app.catalogue import Module

# Its own salt: a cursor can never be replayed as another signed value of the app, nor back.
CURSOR_SALT = "stockgate.api.cursor"
EXTENSION_KEY = "stockgate.api.cursor_serializer"


class CursorError(ValueError):
    """A cursor that is not one of ours, or not for this list and sort; the message says which."""


@dataclass(frozen=True)
class Position:
    """Where a page ends: the last record's sort value (``None`` when NULL) and id."""

    value: Any
    id: int


def _serializer() -> URLSafeSerializer:
    """The app's cursor serializer, built once per app (it derives keys from SECRET_KEY)."""
    serializer = current_app.extensions.get(EXTENSION_KEY)
    if serializer is None:
        serializer = URLSafeSerializer(current_app.config["SECRET_KEY"], salt=CURSOR_SALT)
        current_app.extensions[EXTENSION_KEY] = serializer
    return serializer


def field_of(sort: str) -> str:
    """The column name of a ``sort`` value (``-updated_at`` -> ``updated_at``)."""
    return sort.lstrip("-")


def encode(module: Module, sort: str, record: Any) -> str:
    """The cursor that continues ``module``'s list sorted by ``sort`` after ``record``."""
    value = getattr(record, field_of(sort))
    payload = {"m": module.slug, "s": sort, "v": _dump_value(value), "i": record.id}
    return str(_serializer().dumps(payload))


def decode(module: Module, sort: str, cursor: str) -> Position:
    """The position a cursor names; ``CursorError`` if forged, damaged or made for another list."""
    try:
        payload = _serializer().loads(cursor)
    except BadData:
        raise CursorError(
            "Not a valid cursor: it was changed or truncated. Send the next_cursor of the "
            "previous page as it was, or an empty cursor for the first page."
        ) from None
    if not isinstance(payload, dict) or not {"m", "s", "v", "i"} <= payload.keys():
        raise CursorError("Not a valid cursor; start again with an empty cursor.")
    if payload["m"] != module.slug:
        raise CursorError(f"This cursor belongs to another list ({payload['m']}), not {module.slug}.")
    if payload["s"] != sort:
        raise CursorError(
            f"This cursor was made for sort={payload['s']}; send that sort with it, or start "
            "again with an empty cursor to page by another sort."
        )
    record_id = payload["i"]
    if not isinstance(record_id, int) or isinstance(record_id, bool):
        raise CursorError("Not a valid cursor; start again with an empty cursor.")
    return Position(_load_value(payload["v"], _python_type(module, sort)), record_id)


def _python_type(module: Module, sort: str) -> type:
    """The Python type of the sort column's values (through a TypeDecorator to its impl)."""
    column_type = module.model.__table__.c[field_of(sort)].type
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    return column_type.python_type


def _dump_value(value: Any) -> Any:
    """A sort value as exact JSON: no float, no lost microsecond, no lost time zone."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    raise TypeError(f"cannot put a {type(value).__name__} in a cursor")


def _load_value(raw: Any, python_type: type) -> Any:
    """The sort value back as the column's Python type; ``CursorError`` if it does not parse."""
    if raw is None:
        return None
    try:
        if issubclass(python_type, enum.Enum):
            return python_type(raw)
        if python_type is Decimal:
            if not isinstance(raw, str):
                raise TypeError
            return Decimal(raw)
        if python_type is datetime:
            parsed = datetime.fromisoformat(raw)
            if parsed.tzinfo is None:
                raise ValueError
            return parsed
        if python_type is date:
            return date.fromisoformat(raw)
        if python_type is int:
            if not isinstance(raw, int) or isinstance(raw, bool):
                raise TypeError
            return raw
        if python_type is str and isinstance(raw, str):
            return raw
    except (TypeError, ValueError, InvalidOperation):
        pass
    raise CursorError("Not a valid cursor; start again with an empty cursor.")
