"""How an audit event reads for people (SPEC §12): one set of labels and one renderer of an
event's details, for the Audit Log page and a key's History table alike.

``flask audit list`` keeps printing details as JSON (for machines), so it does not use this.

- A change reads old → new; a change between two lists (abilities, allowed IPs) reads as what
  was added and what was removed (``+ customers:list``, ``MINUS inventory:list``), never as
  two whole lists.
- A time (a detail named ``*_at``) is handed over as a ``datetime``, so the page shows it in
  its one time format (the panel's ``time_tag``). Events stored before details used
  ``iso_utc`` may hold microseconds or a ``+00:00`` offset; parsed, they read the same.
- A value that is not there reads as the key's page says it (no expiry: "Never", no allowed
  IPs: "Any address"), else "—"; a new key's unset fields are left out as noise.

Values are already free of secrets and invisible characters (``app.audit.record``); Jinja
escapes them when they are rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from app.models.audit import AuditEvent
from app.models.types import iso_utc

# The Audit Log's columns: key -> header (and each cell's label on a narrow screen).
COLUMNS = {
    "time": "Time",
    "actor": "Actor",
    "action": "Action",
    "key_prefix": "Key Prefix",
    "details": "Details",
    "address": "Address",
}
# A key's History table: the same columns, less the prefix (it is the page's key).
KEY_HISTORY_COLUMNS = ("time", "actor", "action", "details")

# How the fields of an event's details are named: as the key's page names the same fields.
LABELS = {
    "name": "Name",
    "owner": "Owner",
    "abilities": "Abilities",
    "rate_limit": "Rate Limit",
    "expires_at": "Expires At",
    "allowed_ips": "Allowed IPs",
    "description": "Description",
    "warehouses": "Warehouses",
    "marketplaces": "Marketplaces",
    "hidden_fields": "Hidden Fields",
    "status": "Status",
    "email": "Email",
    "kind": "Kind",
    "reason": "Reason",
    "days": "Days",
    "last_used_at": "Last Used At",
    "new_prefix": "Replaced By",
    "rolled_from": "Replaces",
    "sunset_at": "Old Key Stops",
}
EMPTY = "—"
# What a removed item of a list is marked with (the typographic minus, not a hyphen).
MINUS = "\N{MINUS SIGN}"
# Where "nothing" has a meaning of its own, it is said in words.
EMPTY_WORDS = {
    "expires_at": "Never",
    "allowed_ips": "Any address",
    "warehouses": "All",
    "marketplaces": "All",
    "hidden_fields": "None",
}


def label(name: str) -> str:
    """The label shown for a detail's name (``rate_limit`` → ``Rate Limit``)."""
    return LABELS.get(name, name.replace("_", " ").title())


@dataclass(frozen=True)
class Shown:
    """One value as people read it: its words, and the time itself when it is one."""

    text: str
    time: datetime | None = None

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class DetailLine:
    """One line of an event's details: a value, a change old → new, or what a list gained and lost."""

    label: str
    value: Shown | None = None
    old: Shown | None = None
    new: Shown | None = None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def kind(self) -> Literal["value", "change", "list_change"]:
        """Which of the three shapes this line has (the template picks its markup by it)."""
        if self.value is not None:
            return "value"
        return "list_change" if self.added or self.removed else "change"

    @property
    def text(self) -> str:
        """The line in plain words (``Abilities: + a, \N{MINUS SIGN} b``), for logs and tests."""
        if self.kind == "value":
            return f"{self.label}: {self.value}"
        if self.kind == "change":
            return f"{self.label}: {self.old} → {self.new}"
        parts = [f"+ {item}" for item in self.added] + [f"{MINUS} {item}" for item in self.removed]
        return f"{self.label}: {', '.join(parts)}"


def _time(name: str, value: Any) -> datetime | None:
    if not (name.endswith("_at") and isinstance(value, str)):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    # Stored times are UTC; one without a zone (an old row) is read as UTC too.
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def show(name: str, value: Any) -> Shown:
    """The detail ``name``'s ``value`` in words: lists joined by commas, times as times."""
    if _is_empty(value):
        return Shown(EMPTY_WORDS.get(name, EMPTY))
    when = _time(name, value)
    if when is not None:
        return Shown(iso_utc(when), when.replace(microsecond=0))
    if isinstance(value, bool):
        return Shown("yes" if value else "no")
    if isinstance(value, int):
        return Shown(f"{value:,}")
    if isinstance(value, list | tuple):
        return Shown(", ".join(show(name, item).text for item in value))
    if isinstance(value, dict):
        return Shown(", ".join(f"{label(str(k))}: {show(str(k), v)}" for k, v in value.items()))
    return Shown(str(value))


def _change(name: str, change: Any) -> DetailLine:
    if not (isinstance(change, dict) and ("old" in change or "new" in change)):
        return DetailLine(label(name), value=show(name, change))
    old, new = change.get("old"), change.get("new")
    if isinstance(old, list | None) and isinstance(new, list | None) and (old or new):
        before, after = [str(item) for item in old or []], [str(item) for item in new or []]
        added = tuple(item for item in after if item not in before)
        removed = tuple(item for item in before if item not in after)
        if added or removed:
            return DetailLine(label(name), added=added, removed=removed)
    return DetailLine(label(name), old=show(name, old), new=show(name, new))


def describe(details: dict[str, Any]) -> list[DetailLine]:
    """An event's details as lines, changes first; empty values of a new key are left out."""
    lines: list[DetailLine] = []
    changes = details.get("changes")
    if isinstance(changes, dict):
        lines.extend(_change(str(name), change) for name, change in changes.items())
    for name, value in details.items():
        if (name == "changes" and isinstance(changes, dict)) or _is_empty(value):
            continue
        lines.append(DetailLine(label(str(name)), value=show(str(name), value)))
    return lines


@dataclass(frozen=True)
class ShownEvent:
    """An audit event ready for a page: its columns, and its details as lines."""

    created_at: datetime
    actor: str
    action: str
    key_prefix: str | None
    details: list[DetailLine]
    address: str | None


def shown(event: AuditEvent) -> ShownEvent:
    """``event`` as the Audit Log and a key's History table show it."""
    return ShownEvent(
        created_at=event.created_at,
        actor=event.actor,
        action=event.action,
        key_prefix=event.key_prefix,
        details=describe(event.details or {}),
        address=event.address,
    )
