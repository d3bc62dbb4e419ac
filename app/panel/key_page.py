"""What the key's own page shows: the key, the key it replaced, its audit history and usage."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.keys import service
from app.models.api_keys import ApiKey
from app.panel import key_history, usage_chart
from app.panel.key_history import HistoryRow
from app.panel.usage_chart import Chart
from app.usage import reports
from app.usage.reports import UsageReport


@dataclass(frozen=True)
class KeyPage:
    """Everything ``panel/api_keys/page.html`` renders about one key."""

    key: ApiKey
    # The key this one replaced by a roll, if any (its successor is ``key.successor``).
    predecessor: ApiKey | None
    history: list[HistoryRow]
    history_limit: int
    # True when older events exist beyond the ones shown.
    history_truncated: bool
    # The Usage section (SPEC §13): the last 30 UTC days of the key's roll chain.
    usage: UsageReport

    @property
    def usage_chart(self) -> Chart:
        """Where the usage chart's bars, grid lines and labels go."""
        return usage_chart.layout(self.usage)


def load(prefix: str, history_limit: int = key_history.HISTORY_LIMIT) -> KeyPage:
    """The page of the key with ``prefix``; raises ``NotFound`` for an unknown or malformed one."""
    key = service.get_key(prefix)
    predecessor = db.session.scalar(select(ApiKey).where(ApiKey.successor_id == key.id).limit(1))
    # One event more than shown tells whether older ones exist, without counting them all.
    history = key_history.history(key.prefix, history_limit + 1)
    return KeyPage(
        key=key,
        predecessor=predecessor,
        history=history[:history_limit],
        history_limit=history_limit,
        history_truncated=len(history) > history_limit,
        usage=reports.for_key(key),
    )
