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
from app.keys import allowed_ips
from app.models.api_keys import (
    DESCRIPTION_MAX_LENGTH,
    NAME_MAX_LENGTH,
    RATE_LIMIT_DEFAULT,
    RATE_LIMIT_MAX,
    RATE_LIMIT_MIN,
)
from app.models.types import utcnow
from app.schemas.input_fields import Text, UtcDateTime, WholeNumber


def _strip_name(data: dict[str, Any]) -> dict[str, Any]:
    for name in ("name", "description"):
        if isinstance(data.get(name), str):
            data = {**data, name: data[name].strip()}
    return data


class AllowedIps(fields.List):
    """Allowed IPs: a list of addresses or CIDR ranges, loaded as canonical CIDR strings
    (``app.keys.allowed_ips``); an invalid entry is an error naming it."""

    default_error_messages = {"bad_entry": "{message}"}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(Text(), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        entries = super()._deserialize(value, attr, data, **kwargs)
        try:
            return allowed_ips.canonical(entries)
        except ValueError as exc:
            raise self.make_error("bad_entry", message=str(exc)) from None


class KeyEditSchema(Schema):
    """What can change on an existing key: name, abilities, rate limit, expiry, allowed IPs,
    description."""

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
    allowed_ips = AllowedIps(error_messages={"invalid": "Allowed IPs must be a list of addresses."})
    # Empty text means no description (stored as None), so "clear it" is just an empty field.
    description = Text(
        multiline=True,
        allow_none=True,
        validate=validate.Length(
            max=DESCRIPTION_MAX_LENGTH,
            error=f"Description must be at most {DESCRIPTION_MAX_LENGTH} characters.",
        ),
    )

    @pre_load
    def strip(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """Trim surrounding whitespace from the name and the description."""
        return _strip_name(data)

    @post_load
    def blank_description(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """A blank description is no description."""
        if "description" in data and not data["description"]:
            data["description"] = None
        return data

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
        """Fill the default rate limit, expiry, allowed IPs (any address) and description."""
        data.setdefault("rate_limit", RATE_LIMIT_DEFAULT)
        data.setdefault("expires_at", None)
        data.setdefault("allowed_ips", [])
        data.setdefault("description", None)
        return data
