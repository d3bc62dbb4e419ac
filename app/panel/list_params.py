"""The query parameters of the panel's lists (API Keys, Audit Log): one parser for both.

A list declares its parameters as the fields of a frozen dataclass deriving from
``ListQuery``, each made with ``param()``. Reading is forgiving: a missing, unknown or hostile
value reads as the field's default, so an old bookmark still opens. Refusing is separate:
``argument_errors`` names every parameter holding a control character (PostgreSQL refuses NUL,
so no query runs with one) and a page number not written in ASCII digits, and the view answers
422 with the messages. ``query_args`` writes the canonical URL back, defaults left out.

Not webargs: it answers bad input with an error where these lists fall back to defaults, and
writes no URLs back; it would add a dependency without removing these lines.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Self

from app import untrusted

# Highest page a list opens (a larger number reads as this one).
MAX_PAGE = 10_000
_PARAM = "stockgate.list_param"


@dataclass(frozen=True)
class Param:
    """How one parameter of a list reads in the URL and to the admin."""

    name: str  # the dataclass field
    arg: str  # its name in the URL
    label: str  # its name in an error message
    default: str | int  # an int default makes it a page number, 1 to MAX_PAGE
    choices: Collection[str] | None  # the values it may take; another reads as the default


def param(
    default: str | int, label: str, *, arg: str | None = None, choices: Collection[str] | None = None
) -> Any:
    """A ``ListQuery`` field: its default, its label, its URL name (the field's unless ``arg``)."""
    return field(default=default, metadata={_PARAM: (arg, label, choices)})


class ListQuery:
    """Base of a list's parameters (a frozen dataclass whose fields are made with ``param``)."""

    # Fields written to the URL together when any of them differs from its default.
    together: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def params(cls) -> list[Param]:
        """The list's parameters, in the order the URL writes them."""
        specs = []
        for item in fields(cls):  # type: ignore[arg-type]
            arg, label, choices = item.metadata[_PARAM]
            specs.append(Param(item.name, arg or item.name, label, item.default, choices))
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
            elif spec.choices is None or raw in spec.choices:
                values[spec.name] = raw
        return cls(**values)

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
            if number and raw and spec.arg not in errors and not untrusted.is_whole_number(raw):
                errors[spec.arg] = untrusted.NOT_A_WHOLE_NUMBER
        labels = {spec.arg: spec.label for spec in cls.params()}
        unknown = "A parameter of the address"
        return [f"{labels.get(name, unknown)}: {error}" for name, error in errors.items()]
