"""WTForms forms of the panel: sign-in, create key, edit key.

These give the user inline errors; the key service validates again with marshmallow, so
nothing invalid is saved even if a form rule were missing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    EmailField,
    Field,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, StopValidation, ValidationError

from app.catalogue import ABILITY_SET
from app.models.api_keys import NAME_MAX_LENGTH, RATE_LIMIT_DEFAULT, RATE_LIMIT_MAX, RATE_LIMIT_MIN
from app.models.types import utcnow
from app.models.users import User

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
RATE_LIMIT_MESSAGE = f"Rate limit must be between {RATE_LIMIT_MIN} and {RATE_LIMIT_MAX:,} requests/min."


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class WholeNumberField(IntegerField):
    """An integer field whose parse error reads like the rest of the form."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Parse the number, with a friendly message when it is not one."""
        if not valuelist or valuelist[0] == "":
            self.data = None
            return
        try:
            self.data = int(valuelist[0].strip())
        except ValueError:
            self.data = None
            raise ValueError("Rate limit must be a whole number.") from None


def _rate_limit_in_range(_form: Any, field: Field) -> None:
    # A parse error is already on the field; do not add a second message for the same value.
    if field.data is None:
        raise StopValidation()
    if not RATE_LIMIT_MIN <= field.data <= RATE_LIMIT_MAX:
        raise ValidationError(RATE_LIMIT_MESSAGE)


def as_utc(value: datetime | None) -> datetime | None:
    """Read a ``datetime-local`` value as UTC (the label says times are UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_local_input(value: datetime | None) -> datetime | None:
    """The naive UTC datetime a ``datetime-local`` input shows for a stored expiry."""
    return value.astimezone(UTC).replace(tzinfo=None, second=0, microsecond=0) if value else None


class LoginForm(FlaskForm):
    """Email and password of an admin."""

    email = EmailField("Email", validators=[DataRequired("Enter your email.")], filters=[_strip])
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])
    next = HiddenField()


class KeyFieldsMixin:
    """Fields and rules shared by the create and edit forms."""

    name = StringField(
        "Name",
        filters=[_strip],
        validators=[
            DataRequired("Name is required."),
            Length(max=NAME_MAX_LENGTH, message=f"Name must be at most {NAME_MAX_LENGTH} characters."),
        ],
    )
    # Rendered by hand (a grid of modules); values are the ability strings.
    abilities = SelectMultipleField("Abilities", validate_choice=False)
    expires_at = DateTimeLocalField(
        "Expires At (UTC)",
        format=DATETIME_FORMATS,
        validators=[Optional()],
        description="Optional. Date and time in UTC; leave empty for a key that never expires.",
    )
    rate_limit = WholeNumberField(
        "Rate Limit (requests/min)",
        default=RATE_LIMIT_DEFAULT,
        validators=[InputRequired("Rate limit is required."), _rate_limit_in_range],
        description=f"{RATE_LIMIT_MIN} to {RATE_LIMIT_MAX:,} requests per minute.",
    )

    def validate_abilities(self, field: Field) -> None:
        """At least one ability, each from the catalogue."""
        if not field.data:
            raise ValidationError("Choose at least one ability.")
        unknown = sorted({a for a in field.data if a not in ABILITY_SET})
        if unknown:
            raise ValidationError(f"Unknown ability: {', '.join(unknown)}.")

    def validate_expires_at(self, field: Field) -> None:
        """An expiry, when given, must be in the future."""
        value = as_utc(field.data)
        if value is not None and value <= utcnow():
            raise ValidationError("Expires At must be in the future.")


class KeyCreateForm(KeyFieldsMixin, FlaskForm):
    """A new API key."""

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


class KeyEditForm(KeyFieldsMixin, FlaskForm):
    """Changes to an existing key: name, abilities, rate limit, expiry."""

    def __init__(self, *args: Any, original_expires_at: datetime | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.original_expires_at = to_local_input(original_expires_at)

    def expiry_changed(self) -> bool:
        """True when the submitted expiry differs from the stored one (to the minute)."""
        return self.expires_at.data != self.original_expires_at

    def validate_expires_at(self, field: Field) -> None:
        """A changed expiry must be in the future; an unchanged past one may stay."""
        if self.expiry_changed():
            super().validate_expires_at(field)


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
