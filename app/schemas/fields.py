"""Reusable output fields: UTC timestamps ending in ``Z``, money as decimal strings, documented fields.

Each helper sets ``metadata={"description", "example"}`` (marshmallow 4 refuses ``description=``),
marks non-nullable fields ``required`` so the OpenAPI document says they are always present, and
lets nullable ones be ``None``.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from marshmallow import fields

from app.models.types import iso_utc


class UTCTimestamp(fields.DateTime):
    """A datetime dumped as UTC ISO 8601 ending in ``Z``, e.g. ``2026-11-27T17:30:00Z``."""

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return iso_utc(value)


class EnumValue(fields.Enum):
    """An enum dumped by value; a plain string that is already a value passes through."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and not isinstance(value, enum.Enum):
            # Bulk-loaded or freshly built objects may hold the raw value; dump it only if valid.
            value = self.enum(value)
        return super()._serialize(value, attr, obj, **kwargs)


def _meta(description: str, example: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "example": example, **(extra or {})}


def _presence(nullable: bool) -> dict[str, Any]:
    return {"allow_none": True} if nullable else {"required": True}


def text(description: str, example: str | None, *, nullable: bool = False, **extra: Any) -> fields.String:
    """A string field; ``extra`` goes into the OpenAPI property (e.g. ``pattern``, ``maxLength``)."""
    return fields.String(metadata=_meta(description, example, extra), **_presence(nullable))


def integer(description: str, example: int | None, *, nullable: bool = False) -> fields.Integer:
    """An integer field."""
    return fields.Integer(metadata=_meta(description, example), **_presence(nullable))


def boolean(description: str, example: bool) -> fields.Boolean:
    """A boolean field."""
    return fields.Boolean(metadata=_meta(description, example), required=True)


def reference(description: str, example: int, *, nullable: bool = False) -> fields.Integer:
    """The id of a record of another module (references are ids, never nested objects)."""
    return integer(description, example, nullable=nullable)


def decimal(description: str, example: str, *, places: int = 2, nullable: bool = False) -> fields.Decimal:
    """An exact decimal dumped as a string with ``places`` decimals, e.g. ``"12.50"``."""
    return fields.Decimal(
        places=places,
        as_string=True,
        # Documented as a string: JSON numbers would lose exactness in many clients.
        metadata=_meta(description, example, {"type": "string", "format": "decimal"}),
        **_presence(nullable),
    )


def money(description: str, example: str, *, of: str = "record") -> fields.Decimal:
    """Money as a decimal string with two places, in the ``currency`` of the record (or of ``of``)."""
    return decimal(f"{description} In the {of}'s `currency`.", example)


def currency() -> fields.String:
    """ISO 4217 currency code of the record's amounts."""
    return text("ISO 4217 currency code of the amounts.", "USD", pattern="^[A-Z]{3}$")


def country(description: str = "ISO 3166-1 alpha-2 country code.", example: str = "US") -> fields.String:
    """ISO 3166-1 alpha-2 country code."""
    return text(description, example, pattern="^[A-Z]{2}$")


def day(description: str, example: str, *, nullable: bool = False) -> fields.Date:
    """A calendar date, ISO 8601 ``YYYY-MM-DD``."""
    return fields.Date(metadata=_meta(description, example), **_presence(nullable))


def timestamp(description: str, example: str, *, nullable: bool = False) -> UTCTimestamp:
    """A UTC timestamp, ISO 8601 with ``Z``."""
    return UTCTimestamp(metadata=_meta(description, example), **_presence(nullable))


def choice(
    enum_class: type[enum.Enum], description: str, example: str, *, nullable: bool = False
) -> EnumValue:
    """One of an enum's values (dumped by value; the OpenAPI document lists them)."""
    return EnumValue(
        enum_class,
        by_value=True,
        metadata=_meta(description, example, {"type": "string"}),
        **_presence(nullable),
    )
