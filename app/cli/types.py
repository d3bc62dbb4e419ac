"""Click parameter types for every CLI option and argument, applying ``app.validation.untrusted``'s rules.

A refused value is click's usage error, which ``app.cli.OneLineCommand`` prints as one line
naming the option, e.g. ``Error: flask keys create: Invalid value for '--name': Contains a
control character (U+0000); remove it.``
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
from marshmallow import ValidationError

from app.schemas.input_fields import UtcDateTime
from app.validation import untrusted


class SafeText(click.ParamType):
    """Text without control characters (a name, an email, a prefix, a search, an ISO 8601 time)."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        """Return ``value`` unchanged, or fail naming the control character it holds."""
        text = str(value)
        error = untrusted.control_character_error(text)
        if error:
            self.fail(error, param, ctx)
        return text


SAFE_TEXT = SafeText()


class WholeNumber(click.ParamType):
    """An integer written in ASCII digits (``1_0``, `` 5`` and non-ASCII digits are refused)."""

    name = "integer"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        """Return ``value`` as an int, or fail saying it is not a whole number."""
        if isinstance(value, int) and not isinstance(value, bool):
            return value  # a default given in code
        text = SAFE_TEXT.convert(value, param, ctx)
        try:
            return untrusted.parse_whole_number(text)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


WHOLE_NUMBER = WholeNumber()


class Instant(click.ParamType):
    """An ISO 8601 date or date and time (no zone: UTC), read as the API reads one
    (``UtcDateTime``): an aware UTC datetime, or the same message with an example."""

    name = "iso8601"
    _field = UtcDateTime()

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        """Return ``value`` as an aware UTC datetime, or fail with the API's message for a bad instant."""
        if isinstance(value, datetime):
            return value
        text = SAFE_TEXT.convert(value, param, ctx)
        try:
            return self._field.deserialize(text)
        except ValidationError as exc:
            self.fail(" ".join(exc.messages), param, ctx)  # type: ignore[arg-type]


INSTANT = Instant()
