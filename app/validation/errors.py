"""Domain errors raised by services; views and the CLI turn them into 4xx or one line."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: a request the service refuses, with a message fit for the user."""

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        # Per-field messages, e.g. {"rate_limit": ["Rate limit must be between ..."]}.
        self.errors = errors or {}


class InvalidInput(ServiceError):
    """Input failed validation; nothing was written."""


class NotFound(ServiceError):
    """The thing asked for does not exist."""


class Conflict(ServiceError):
    """The request contradicts the current state (e.g. activating a revoked key)."""


def flatten_errors(errors: dict[str, object]) -> dict[str, list[str]]:
    """Turn marshmallow's nested error mapping into ``{field: [message, ...]}``."""
    flat: dict[str, list[str]] = {}
    for field_name, value in errors.items():
        if isinstance(value, dict):
            messages = [m for sub in value.values() for m in (sub if isinstance(sub, list) else [sub])]
        elif isinstance(value, list):
            messages = value
        else:
            messages = [value]
        flat[field_name] = [str(m) for m in messages]
    return flat


def summarise(errors: dict[str, list[str]]) -> str:
    """One line naming every field and what is wrong with it."""
    return "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in errors.items())
