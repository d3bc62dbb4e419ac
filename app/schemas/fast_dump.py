"""``Schema.dump`` for the API's hot path, from marshmallow's public field API.

``Schema.dump`` walks accessors and defaults for every field of every record. ``compile_dumper``
walks the schema once: plain fields are read straight off the record, the common value types
(our UTC timestamps, dates, decimals as strings, enums by value) are converted directly, and
every other field or unusual value goes through the field's public ``serialize``. The schema
stays the one definition the API serves and the OpenAPI document describes; the API schemas
use no dump hooks or custom accessors (``tests/schemas/test_fast_dump.py`` compares this with
``Schema.dump`` on every module). Why it exists: ``bench/README.md``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import operator
from collections.abc import Callable
from functools import cache
from typing import Any

from marshmallow import Schema, fields

from app.models.types import iso_utc
from app.schemas.fields import EnumValue, UTCTimestamp

Dumper = Callable[[Any], dict[str, Any]]
# Returned by a conversion that does not handle a value: the field's own serialize does.
UNHANDLED = object()
# Field types whose dump of a str/int/bool is that value unchanged.
PASS_THROUGH = (fields.String, fields.Integer, fields.Boolean)


@cache
def compile_dumper(schema_class: type[Schema], exclude: frozenset[str] = frozenset()) -> Dumper:
    """Return ``dump(obj) -> dict``, equal to ``schema_class(exclude=...).dump(obj)``.

    ``exclude`` names fields left out (a key's hidden fields, SPEC §16); ``lines.unit_cost``
    leaves ``unit_cost`` out of each nested line. One dumper is compiled per (schema, exclude).
    """
    schema = schema_class()
    plan = [
        (field.data_key or name, _reader(field, name, _nested_exclude(exclude, name)))
        for name, field in schema.dump_fields.items()
        if name not in exclude
    ]

    def dump(obj: Any) -> dict[str, Any]:
        return {key: read(obj) for key, read in plan}

    return dump


def _nested_exclude(exclude: frozenset[str], name: str) -> frozenset[str]:
    """The part of ``exclude`` that applies inside the nested field ``name``."""
    prefix = f"{name}."
    return frozenset(path.removeprefix(prefix) for path in exclude if path.startswith(prefix))


def _reader(field: fields.Field, name: str, exclude: frozenset[str] = frozenset()) -> Callable[[Any], Any]:
    """How to read and dump one field of a record (``exclude``: fields left out of a nested one)."""
    attribute = field.attribute or name
    get = operator.attrgetter(attribute)
    if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
        inner = compile_dumper(type(field.inner.schema), exclude)
        return lambda obj: None if (value := get(obj)) is None else [inner(item) for item in value]
    if type(field) in PASS_THROUGH and not getattr(field, "as_string", False):
        return get
    convert = _conversion(field)
    if convert is None:
        return lambda obj: field.serialize(name, obj)

    def read(obj: Any) -> Any:
        value = get(obj)
        if value is None:
            return None
        converted = convert(value)
        return field.serialize(name, obj) if converted is UNHANDLED else converted

    return read


def _conversion(field: fields.Field) -> Callable[[Any], Any] | None:
    """A direct conversion equal to the field's own for the usual values, or None."""
    if type(field) is UTCTimestamp:
        return lambda v: iso_utc(v) if type(v) is dt.datetime else UNHANDLED
    if type(field) is fields.Date and field.format in (None, "iso"):
        return lambda v: v.isoformat() if type(v) is dt.date else UNHANDLED
    if type(field) is fields.Decimal and field.as_string and field.places is not None and not field.allow_nan:
        places, rounding = field.places, field.rounding
        return lambda v: (
            format(v.quantize(places, rounding=rounding), "f")
            if type(v) is decimal.Decimal and v.is_finite()
            else UNHANDLED
        )
    if type(field) is EnumValue and field.by_value is True:
        enum_class = field.enum
        return lambda v: v.value if type(v) is enum_class else UNHANDLED
    return None
