"""``Schema.dump`` for the API's hot path, from marshmallow's public field API.

``Schema.dump`` walks accessors and defaults for every field of every record. ``compile_dumper``
walks the schema once: one C call reads a record's fields (``operator.attrgetter``, or
``operator.itemgetter`` by position for a list's plain rows, whose attribute access is slow),
the common value types (our UTC timestamps, dates, decimals as strings, enums by value) are
converted directly, and every other field or unusual value goes through the field's public
``serialize``. The schema stays the one definition the API serves and the OpenAPI document
describes; the API schemas use no dump hooks or custom accessors (``tests/schemas/
test_fast_dump.py`` compares this with ``Schema.dump`` on every module). Why it exists:
``bench/README.md``.
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
def compile_dumper(
    schema_class: type[Schema], exclude: frozenset[str] = frozenset(), columns: tuple[str, ...] | None = None
) -> Dumper:
    """Return ``dump(obj) -> dict``, equal to ``schema_class(exclude=...).dump(obj)``.

    ``exclude`` names fields left out (a key's hidden fields, SPEC §16); ``lines.unit_cost``
    leaves ``unit_cost`` out of each nested line. ``columns``: the records are rows whose values
    start with these columns, read by position; None: objects, read by attribute. One dumper is
    compiled per (schema, exclude, columns).
    """
    shown = [(name, field) for name, field in schema_class().dump_fields.items() if name not in exclude]
    keys = [field.data_key or name for name, field in shown]
    # The fields read off the record: passed through as read, or converted (None stays None).
    read: list[str] = []
    converted: list[tuple[int, Callable[[Any], Any], Callable[[Any], Any]]] = []
    # The fields marshmallow dumps itself, at their place among the keys.
    serialized: list[tuple[int, Callable[[Any], Any]]] = []
    for index, (name, field) in enumerate(shown):
        serialize = _serializer(field, name)
        if type(field) in PASS_THROUGH and not getattr(field, "as_string", False):
            read.append(field.attribute or name)
        elif (convert := _conversion(field, _nested_exclude(exclude, name))) is not None:
            read.append(field.attribute or name)
            converted.append((index, convert, serialize))
        else:
            serialized.append((index, serialize))
    read_all = _values_getter(read, columns)

    def dump(obj: Any) -> dict[str, Any]:
        values = list(read_all(obj))
        for index, serialize in serialized:  # in key order: each lands at its index
            values.insert(index, serialize(obj))
        for index, convert, serialize in converted:
            if (value := values[index]) is not None:
                value = convert(value)
                values[index] = serialize(obj) if value is UNHANDLED else value
        return dict(zip(keys, values, strict=True))

    return dump


def _nested_exclude(exclude: frozenset[str], name: str) -> frozenset[str]:
    """The part of ``exclude`` that applies inside the nested field ``name``."""
    prefix = f"{name}."
    return frozenset(path.removeprefix(prefix) for path in exclude if path.startswith(prefix))


def _serializer(field: fields.Field, name: str) -> Callable[[Any], Any]:
    """The field's own dump of a record."""
    return lambda obj: field.serialize(name, obj)


def _values_getter(
    attributes: list[str], columns: tuple[str, ...] | None
) -> Callable[[Any], tuple[Any, ...]]:
    """``obj -> tuple`` of these attributes in one call: by name, or by position among ``columns``."""
    if columns is None:
        getter: Callable[..., Callable[[Any], Any]] = operator.attrgetter
        names: list[Any] = attributes
    else:
        getter, names = operator.itemgetter, [columns.index(attribute) for attribute in attributes]
    if len(names) > 1:
        return getter(*names)
    if names:  # a getter of one name returns the value itself
        get = getter(names[0])
        return lambda obj: (get(obj),)
    return lambda obj: ()


def _conversion(field: fields.Field, exclude: frozenset[str] = frozenset()) -> Callable[[Any], Any] | None:
    """A direct conversion of a value other than None, equal to the field's own for the usual
    values, or None (``exclude``: fields left out of a nested one)."""
    if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
        inner = compile_dumper(type(field.inner.schema), exclude)
        return lambda items: [inner(item) for item in items]
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
