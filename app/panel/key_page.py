"""What the key's own page shows: the key, the key it replaced, who created it, its audit
history and usage."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app import accounts, audit
from app.audit import display as audit_display
from app.audit.display import ShownEvent
from app.extensions import db
from app.keys import service
from app.models.api_keys import ApiKey
from app.panel import usage_chart
from app.panel.usage_chart import Chart
from app.usage import reports
from app.usage.reports import UsageReport

HISTORY_LIMIT = 50


@dataclass(frozen=True)
class Creator:
    """Who created a key, as the audit log names them, and that admin's name when known."""

    actor: str
    name: str | None = None


@dataclass(frozen=True)
class KeyPage:
    """Everything ``panel/api_keys/page.html`` renders about one key."""

    key: ApiKey
    # The key this one replaced by a roll, if any (its successor is ``key.successor``).
    predecessor: ApiKey | None
    # The actor of the key's ``key.created`` event (``cli`` for the command line), or None.
    created_by: Creator | None
    history: list[ShownEvent]
    history_limit: int
    # True when older events exist beyond the ones shown.
    history_truncated: bool
    # The Usage section (SPEC §13): the last 30 UTC days of the key's roll chain.
    usage: UsageReport

    @property
    def history_columns(self) -> dict[str, str]:
        """The History table's columns (key -> header), in the Audit Log's words."""
        return {column: audit_display.COLUMNS[column] for column in audit_display.KEY_HISTORY_COLUMNS}

    @property
    def usage_chart(self) -> Chart:
        """Where the usage chart's bars, grid lines and labels go."""
        return usage_chart.layout(self.usage)


def creator(prefix: str) -> Creator | None:
    """Who created the key with ``prefix``: the audit log's answer, with the admin's name."""
    actor = audit.creator_of(prefix)
    if actor is None:
        return None
    user = accounts.find_user_by_email(actor) if actor != audit.CLI_ACTOR else None
    return Creator(actor=actor, name=user.name if user is not None else None)


def load(prefix: str, history_limit: int = HISTORY_LIMIT) -> KeyPage:
    """The page of the key with ``prefix``; raises ``NotFound`` for an unknown or malformed one."""
    key = service.get_key(prefix)
    predecessor = db.session.scalar(select(ApiKey).where(ApiKey.successor_id == key.id).limit(1))
    # One event more than shown tells whether older ones exist, without counting them all.
    events = audit.events_for_key(key.prefix, history_limit + 1)
    return KeyPage(
        key=key,
        predecessor=predecessor,
        created_by=creator(key.prefix),
        history=[audit_display.shown(event) for event in events[:history_limit]],
        history_limit=history_limit,
        history_truncated=len(events) > history_limit,
        usage=reports.for_key(key),
    )
