"""Marshmallow fields for input that apply ``app.validation.untrusted``'s rules (API query, key service).

Subclasses of marshmallow's own fields, so apispec documents them as their parents
(integer, string, date-time) and error messages come through ``error_messages`` as usual.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import fields

from app.validation import untrusted


class Text(fields.String):
    """A string without control characters (TAB, LF and CR allowed when ``multiline``)."""

    default_error_messages = {"control_character": "{message}"}

    def __init__(self, *args: Any, multiline: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.multiline = multiline

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        error = untrusted.control_character_error(text, multiline=self.multiline)
        if error:
            raise self.make_error("control_character", message=error)
        return text


class WholeNumber(fields.Integer):
    """An integer; a string must be ASCII digits (non-ASCII digits, ``"1_0"``, ``" 5"`` are refused)."""

    default_error_messages = {"invalid": untrusted.NOT_A_WHOLE_NUMBER}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str) and not untrusted.is_whole_number(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class UtcDateTime(fields.DateTime):
    """ISO 8601 date and time; without a zone it is taken as UTC; loaded as aware UTC.

    An offset that pushes the instant outside years 1-9999 in UTC is a validation error
    (``out_of_range``), not an OverflowError later in a query or a comparison. A value that is
    no date and time gets ``untrusted.NOT_AN_INSTANT`` (an example); with ``in_url`` (a query
    parameter) ``NOT_AN_INSTANT_IN_URL``, which also says to send a ``+`` offset as ``%2B``.
    """

    default_error_messages = {
        "invalid": untrusted.NOT_AN_INSTANT,
        "out_of_range": untrusted.OUT_OF_RANGE_INSTANT,
    }

    def __init__(self, *args: Any, in_url: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("format", "iso")
        if in_url:
            messages = kwargs.get("error_messages", {})
            kwargs["error_messages"] = {"invalid": untrusted.NOT_AN_INSTANT_IN_URL, **messages}
        super().__init__(*args, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        parsed = value if isinstance(value, datetime) else super()._deserialize(value, attr, data, **kwargs)
        try:
            return untrusted.to_utc(parsed)
        except ValueError:
            raise self.make_error("out_of_range") from None
