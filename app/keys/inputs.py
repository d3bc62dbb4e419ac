"""Marshmallow schemas that validate key input for every caller (panel, CLI, tests).

The panel's WTForms form gives inline errors first; these schemas are the service's own
guard, so the CLI and any future caller get the same rules and nothing invalid is saved.
Names refuse control characters, rate limits take ASCII digits only, and an expiry whose
offset puts it outside years 1-9999 in UTC is an error, not an OverflowError
(``app.schemas.input_fields``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, pre_load, validate, validates

from app.catalogue import ABILITY_SET
from app.models.api_keys import NAME_MAX_LENGTH, RATE_LIMIT_DEFAULT, RATE_LIMIT_MAX, RATE_LIMIT_MIN
from app.models.types import utcnow
from app.schemas.input_fields import Text, UtcDateTime, WholeNumber


def _strip_name(data: dict[str, Any]) -> dict[str, Any]:
    if isinstance(data.get("name"), str):
        data = {**data, "name": data["name"].strip()}
    return data


class KeyEditSchema(Schema):
    """What can change on an existing key: name, abilities, rate limit, expiry."""

    name = Text(
        validate=validate.Length(
            min=1, max=NAME_MAX_LENGTH, error=f"Name must be 1 to {NAME_MAX_LENGTH} characters."
        )
    )
    abilities = fields.List(
        fields.String(),
        validate=validate.Length(min=1, error="Choose at least one ability."),
    )
    rate_limit = WholeNumber(
        validate=validate.Range(
            min=RATE_LIMIT_MIN,
            max=RATE_LIMIT_MAX,
            error=f"Rate limit must be between {RATE_LIMIT_MIN} and {RATE_LIMIT_MAX:,} requests/min.",
        ),
        error_messages={"invalid": "Rate limit must be a whole number."},
    )
    expires_at = UtcDateTime(
        allow_none=True,
        error_messages={
            "invalid": "Expires At must be an ISO 8601 date and time.",
            "out_of_range": "Expires At is out of range: it must fall between years 1 and 9999 in UTC.",
        },
    )

    @pre_load
    def strip(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """Trim surrounding whitespace from the name."""
        return _strip_name(data)

    @validates("abilities")
    def known_abilities(self, value: list[str], **_: Any) -> None:
        """Refuse unknown and repeated ability strings, naming them."""
        unknown = sorted({a for a in value if a not in ABILITY_SET})
        if unknown:
            raise ValidationError(f"Unknown ability: {', '.join(unknown)}.")
        repeated = sorted({a for a in value if value.count(a) > 1})
        if repeated:
            raise ValidationError(f"Ability listed more than once: {', '.join(repeated)}.")

    @validates("expires_at")
    def in_future(self, value: datetime | None, **_: Any) -> None:
        """An expiry, when given, must be in the future."""
        if value is not None and value <= utcnow():
            raise ValidationError("Expires At must be in the future.")


class KeyCreateSchema(KeyEditSchema):
    """A new key: name and abilities required, rate limit defaults to 60/min."""

    name = Text(
        required=True,
        validate=validate.Length(
            min=1, max=NAME_MAX_LENGTH, error=f"Name must be 1 to {NAME_MAX_LENGTH} characters."
        ),
        error_messages={"required": "Name is required."},
    )
    abilities = fields.List(
        fields.String(),
        required=True,
        validate=validate.Length(min=1, error="Choose at least one ability."),
        error_messages={"required": "Choose at least one ability."},
    )

    @post_load
    def defaults(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """Fill the default rate limit and expiry."""
        data.setdefault("rate_limit", RATE_LIMIT_DEFAULT)
        data.setdefault("expires_at", None)
        return data
