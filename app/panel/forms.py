"""WTForms forms of the panel: sign-in, create key, edit key.

The key forms hold no rule of a key's fields: they parse what was submitted and run the key
service's own marshmallow schema on it (``app.keys.inputs``, which owns the rules and their
messages), putting each message next to its field. The service loads the same schema again.

Every form derives from ``PanelForm``, which refuses a control character in any submitted
field before the field's own validators run (``app.validation.untrusted``); numbers and dates take
ASCII digits only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from flask import current_app
from flask_wtf import FlaskForm
from marshmallow import Schema
from marshmallow import ValidationError as RuleError
from wtforms import (
    DateTimeLocalField,
    EmailField,
    Field,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Optional, StopValidation, ValidationError

from app.api.scope import UNSCOPED, Scope
from app.catalogue import ABILITY_SET, ALL_ABILITIES
from app.keys import allowed_ips
from app.keys.inputs import (
    AMAZON_MARKETPLACES,
    EXPIRY_NEVER,
    EXPIRY_ON_DATE,
    NAME_REQUIRED,
    SCOPE_FIELD_GROUPS,
    UNKNOWN_ABILITY,
    ExpiryPreset,
    KeyCreateSchema,
    KeyEditSchema,
    default_expiry_preset,
    expiry_from_preset,
    max_expiry,
    max_lifetime_days,
    offered_expiry_presets,
    warehouse_choices,
)
from app.models.api_keys import (
    DESCRIPTION_MAX_LENGTH,
    RATE_LIMIT_DEFAULT,
    RATE_LIMIT_MAX,
    RATE_LIMIT_MIN,
)
from app.models.types import utcnow
from app.models.users import User
from app.panel.access_preview import scope_of
from app.validation import untrusted
from app.validation.errors import flatten_errors

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def control_character_error(field: Field) -> str | None:
    """The message for a control character in what was submitted for ``field``, or None.

    TAB, LF and CR are allowed in multi-line fields (textareas), nowhere else.
    """
    multiline = isinstance(field, TextAreaField)
    for value in field.raw_data or ():
        if isinstance(value, str) and (
            error := untrusted.control_character_error(value, multiline=multiline)
        ):
            return error
    return None


class PanelForm(FlaskForm):
    """Base of every panel form: a control character in any field is an error next to it."""

    # Fields whose value is checked by the view instead (listed per form, with the reason).
    unchecked_fields: ClassVar[frozenset[str]] = frozenset()
    # The field that takes the focus when the form is shown without errors (None: no field).
    first_field: ClassVar[str | None] = None
    # The fields in the order the page shows them, where it differs from the declared order.
    shown_order: ClassVar[tuple[str, ...]] = ()

    def autofocus_field(self) -> str | None:
        """The field the template marks ``autofocus`` (htmx focuses it once swapped in): the
        first field on the page with an error, else ``first_field``."""
        fields = [self[name] for name in self.shown_order] or list(self)
        invalid = (f.name for f in fields if f.errors and not isinstance(f, HiddenField))
        return next(invalid, self.first_field)

    def validate(self, extra_validators: Any = None) -> bool:
        """Refuse control characters first; only clean input reaches the fields' validators."""
        hostile = [
            (field, error)
            for field in self
            if field.name not in self.unchecked_fields and (error := control_character_error(field))
        ]
        # Validators may query the database; PostgreSQL refuses NUL, so they never see it.
        for field, error in hostile:
            field.errors = [error]
            if isinstance(field, HiddenField):
                # A hidden field shows no error of its own: say it on the form.
                self.form_errors.append(f"This form was sent with a bad value: {error}")
        return not hostile and super().validate(extra_validators)


class WholeNumberField(IntegerField):
    """An integer field in ASCII digits; text that is not one (``1_0``, `` 5``, ...) is None,
    and the key service's schema, given the text as sent, says what is wrong with it."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Parse the number; None when it is not one."""
        try:
            self.data = untrusted.parse_whole_number(valuelist[0]) if valuelist and valuelist[0] else None
        except ValueError:
            self.data = None


class AsciiDateTimeLocalField(DateTimeLocalField):
    """A ``datetime-local`` field in ASCII digits (``strptime`` also reads fullwidth digits)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Parse the date and time, refusing non-ASCII text before ``strptime`` sees it."""
        if valuelist and valuelist[0] and not valuelist[0].isascii():
            self.data = None
            raise ValueError(self.gettext("Not a valid datetime value."))
        super().process_formdata(valuelist)


class AllowedIpsField(TextAreaField):
    """A textarea of addresses or CIDR ranges, one per line; its data is the list of entries."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Split the text into entries (blank lines dropped); the rules check them later."""
        self.data = allowed_ips.split_entries(valuelist[0]) if valuelist and valuelist[0] else []

    def _value(self) -> str:
        return "\n".join(self.data or [])


def as_utc(value: datetime | None) -> datetime | None:
    """Read a ``datetime-local`` value as UTC (the label says times are UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_local_input(value: datetime | None) -> datetime | None:
    """The naive UTC datetime a ``datetime-local`` input shows for a stored expiry."""
    return value.astimezone(UTC).replace(tzinfo=None, second=0, microsecond=0) if value else None


class LoginForm(PanelForm):
    """Email and password of an admin."""

    # ``next`` comes from the link that led here, not from the admin: ``auth.safe_next``
    # ignores a hostile one (control characters included), so a crafted link cannot make
    # the sign-in itself fail.
    unchecked_fields = frozenset({"next"})

    email = EmailField("Email", validators=[DataRequired("Enter your email.")], filters=[_strip])
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])
    next = HiddenField()


def _only_on_date(form: KeyFieldsMixin, field: Field) -> None:
    """The date counts only with "On a date and time" chosen; otherwise it is ignored, whatever
    it holds (without JavaScript the hidden input is still sent)."""
    if form.expiry.data != EXPIRY_ON_DATE:
        field.errors[:] = []
        raise StopValidation()


# A scope's "All" or "Chosen ones" (SPEC §16): All sends an empty list, whatever is ticked.
SCOPE_ALL = "all"
SCOPE_CHOSEN = "chosen"
# ``.format(what)``: the form's own rule (the service takes an empty list as All).
SCOPE_NONE_TICKED = "Tick at least one {}, or choose All."
# The scope's parts with an All/Chosen choice: list field -> (its mode field, one item in words).
SCOPE_MODES = {
    "warehouses": ("warehouses_mode", "warehouse"),
    "marketplaces": ("marketplaces_mode", "marketplace"),
}


def _scope_mode(label: str) -> RadioField:
    choices = [SelectChoice(SCOPE_ALL, "All"), SelectChoice(SCOPE_CHOSEN, "Chosen ones")]
    return RadioField(label, choices=choices, default=SCOPE_ALL)


class KeyFieldsMixin:
    """Fields shared by the create and edit forms, checked by the key service's schema.

    Expires At is a preset (``app.keys.inputs.EXPIRY_PRESETS``: in N days, a date and time, or
    never) plus the date input; ``validate`` turns them into ``chosen_expires_at``. A submission
    without a preset (a script, a page opened before presets existed) is read as the CLI reads
    ``--expires-at``: the date when one is sent, else never — so a sent date is never ignored.
    """

    # The schema that owns the fields' rules and messages.
    schema: ClassVar[type[Schema]]
    # The stored expiry (edit): an unchanged one is not checked again, so a past one may stay.
    original_expires_at: datetime | None = None
    first_field: ClassVar[str | None] = "name"
    # The presets offered (a maximum-lifetime policy offers fewer), set in ``__init__``.
    expiry_presets: tuple[ExpiryPreset, ...] = ()
    # What the chosen preset means (None: never), set by ``validate``: "now" is read once.
    chosen_expires_at: datetime | None = None
    # True when the preset or its date was refused: the expiry is then not sent to the schema.
    expiry_refused: bool = False

    name = StringField("Name", filters=[_strip])
    # Rendered by hand (a grid of modules); values are the ability strings.
    abilities = SelectMultipleField("Abilities", validate_choice=False)
    # Choices come from the policy in ``__init__``; an unknown one is refused with the
    # service's message (``expiry_from_preset``), not WTForms' own.
    expiry = RadioField("Expires At", validate_choice=False)
    expires_at = AsciiDateTimeLocalField(
        "Date and time (UTC)",
        format=DATETIME_FORMATS,
        validators=[_only_on_date, Optional()],
        description="In the future, in UTC.",
    )
    rate_limit = WholeNumberField(
        "Rate Limit (requests/min)",
        default=RATE_LIMIT_DEFAULT,
        validators=[InputRequired("Rate limit is required.")],
        description=f"{RATE_LIMIT_MIN} to {RATE_LIMIT_MAX:,} requests per minute.",
    )
    allowed_ips = AllowedIpsField(
        "Allowed IPs",
        description="Optional. One IP address or CIDR range per line (e.g. 203.0.113.7 or "
        "2001:db8::/48); leave empty to allow any address.",
    )
    description = TextAreaField(
        "Description",
        filters=[_strip],
        description=f"Optional. What the key is for, up to {DESCRIPTION_MAX_LENGTH} characters.",
    )
    # Data scope (SPEC §16), rendered by hand (``scope_fields``): the values are checked by the
    # key service's schema (unknown ones named there), not by WTForms' choices.
    warehouses_mode = _scope_mode("Warehouses")
    warehouses = SelectMultipleField(
        "Warehouses",
        validate_choice=False,
        description="The key sees only these warehouses' records (inventory, orders, plans).",
    )
    marketplaces_mode = _scope_mode("Marketplaces")
    marketplaces = SelectMultipleField(
        "Marketplaces",
        validate_choice=False,
        choices=[SelectChoice(m, m) for m in AMAZON_MARKETPLACES],
        description="The key sees only these marketplaces' sales and return orders.",
    )
    hidden_fields = SelectMultipleField(
        "Hide fields",
        validate_choice=False,
        choices=[SelectChoice(slug, label) for slug, label in SCOPE_FIELD_GROUPS.items()],
        description="Ticked groups are left out of every record the key reads.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.warehouses.choices = [SelectChoice(code, name) for code, name in warehouse_choices()]
        # KEY_MAX_LIFETIME_DAYS (SPEC §15), when configured, takes Never and longer presets away.
        self.expiry_presets = offered_expiry_presets(current_app.config.get("KEY_MAX_LIFETIME_DAYS"))
        self.expiry.choices = [(p.value, p.label) for p in self.expiry_presets]
        if self.expiry.data is None:
            self.expiry.data = self._preset_not_sent()
        self.apply_lifetime_policy()

    def _preset_not_sent(self) -> str:
        if not self.is_submitted():  # type: ignore[attr-defined]
            return self.initial_expiry()
        sent = self.expires_at.raw_data
        return EXPIRY_ON_DATE if sent and sent[0] else EXPIRY_NEVER

    def initial_expiry(self) -> str:
        """The preset chosen when the form opens: the policy's default (90 days)."""
        return default_expiry_preset(self.expiry_presets)

    def apply_lifetime_policy(self) -> None:
        """Under ``KEY_MAX_LIFETIME_DAYS`` the expiry offers no "Never" and nothing later than the
        maximum: the field says so and the browser's picker stops there (the schema refuses the rest)."""
        latest = max_expiry(utcnow())
        if latest is None:
            return
        shown = to_local_input(latest)
        self.expires_at.description = (  # type: ignore[attr-defined]
            f"Keys may live at most {max_lifetime_days()} days, so at the latest {shown:%Y-%m-%d %H:%M} UTC."
        )
        self.expires_at.render_kw = {"max": f"{shown:%Y-%m-%dT%H:%M}"}  # type: ignore[attr-defined]

    def expiry_changed(self) -> bool:
        """True when the chosen expiry differs from the stored one (a date to the minute)."""
        if self.expiry_refused:
            return False
        if self.expiry.data == EXPIRY_ON_DATE:
            return self.expires_at.data != self.original_expires_at
        return self.chosen_expires_at is not None or self.original_expires_at is not None

    def scope(self) -> Scope:
        """The data scope as the form holds it now, for the access preview (a name no record
        has simply counts none, as the API would)."""
        return scope_of(self.scope_input())

    def scope_input(self) -> dict[str, list[str]]:
        """The data scope submitted: a part left on All is an empty list (no narrowing)."""
        data = {"hidden_fields": list(self.hidden_fields.data or [])}
        for name, (mode, _) in SCOPE_MODES.items():
            chosen = self[mode].data == SCOPE_CHOSEN  # type: ignore[index]
            data[name] = list(self[name].data or []) if chosen else []  # type: ignore[index]
        return data

    def _scope_errors(self) -> dict[str, list[str]]:
        """ "Chosen ones" with nothing ticked is no choice (All would be an empty list too)."""
        return {
            name: [SCOPE_NONE_TICKED.format(what)]
            for name, (mode, what) in SCOPE_MODES.items()
            if self[mode].data == SCOPE_CHOSEN and not self[name].data  # type: ignore[index]
        }

    def service_input(self) -> dict[str, Any]:
        """What was submitted, as the key service's schema takes it (the rate limit as sent)."""
        data: dict[str, Any] = {
            "name": self.name.data or "",
            "abilities": self.abilities.data or [],
            "allowed_ips": self.allowed_ips.data or [],
            "description": self.description.data,
            **self.scope_input(),
        }
        if self.rate_limit.raw_data and self.rate_limit.raw_data[0]:
            data["rate_limit"] = self.rate_limit.raw_data[0]
        if self.expiry_changed():
            data["expires_at"] = self.chosen_expires_at
        return data

    def _choose_expiry(self) -> dict[str, list[str]]:
        """Read the preset (and its date) into ``chosen_expires_at``; its errors by field."""
        try:
            self.chosen_expires_at = expiry_from_preset(
                self.expiry.data or "", as_utc(self.expires_at.data), self.expiry_presets, utcnow()
            )
        except RuleError as exc:
            self.expiry_refused = True
            return flatten_errors(exc.normalized_messages())
        return {}

    def validate(self, extra_validators: Any = None) -> bool:
        """The form's own checks (control characters, parsing, owner), then the schema's rules,
        each message next to its field (a field the form refused keeps only its own error)."""
        valid = super().validate(extra_validators)  # type: ignore[misc]
        if any(control_character_error(field) for field in self):  # type: ignore[attr-defined]
            return False  # hostile input reaches no rule (PanelForm)
        errors = self._choose_expiry() | self._scope_errors()
        errors |= flatten_errors(self.schema().validate(self.service_input()))
        for name, messages in errors.items():
            field = self[name]  # type: ignore[index]
            if not field.errors:
                field.errors = list(messages)
        return valid and not errors


# An unknown ability is echoed in the error, cut to this many characters (it is outside text).
UNKNOWN_ECHO_LENGTH = 40


def _shortened(value: str) -> str:
    return value if len(value) <= UNKNOWN_ECHO_LENGTH else value[:UNKNOWN_ECHO_LENGTH] + "…"


class AccessPreviewForm(PanelForm):
    """The abilities ticked so far in a key form, sent by GET for the access preview.

    No CSRF token: the preview reads and changes nothing, and ability names are not secrets.
    None ticked is valid (the preview says to tick some); more values than the catalogue has
    abilities, or one outside it, is refused.
    """

    class Meta:
        """A GET form that changes nothing needs no CSRF token."""

        csrf = False

    abilities = SelectMultipleField("Abilities", validate_choice=False)
    # The key form's own scope fields (SPEC §16: the counts are taken within the scope), read
    # as the key form reads them; their values are checked by the key service's schema.
    warehouses_mode = KeyFieldsMixin.warehouses_mode
    warehouses = KeyFieldsMixin.warehouses
    marketplaces_mode = KeyFieldsMixin.marketplaces_mode
    marketplaces = KeyFieldsMixin.marketplaces
    hidden_fields = KeyFieldsMixin.hidden_fields
    scope_input = KeyFieldsMixin.scope_input
    # The scope as the key service would store it (names normalized), set by ``validate``.
    valid_scope: Scope = UNSCOPED

    def validate(self, extra_validators: Any = None) -> bool:
        """The abilities' checks, then the scope's by the key service's schema (unknown names
        refused as the key form refuses them); a valid scope is kept in ``scope``."""
        valid = super().validate(extra_validators)
        try:
            loaded = KeyEditSchema().load(self.scope_input())
        except RuleError as exc:
            for name, messages in flatten_errors(exc.normalized_messages()).items():
                self[name].errors = list(messages)
            return False
        self.valid_scope = scope_of(loaded)
        return valid

    def validate_abilities(self, field: Field) -> None:
        """At most one value per catalogue ability, each from the catalogue."""
        values = field.data or []
        if len(values) > len(ALL_ABILITIES):
            raise ValidationError(f"Too many abilities: at most {len(ALL_ABILITIES)}, got {len(values)}.")
        unknown = sorted({a for a in values if a not in ABILITY_SET})
        if unknown:
            shown = ", ".join(_shortened(a) for a in unknown[:3])
            more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
            raise ValidationError(UNKNOWN_ABILITY.format(f"{shown}{more}"))

    def first_error(self) -> str:
        """The one line the panel shows for a refused preview."""
        errors = [*self.form_errors, *(e for field in self for e in field.errors)]
        return errors[0] if errors else "The access preview was refused."


class KeyCreateForm(KeyFieldsMixin, PanelForm):
    """A new API key."""

    schema = KeyCreateSchema
    # Owner is declared after the shared fields but shown second, beside Name.
    shown_order = (
        "name",
        "owner",
        "abilities",
        "expires_at",
        "rate_limit",
        "allowed_ips",
        "description",
        "warehouses",
        "marketplaces",
        "hidden_fields",
    )

    owner = SelectField("Owner", validate_choice=False, validators=[DataRequired("Choose an owner.")])

    def set_owner_choices(self, users: list[User]) -> None:
        """Offer people and system accounts, grouped, as the owner."""
        people = [(str(u.id), f"{u.name} ({u.email})") for u in users if not u.is_system]
        systems = [(str(u.id), f"{u.name} ({u.email})") for u in users if u.is_system]
        self.owner.choices = {"People": people, "System accounts": systems}
        self._owner_ids = {value for value, _ in people + systems}

    def validate_owner(self, field: Field) -> None:
        """The owner must be one of the offered accounts."""
        if field.data not in getattr(self, "_owner_ids", set()):
            raise ValidationError("Choose an owner from the list.")


class KeyEditForm(KeyFieldsMixin, PanelForm):
    """Changes to an existing key: name, abilities, rate limit, expiry, allowed IPs, description,
    data scope."""

    schema = KeyEditSchema

    def __init__(self, *args: Any, original_expires_at: datetime | None = None, **kwargs: Any) -> None:
        # Set first: the mixin's ``__init__`` picks the initial preset from it.
        self.original_expires_at = to_local_input(original_expires_at)
        super().__init__(*args, **kwargs)

    def initial_expiry(self) -> str:
        """The editor opens on the key's own expiry: its date and time, or Never."""
        return EXPIRY_ON_DATE if self.original_expires_at is not None else EXPIRY_NEVER


# "Old key stops working": the grace periods of ``app.keys.rolling`` offered in the panel.
ROLL_CHOICES = [
    SelectChoice("0", "Now"),
    SelectChoice("1h", "In 1 hour"),
    SelectChoice("24h", "In 24 hours"),
    SelectChoice("7d", "In 7 days"),
    SelectChoice("at", "At a date and time"),
]


class RollKeyForm(PanelForm):
    """When the old key of a roll stops working; the service checks the time's range."""

    first_field: ClassVar[str | None] = "grace"
    grace = RadioField("Old key stops working", choices=ROLL_CHOICES, default="24h")
    sunset_at = AsciiDateTimeLocalField(
        "Date and time (UTC)",
        format=DATETIME_FORMATS,
        validators=[Optional()],
        description="With “At a date and time”: in the future, at most 30 days ahead.",
    )

    def validate(self, extra_validators: Any = None) -> bool:
        """A date and time is needed when that choice is picked (``Optional`` stops the field's
        own chain on an empty value, so the rule is checked here)."""
        valid = super().validate(extra_validators)
        if self.grace.data == "at" and self.sunset_at.data is None and not self.sunset_at.errors:
            self.sunset_at.errors = ["Choose the date and time the old key stops working."]
            valid = False
        return valid

    def grace_value(self) -> str | datetime:
        """What ``rolling.roll_key`` takes: a named grace period, or the chosen time in UTC."""
        if self.grace.data == "at":
            return as_utc(self.sunset_at.data) or ""
        return self.grace.data or ""

    def service_errors(self, errors: dict[str, list[str]]) -> dict[str, list[str]]:
        """The service's ``grace`` errors belong next to the date field when a time was chosen."""
        field = "sunset_at" if self.grace.data == "at" else "grace"
        return {field if name == "grace" else name: messages for name, messages in errors.items()}


class GrantAbilityForm(PanelForm):
    """Grant one ability from the key's page; ``least_privilege`` checks that it exists."""

    ability = StringField("Ability", validators=[InputRequired(message="Choose the ability to grant.")])


class RemoveUnusedForm(PanelForm):
    """The unused abilities the admin confirmed removing; ``least_privilege`` checks them again."""

    # validate_choice=False: an unknown ability is refused by the service, with its message.
    abilities = SelectMultipleField("Abilities", validate_choice=False)


def apply_service_errors(form: FlaskForm, errors: dict[str, list[str]], fallback: str) -> None:
    """Put the service's per-field errors next to the form's fields (others on the form)."""
    if not errors:
        form.form_errors.append(fallback)
    for name, messages in errors.items():
        field = form._fields.get(name)
        if field is None:
            form.form_errors.extend(messages)
        else:
            field.errors = [*field.errors, *messages]


class UserCreateForm(PanelForm):
    """ "Add user": name, email and kind. The users service checks them (``accounts.UserSchema``
    owns the rules: email at most 254 characters, ...), and the view puts its messages here."""

    name = StringField("Name", filters=[_strip], validators=[DataRequired(NAME_REQUIRED)])
    email = EmailField("Email", filters=[_strip], validators=[DataRequired("Email is required.")])
    kind = RadioField(
        "Kind",
        choices=[
            SelectChoice("person", "Person"),
            SelectChoice("admin", "Admin (signs in to this panel)"),
            SelectChoice("system", "System account (an integration; no password, never signs in)"),
        ],
        default="person",
    )


# What becomes of a leaving user's working keys (``users.deactivate_user``).
KEY_FATES = [
    SelectChoice("move", "Move them to another active owner"),
    SelectChoice("deactivate", "Deactivate them"),
]


class DeactivateUserForm(PanelForm):
    """The offboarding confirmation: where the user's working keys go."""

    fate = RadioField("What becomes of these keys?", choices=KEY_FATES, validate_choice=False)
    new_owner = SelectField("New owner", validate_choice=False)

    def set_owner_choices(self, owners: list[User]) -> None:
        """Offer the active accounts (the leaving user excluded) as the new owner."""
        self.new_owner.choices = [("", "Choose an owner")] + [
            (str(u.id), f"{u.name} ({u.email}){' · System' if u.is_system else ''}") for u in owners
        ]
