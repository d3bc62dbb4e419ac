"""The query parameters of the panel's lists (API Keys, Audit Log): one parser for both.

A list declares its parameters as the fields of a frozen dataclass deriving from
``ListQuery``, each made with ``param()``. Reading is forgiving: a missing, unknown or hostile
value reads as the field's default, so an old bookmark still opens. Refusing is separate:
``argument_errors`` names every parameter holding a control character (PostgreSQL refuses NUL,
so no query runs with one), a page number not written in ASCII digits, a value outside the
choices of a ``strict`` parameter (a filter that would silently show everything) and an
``instant`` that is no ISO 8601 date or time, and the view answers 422 with the messages.
``query_args`` writes the canonical URL back, defaults left out.

An ``instant`` parameter keeps its text as sent (so the URL writes it back unchanged);
``ListQuery.instant`` reads it with the API's timestamp rules (``UtcDateTime``: no zone is
UTC, the same messages).

Not webargs: it answers bad input with an error where these lists fall back to defaults, and
writes no URLs back; it would add a dependency without removing these lines.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, ClassVar, Self

from marshmallow import ValidationError

from app.schemas.input_fields import UtcDateTime
from app.validation import untrusted

# Highest page a list opens (a larger number reads as this one).
MAX_PAGE = 10_000
_PARAM = "stockgate.list_param"
# An unknown value of a strict parameter is echoed in its message, cut to this many characters.
_ECHO_LENGTH = 40
_INSTANT = UtcDateTime(in_url=True)


@dataclass(frozen=True)
class Param:
    """How one parameter of a list reads in the URL and to the admin."""

    name: str  # the dataclass field
    arg: str  # its name in the URL
    label: str  # its name in an error message
    default: str | int  # an int default makes it a page number, 1 to MAX_PAGE
    choices: Collection[str] | None  # the values it may take; another reads as the default
    strict: bool = False  # a value outside ``choices`` is refused (argument_errors), not ignored
    instant: bool = False  # an ISO 8601 date or date and time (``ListQuery.instant`` reads it)


def param(
    default: str | int,
    label: str,
    *,
    arg: str | None = None,
    choices: Collection[str] | None = None,
    strict: bool = False,
    instant: bool = False,
) -> Any:
    """A ``ListQuery`` field: its default, its label, its URL name (the field's unless ``arg``);
    ``strict``: a value outside ``choices`` is refused; ``instant``: an ISO 8601 time or date."""
    return field(default=default, metadata={_PARAM: (arg, label, choices, strict, instant)})


def _read_instant(raw: str) -> datetime:
    """``raw`` as an aware UTC datetime, or ValueError with the API's message for a bad instant."""
    try:
        return _INSTANT.deserialize(raw)
    except ValidationError as exc:
        raise ValueError(" ".join(exc.messages)) from None  # type: ignore[arg-type]


class ListQuery:
    """Base of a list's parameters (a frozen dataclass whose fields are made with ``param``)."""

    # Fields written to the URL together when any of them differs from its default.
    together: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def params(cls) -> list[Param]:
        """The list's parameters, in the order the URL writes them."""
        specs = []
        for item in fields(cls):  # type: ignore[arg-type]
            arg, label, choices, strict, instant = item.metadata[_PARAM]
            specs.append(Param(item.name, arg or item.name, label, item.default, choices, strict, instant))
        return specs

    @classmethod
    def from_args(cls, args: Any) -> Self:
        """Read the params from a query string; a missing, unknown or hostile value is the default."""
        values: dict[str, Any] = {}
        for spec in cls.params():
            raw = args.get(spec.arg)
            # A value holding a control character is refused (argument_errors), never used.
            if raw is None or untrusted.control_character_error(raw):
                continue
            if isinstance(spec.default, int):
                if untrusted.is_whole_number(raw):
                    values[spec.name] = min(max(int(raw), 1), MAX_PAGE)
            elif spec.instant:
                if raw and _instant_error(raw) is None:
                    values[spec.name] = raw
            elif spec.choices is None or raw in spec.choices:
                values[spec.name] = raw
        return cls(**values)

    def instant(self, name: str) -> datetime | None:
        """The instant parameter ``name`` as an aware UTC datetime; None when it is not given."""
        raw = getattr(self, name)
        return _read_instant(raw) if raw else None

    def query_args(self, **changes: Any) -> dict[str, Any]:
        """URL arguments for these params with ``changes``, leaving defaults out of the URL."""
        params = replace(self, **changes)  # type: ignore[type-var]
        changed = {spec.name for spec in self.params() if getattr(params, spec.name) != spec.default}
        if changed & self.together:
            changed |= self.together
        return {spec.arg: getattr(params, spec.name) for spec in self.params() if spec.name in changed}

    @classmethod
    def argument_errors(cls, args: Any) -> list[str]:
        """One message per query parameter that must be refused; empty when the query is fine."""
        errors: dict[str, str] = {}
        for name in args:
            for value in args.getlist(name):
                if problem := untrusted.control_character_error(value):
                    errors[name] = problem
        for spec in cls.params():
            raw = args.get(spec.arg, "")
            number = isinstance(spec.default, int)
            if not raw or spec.arg in errors:
                continue
            if number and not untrusted.is_whole_number(raw):
                errors[spec.arg] = untrusted.NOT_A_WHOLE_NUMBER
            elif spec.strict and spec.choices is not None and raw not in spec.choices:
                shown = untrusted.visible(raw if len(raw) <= _ECHO_LENGTH else raw[:_ECHO_LENGTH] + "…")
                errors[spec.arg] = f"Unknown value {shown!r}; choose one from the list."
            elif spec.instant and (problem := _instant_error(raw)):
                errors[spec.arg] = problem
        labels = {spec.arg: spec.label for spec in cls.params()}
        unknown = "A parameter of the address"
        return [f"{labels.get(name, unknown)}: {error}" for name, error in errors.items()]


def _instant_error(raw: str) -> str | None:
    try:
        _read_instant(raw)
    except ValueError as exc:
        return str(exc)
    return None
