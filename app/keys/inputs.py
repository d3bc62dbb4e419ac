"""Marshmallow schemas that validate key input for every caller (panel, CLI, tests).

These schemas own the rules of a key's fields and their messages: the service loads every
input through them, so nothing invalid is saved, and the panel's WTForms key forms run the same
schema on what was submitted to put each message next to its field (``app.panel.forms``).
Names refuse control characters, rate limits take ASCII digits only, and an expiry whose
offset puts it outside years 1-9999 in UTC is an error, not an OverflowError
(``app.schemas.input_fields``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, pre_load, validate, validates

from app import untrusted
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

NAME_REQUIRED = "Name is required."
NAME_TOO_LONG = f"Name must be at most {NAME_MAX_LENGTH} characters."
ABILITIES_REQUIRED = "Choose at least one ability."
# ``.format(names)``: the unknown ability strings, comma-separated.
UNKNOWN_ABILITY = "Unknown ability: {}."
RATE_LIMIT_NOT_WHOLE = "Rate limit must be a whole number."
RATE_LIMIT_OUT_OF_RANGE = f"Rate limit must be between {RATE_LIMIT_MIN} and {RATE_LIMIT_MAX:,} requests/min."
EXPIRY_IN_PAST = "Expires At must be in the future."
DESCRIPTION_TOO_LONG = f"Description must be at most {DESCRIPTION_MAX_LENGTH} characters."


def _name_field(**kwargs: Any) -> Text:
    """A key's name: blank (after trimming) counts as missing."""
    return Text(
        validate=[
            validate.Length(min=1, error=NAME_REQUIRED),
            validate.Length(max=NAME_MAX_LENGTH, error=NAME_TOO_LONG),
        ],
        error_messages={"required": NAME_REQUIRED},
        **kwargs,
    )


def _abilities_field(**kwargs: Any) -> fields.List:
    """A key's abilities: at least one (``known_abilities`` checks each)."""
    return fields.List(
        fields.String(),
        validate=validate.Length(min=1, error=ABILITIES_REQUIRED),
        error_messages={"required": ABILITIES_REQUIRED},
        **kwargs,
    )


def _strip_name(data: dict[str, Any]) -> dict[str, Any]:
    for name in ("name", "description"):
        if isinstance(data.get(name), str):
            data = {**data, name: data[name].strip()}
    return data


class AllowedIps(fields.List):
    """Allowed IPs: a list of addresses or CIDR ranges, loaded as canonical CIDR strings
    (``app.keys.allowed_ips``); invalid entries are one error naming each of them."""

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

    name = _name_field()
    abilities = _abilities_field()
    rate_limit = WholeNumber(
        validate=validate.Range(min=RATE_LIMIT_MIN, max=RATE_LIMIT_MAX, error=RATE_LIMIT_OUT_OF_RANGE),
        error_messages={"invalid": RATE_LIMIT_NOT_WHOLE},
    )
    expires_at = UtcDateTime(
        allow_none=True,
        error_messages={
            "invalid": f"Expires At must be an ISO 8601 date and time, e.g. {untrusted.EXAMPLE_INSTANT}.",
            "out_of_range": "Expires At is out of range: it must fall between years 1 and 9999 in UTC.",
        },
    )
    allowed_ips = AllowedIps(error_messages={"invalid": "Allowed IPs must be a list of addresses."})
    # Empty text means no description (stored as None), so "clear it" is just an empty field.
    description = Text(
        multiline=True,
        allow_none=True,
        validate=validate.Length(max=DESCRIPTION_MAX_LENGTH, error=DESCRIPTION_TOO_LONG),
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
            raise ValidationError(UNKNOWN_ABILITY.format(", ".join(unknown)))
        repeated = sorted({a for a in value if value.count(a) > 1})
        if repeated:
            raise ValidationError(f"Ability listed more than once: {', '.join(repeated)}.")

    @validates("expires_at")
    def in_future(self, value: datetime | None, **_: Any) -> None:
        """An expiry, when given, must be in the future."""
        if value is not None and value <= utcnow():
            raise ValidationError(EXPIRY_IN_PAST)


class KeyCreateSchema(KeyEditSchema):
    """A new key: name and abilities required, rate limit defaults to 60/min."""

    name = _name_field(required=True)
    abilities = _abilities_field(required=True)

    @post_load
    def defaults(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """Fill the default rate limit, expiry, allowed IPs (any address) and description."""
        data.setdefault("rate_limit", RATE_LIMIT_DEFAULT)
        data.setdefault("expires_at", None)
        data.setdefault("allowed_ips", [])
        data.setdefault("description", None)
        return data
