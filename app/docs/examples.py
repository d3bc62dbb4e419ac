"""Example values for the OpenAPI document, derived from the marshmallow schemas.

Examples follow the schemas that serve the API, so they cannot drift from them: each field
gives its own ``metadata={"example": ...}`` (the domain schemas set one on every field), and
a field without one gets a plausible value for its type. A test validates every example
against the document.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

# Never a real-looking key: the ``...`` keeps this from matching the key format's regex.
EXAMPLE_KEY = "sgk_XXXXXXXX_..."
# What stands for the secret in one key's documentation: "<", ">" and the space are outside base62, so the
# placeholder never matches the key format (no secret scanner flags the page) and a line pasted
# unchanged is refused at once as a malformed key (401 invalid_key, no database, no bcrypt).
PLACEHOLDER_TAIL = "<your secret>"
EXAMPLE_TIME = "2026-11-27T09:30:00Z"

# Fallbacks by field type, most specific class first.
_BY_TYPE: tuple[tuple[type[fields.Field], Any], ...] = (
    (fields.Boolean, True),
    (fields.DateTime, EXAMPLE_TIME),
    (fields.Date, "2026-11-27"),
    (fields.Email, "jordan.lee@example.com"),
    (fields.Integer, 42),
    (fields.Float, 3.75),
    (fields.Dict, {}),
)


def example_value(name: str, field: fields.Field) -> Any:
    """Return an example for one marshmallow field, as it would appear in a JSON response."""
    if "example" in field.metadata:
        return field.metadata["example"]
    if isinstance(field, fields.Pluck):
        return example_value(field.field_name, field.schema.fields[field.field_name])
    if isinstance(field, fields.Nested):
        record = example_record(field.schema)
        return [record] if field.many else record
    if isinstance(field, fields.List):
        return [example_value(name, field.inner)]
    if isinstance(field, fields.Constant):
        return field.constant
    for validator in field.validators:
        if isinstance(validator, validate.OneOf):
            return next(iter(validator.choices), None)
    if isinstance(field, fields.Decimal):
        return "12.50" if field.as_string else 12.5
    for kind, value in _BY_TYPE:
        if isinstance(field, kind):
            return value
    return name.replace("_", " ").capitalize() if isinstance(field, fields.String) else None


def example_record(schema: Schema | type[Schema]) -> dict[str, Any]:
    """Return one example object for a marshmallow output schema (load-only fields left out)."""
    instance = schema() if isinstance(schema, type) else schema
    return {
        field.data_key or name: example_value(name, field)
        for name, field in instance.fields.items()
        if not field.load_only
    }


def placeholder_key(prefix: str) -> str:
    """The key with ``prefix`` and a placeholder for its secret, for examples: never key-shaped."""
    return f"{prefix}_{PLACEHOLDER_TAIL}"
