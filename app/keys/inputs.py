"""Marshmallow schemas that validate key input for every caller (panel, CLI, tests).

These schemas own the rules of a key's fields and their messages: the service loads every
input through them, so nothing invalid is saved, and the panel's WTForms key forms run the same
schema on what was submitted to put each message next to its field (``app.panel.forms``).
Names refuse control characters, rate limits take ASCII digits only, and an expiry whose
offset puts it outside years 1-9999 in UTC is an error, not an OverflowError
(``app.schemas.input_fields``).

The lifetime policy (SPEC §15, ``KEY_MAX_LIFETIME_DAYS``) lives here too: ``max_expiry`` is the
latest expiry a key may be given now (the forms offer nothing later, the roll caps the copied
expiry at it), and the schemas refuse a later one or none at all, naming the maximum. Only an
expiry being set is judged: an older key over the policy keeps working, and editing its name
does not force a new expiry (the API Keys list flags it, ``ApiKey.is_over_lifetime``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from flask import current_app
from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates,
    validates_schema,
)
from sqlalchemy import select

from app.catalogue import ABILITY_SET, FIELD_GROUPS
from app.extensions import db
from app.keys import allowed_ips
from app.models.api_keys import (
    DESCRIPTION_MAX_LENGTH,
    NAME_MAX_LENGTH,
    RATE_LIMIT_DEFAULT,
    RATE_LIMIT_MAX,
    RATE_LIMIT_MIN,
)
from app.models.products import Warehouse
from app.models.types import iso_utc, utcnow
from app.schemas.input_fields import Text, UtcDateTime, WholeNumber
from app.validation import untrusted

NAME_REQUIRED = "Name is required."
NAME_TOO_LONG = f"Name must be at most {NAME_MAX_LENGTH} characters."
ABILITIES_REQUIRED = "Choose at least one ability."
# ``.format(names)``: the unknown ability strings, comma-separated.
UNKNOWN_ABILITY = "Unknown ability: {}."
RATE_LIMIT_NOT_WHOLE = "Rate limit must be a whole number."
RATE_LIMIT_OUT_OF_RANGE = f"Rate limit must be between {RATE_LIMIT_MIN} and {RATE_LIMIT_MAX:,} requests/min."
EXPIRY_IN_PAST = "Expires At must be in the future."
DESCRIPTION_TOO_LONG = f"Description must be at most {DESCRIPTION_MAX_LENGTH} characters."
EXPIRY_DATE_REQUIRED = "Choose the date and time the key expires."
# ``.format(choices)``: the offered presets, as words.
EXPIRY_CHOICE_UNKNOWN = "Choose when the key expires: {}."

# Data scope (SPEC §16). The field groups a key may hide, slug -> label: the catalogue's, which
# also says which fields of which module each group covers.
SCOPE_FIELD_GROUPS = FIELD_GROUPS
# Decision: marketplaces are validated against this constant list of Amazon's storefronts, not
# the distinct values of the sales orders table, so a key can be scoped before any order of that
# marketplace exists (an empty or freshly seeded database) and the check costs no query. Spelled
# as the orders store them; input is matched without regard to case and stored in this spelling.
AMAZON_MARKETPLACES: tuple[str, ...] = (
    "Amazon.com",
    "Amazon.ca",
    "Amazon.com.mx",
    "Amazon.com.br",
    "Amazon.co.uk",
    "Amazon.de",
    "Amazon.fr",
    "Amazon.it",
    "Amazon.es",
    "Amazon.nl",
    "Amazon.se",
    "Amazon.pl",
    "Amazon.com.be",
    "Amazon.com.tr",
    "Amazon.ae",
    "Amazon.sa",
    "Amazon.eg",
    "Amazon.in",
    "Amazon.co.jp",
    "Amazon.sg",
    "Amazon.com.au",
)
_MARKETPLACE_SPELLING = {m.lower(): m for m in AMAZON_MARKETPLACES}
# ``.format(values)``: the refused values, comma-separated (each cut to SCOPE_ECHO_LENGTH).
UNKNOWN_WAREHOUSE = "Unknown warehouse code: {}."
UNKNOWN_MARKETPLACE = "Unknown marketplace: {}. Use an Amazon marketplace such as Amazon.com or Amazon.ca."
UNKNOWN_FIELD_GROUP = "Unknown field group: {}. Hide any of: " + ", ".join(SCOPE_FIELD_GROUPS) + "."
# A refused value is echoed, cut to this many characters (it is outside text).
SCOPE_ECHO_LENGTH = 40
# More names than this in one part of a scope is no scope anyone means (and an IN list to bound).
SCOPE_MAX_ENTRIES = 100

# The panel's Expires At choices besides a number of days (SPEC §7).
EXPIRY_ON_DATE = "date"
EXPIRY_NEVER = "never"


@dataclass(frozen=True)
class ExpiryPreset:
    """One choice of the panel's Expires At: a number of days from now, a date and time, or never."""

    value: str  # what the form sends
    label: str
    days: int | None = None


# Every expiry choice the panel knows, in the order shown. A maximum-lifetime policy filters this
# one list (``offered_expiry_presets``) rather than keeping its own.
EXPIRY_PRESETS: tuple[ExpiryPreset, ...] = (
    *(ExpiryPreset(str(days), f"In {days} days", days) for days in (7, 30, 60, 90)),
    ExpiryPreset(EXPIRY_ON_DATE, "On a date and time"),
    ExpiryPreset(EXPIRY_NEVER, "Never"),
)
EXPIRY_PRESET_DEFAULT_DAYS = 90


def offered_expiry_presets(max_lifetime_days: int | None = None) -> tuple[ExpiryPreset, ...]:
    """The presets to offer: all of them, or under a maximum key lifetime neither Never nor a
    longer number of days (a date past the maximum is the service's to refuse)."""
    if max_lifetime_days is None:
        return EXPIRY_PRESETS
    return tuple(
        p
        for p in EXPIRY_PRESETS
        if p.value != EXPIRY_NEVER and (p.days is None or p.days <= max_lifetime_days)
    )


def default_expiry_preset(presets: tuple[ExpiryPreset, ...]) -> str:
    """The preset chosen at first: 90 days, or the longest offered number of days below it."""
    days = [p for p in presets if p.days is not None and p.days <= EXPIRY_PRESET_DEFAULT_DAYS]
    return max(days, key=lambda p: p.days or 0).value if days else EXPIRY_ON_DATE


def expiry_from_preset(
    value: str, on_date: datetime | None, presets: tuple[ExpiryPreset, ...], now: datetime
) -> datetime | None:
    """The expiry a chosen preset means: ``now`` plus its days, the date given, or None (never).

    ValidationError, keyed by the form's field (``expiry`` or ``expires_at``), for a preset not
    offered or a date missing; whether the date is in the future is ``KeyEditSchema``'s rule.
    """
    preset = next((p for p in presets if p.value == value), None)
    if preset is None:
        labels = [p.label.lower() for p in presets]
        words = " or ".join([", ".join(labels[:-1]), labels[-1]] if len(labels) > 1 else labels)
        raise ValidationError(EXPIRY_CHOICE_UNKNOWN.format(words), field_name="expiry")
    if preset.days is not None:
        return now + timedelta(days=preset.days)
    if preset.value == EXPIRY_NEVER:
        return None
    if on_date is None:
        raise ValidationError(EXPIRY_DATE_REQUIRED, field_name="expires_at")
    return on_date


def max_lifetime_days() -> int | None:
    """``KEY_MAX_LIFETIME_DAYS``: the most days a new or rolled key may live, or None (no policy)."""
    return current_app.config.get("KEY_MAX_LIFETIME_DAYS")


def max_expiry(now: datetime) -> datetime | None:
    """The latest expiry a key may be given at ``now`` under the lifetime policy; None: no limit
    (and "Never" is allowed)."""
    days = max_lifetime_days()
    return None if days is None else now + timedelta(days=days)


def lifetime_error(expires_at: datetime | None, now: datetime) -> str | None:
    """Why ``expires_at`` breaks the lifetime policy at ``now`` (None: no expiry), or None when
    it does not; the message names the maximum and the latest allowed time."""
    latest = max_expiry(now)
    if latest is None or (expires_at is not None and expires_at <= latest):
        return None
    policy = (
        f"keys must expire within {max_lifetime_days()} days (KEY_MAX_LIFETIME_DAYS), by {iso_utc(latest)}"
    )
    if expires_at is None:
        return f"Expires At is required: {policy}."
    return f"Expires At is too late: {policy}."


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


def _named(values: list[str]) -> str:
    """Refused values for a message: sorted, each cut to ``SCOPE_ECHO_LENGTH`` characters."""
    cut = SCOPE_ECHO_LENGTH
    return ", ".join(v if len(v) <= cut else v[:cut] + "…" for v in sorted(values))


class ScopeList(fields.List):
    """One part of a key's data scope: a list of names, loaded without repeats and sorted
    (empty: no narrowing). Which names exist is the schema's check (``known_*``)."""

    def __init__(self, label: str, what: str, **kwargs: Any) -> None:
        too_many = f"At most {SCOPE_MAX_ENTRIES} {what}."
        super().__init__(
            Text(),
            validate=validate.Length(max=SCOPE_MAX_ENTRIES, error=too_many),
            error_messages={"invalid": f"{label} must be a list of {what}."},
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        entries = super()._deserialize(value, attr, data, **kwargs)
        return sorted({entry.strip() for entry in entries if entry.strip()})


def warehouse_choices() -> list[tuple[str, str]]:
    """Every warehouse as (code, name), by code: what a key's scope may name."""
    return [
        (code, name)
        for code, name in db.session.execute(select(Warehouse.code, Warehouse.name).order_by(Warehouse.code))
    ]


def unknown_warehouses(codes: list[str]) -> list[str]:
    """The codes in ``codes`` that no warehouse has (``warehouses.code``, matched exactly)."""
    if not codes:
        return []
    known = set(db.session.scalars(select(Warehouse.code).where(Warehouse.code.in_(codes))))
    return [code for code in codes if code not in known]


class KeyEditSchema(Schema):
    """What can change on an existing key: name, abilities, rate limit, expiry, allowed IPs,
    description, data scope (warehouses, marketplaces, hidden field groups)."""

    # A new key is judged by the lifetime policy even when no expiry is given (it would be Never).
    new_key: ClassVar[bool] = False

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

    warehouses = ScopeList("Warehouses", "warehouses")
    marketplaces = ScopeList("Marketplaces", "marketplaces")
    hidden_fields = ScopeList("Hide fields", "field groups")

    @pre_load
    def strip(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """Trim surrounding whitespace from the name and the description."""
        return _strip_name(data)

    @post_load
    def marketplace_spelling(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """Store each marketplace as the orders spell it (``amazon.ca`` -> ``Amazon.ca``)."""
        if "marketplaces" in data:
            data["marketplaces"] = sorted({_MARKETPLACE_SPELLING[m.lower()] for m in data["marketplaces"]})
        return data

    @validates("warehouses")
    def known_warehouses(self, value: list[str], **_: Any) -> None:
        """Every code must be a warehouse's code, or the error names each unknown one."""
        unknown = unknown_warehouses(value)
        if unknown:
            raise ValidationError(UNKNOWN_WAREHOUSE.format(_named(unknown)))

    @validates("marketplaces")
    def known_marketplaces(self, value: list[str], **_: Any) -> None:
        """Every marketplace must be an Amazon marketplace (``AMAZON_MARKETPLACES``)."""
        unknown = [m for m in value if m.lower() not in _MARKETPLACE_SPELLING]
        if unknown:
            raise ValidationError(UNKNOWN_MARKETPLACE.format(_named(unknown)))

    @validates("hidden_fields")
    def known_field_groups(self, value: list[str], **_: Any) -> None:
        """Every group must be one the catalogue names (``SCOPE_FIELD_GROUPS``)."""
        unknown = [g for g in value if g not in SCOPE_FIELD_GROUPS]
        if unknown:
            raise ValidationError(UNKNOWN_FIELD_GROUP.format(_named(unknown)))

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

    @validates_schema
    def within_lifetime(self, data: dict[str, Any], **_: Any) -> None:
        """An expiry being set (and a new key's, given or not) must fall within the lifetime policy."""
        if "expires_at" in data or self.new_key:
            error = lifetime_error(data.get("expires_at"), utcnow())
            if error:
                raise ValidationError(error, field_name="expires_at")


class KeyCreateSchema(KeyEditSchema):
    """A new key: name and abilities required, rate limit defaults to 60/min."""

    new_key = True

    name = _name_field(required=True)
    abilities = _abilities_field(required=True)

    @post_load
    def defaults(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """Fill the default rate limit, expiry, allowed IPs (any address), description and scope
        (none: every record, every field)."""
        data.setdefault("rate_limit", RATE_LIMIT_DEFAULT)
        data.setdefault("expires_at", None)
        data.setdefault("allowed_ips", [])
        data.setdefault("description", None)
        for name in ("warehouses", "marketplaces", "hidden_fields"):
            data.setdefault(name, [])
        return data
