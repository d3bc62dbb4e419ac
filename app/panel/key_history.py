"""A key's audit history as the key's page shows it: one row per event, details in words.

``key.updated`` events carry ``{"changes": {field: {"old": x, "new": y}}}`` and read as
"Rate Limit: 60 → 120"; any other details read as "Label: value". Values are already free of
secrets (``app.audit.record`` redacts them); Jinja escapes them when they are rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app import audit

HISTORY_LIMIT = 50
EMPTY = "—"

# The labels the panel uses for a key's fields; other names are spelled out from the name.
_LABELS = {
    "name": "Name",
    "abilities": "Abilities",
    "rate_limit": "Rate Limit",
    "expires_at": "Expires At",
    "allowed_ips": "Allowed IPs",
    "description": "Description",
    "status": "Status",
    "owner": "Owner",
    "successor": "Successor",
    "sunset_at": "Old key stops",
}


@dataclass(frozen=True)
class Detail:
    """One line of an event's details: a label and a value, or a change from old to new."""

    label: str
    value: str | None = None
    old: str | None = None
    new: str | None = None

    @property
    def is_change(self) -> bool:
        """True when this line shows a change (old → new) rather than a single value."""
        return self.value is None


@dataclass(frozen=True)
class HistoryRow:
    """One audit event on the key's page."""

    created_at: datetime
    actor: str
    action: str
    details: list[Detail]
    address: str | None


def label(name: str) -> str:
    """The label shown for a field or detail name (``rate_limit`` → ``Rate Limit``)."""
    return _LABELS.get(name, name.replace("_", " ").capitalize())


def show_value(value: Any) -> str:
    """A detail value in words: lists joined by commas, nothing as a dash."""
    if value is None or value == "" or value == []:
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(show_value(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{label(str(k))}: {show_value(v)}" for k, v in value.items())
    return str(value)


def details_of(details: dict[str, Any]) -> list[Detail]:
    """The lines that describe an event's ``details``, changes first."""
    lines: list[Detail] = []
    changes = details.get("changes")
    if isinstance(changes, dict):
        for field, change in changes.items():
            if isinstance(change, dict) and ("old" in change or "new" in change):
                old, new = show_value(change.get("old")), show_value(change.get("new"))
                lines.append(Detail(label(str(field)), old=old, new=new))
            else:
                lines.append(Detail(label(str(field)), value=show_value(change)))
    for name, value in details.items():
        if name != "changes" or not isinstance(changes, dict):
            lines.append(Detail(label(str(name)), value=show_value(value)))
    return lines


def history(prefix: str, limit: int = HISTORY_LIMIT) -> list[HistoryRow]:
    """The latest ``limit`` events of the key with ``prefix``, newest first, ready to show."""
    return [
        HistoryRow(
            created_at=event.created_at,
            actor=event.actor,
            action=event.action,
            details=details_of(event.details or {}),
            address=event.address,
        )
        for event in audit.events_for_key(prefix, limit)
    ]
