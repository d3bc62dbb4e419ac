"""The Usage section of a key's page (SPEC §13): one report over the last 30 UTC days.

Everything comes from one query over the daily roll-up (``history.daily_counts``: key x UTC
day x operation x status for the keys the report counts), at most keys x days x operations x
statuses rows however many hourly rows lie behind it, and is folded here in Python:

* requests per day, stacked by outcome (Succeeded, Refused, Limited, Bad requests);
* one row per operation with its counts by outcome and its last request;
* each granted ability, used or unused. **Used** means at least one request to its operation
  in the window, whatever the outcome: an integration that calls it (even when refused for its
  address or limited) would break if it were removed;
* for a report over several keys (a roll chain's newest key), each key's share: per key, in
  the chart's bars, per day and per operation, so an admin sees during a grace period whether
  the old key is still called. An older key's report holds its own requests only
  (``history.reported_keys``);
* the abilities the key was refused. **Refused ability** means an ability operation with 403
  ``forbidden`` rows in the window that the key does not hold *now*; once granted, an ability
  leaves the list. Requests refused for their address (``ip_not_allowed``) are counted under
  an operation of their own (``IP_REFUSED_OPERATION``), whatever endpoint they asked for, so
  they neither mark an ability used nor offer to grant one: they show as their own line.

**Judged** only when the history covers the whole window: until the first key the report
counts (a rolled key inherits its predecessor's history) is older than the window, and while
the daily counts kept (``USAGE_DAILY_DAYS``) reach back far enough, no ability is called
unused; the report says how many days of history it has instead (``History``), so nothing
offers to remove an ability a monthly job has simply not needed yet.

The counts come from the daily roll-up (``key_usage_daily``), which the flush writes with the
hourly rows: 30 days of a busy key are a few thousand rows at most. Decisions and measurements:
docs/decisions/003-usage-on-the-key-page.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from flask import current_app

from app.catalogue import ABILITY_SET, ALL_ABILITIES
from app.models.api_keys import ApiKey
from app.models.usage import IP_REFUSED_OPERATION, KEY_OPERATION, OTHER_OPERATION
from app.usage.history import (
    OUTCOMES,
    SERVER_ERRORS,
    DayCount,
    chain_keys,
    daily_counts,
    outcome_of,
    reported_keys,
    window_start,
)

WINDOW_DAYS = 30
# Where an ability's requests count as "refused for the ability" (forbidden).
FORBIDDEN = 403

# Operations that are not abilities, named for people.
OPERATION_LABELS = {
    KEY_OPERATION: "Key introspection (GET /api/v1/key)",
    OTHER_OPERATION: "Unknown paths",
    IP_REFUSED_OPERATION: "Refused: address not allowed (any endpoint)",
}


def _zero() -> dict[str, int]:
    return dict.fromkeys(OUTCOMES, 0)


@dataclass
class Tally:
    """Requests by outcome (the four charted ones) plus server errors, which are not charted."""

    by_outcome: dict[str, int] = field(default_factory=_zero)
    server_errors: int = 0

    def add(self, status: int, count: int) -> None:
        """Add ``count`` requests answered with ``status``."""
        outcome = outcome_of(status)
        if outcome == SERVER_ERRORS:
            self.server_errors += count
        else:
            self.by_outcome[outcome] += count

    @property
    def total(self) -> int:
        """Requests of the four charted outcomes."""
        return sum(self.by_outcome.values())

    @property
    def requests(self) -> int:
        """Every request, server errors included."""
        return self.total + self.server_errors


@dataclass(frozen=True)
class ReportedKey:
    """One key whose requests a report counts."""

    id: int
    prefix: str
    # The key the report is for (its page, its ``flask keys usage``); the others it replaced.
    current: bool = True
    # A key that was rolled: when it stops (``rolling``) or stopped working.
    sunset_at: datetime | None = None
    rolling: bool = False

    @property
    def role(self) -> str:
        """The key's part in the report, for people: this key, or an old key rolling or rolled."""
        if self.current:
            return "this key"
        return "old key, rolling" if self.rolling else "old key, rolled"

    @classmethod
    def of(cls, key: ApiKey, current: ApiKey, now: datetime) -> ReportedKey:
        """``key`` as the report for ``current`` names it."""
        return cls(key.id, key.prefix, key.id == current.id, key.sunset_at, key.is_rolling(now))


@dataclass
class KeyShare:
    """One key's part of the requests in the window, and its latest request."""

    key: ReportedKey
    tally: Tally = field(default_factory=Tally)
    last_at: datetime | None = None


@dataclass(frozen=True)
class History:
    """How far back the report's counts go, and whether that covers the whole window.

    ``since``: when the first key the report counts was created, or the oldest day the daily
    counts still keep, whichever is later. ``judged``: True when ``since`` is at or before the
    window's start, so "no request in the window" means unused rather than "not yet".
    """

    since: datetime
    days: int
    judged: bool


@dataclass
class DayUsage:
    """One UTC day of the chart: by outcome, and by key for a report over several keys."""

    day: date
    tally: Tally = field(default_factory=Tally)
    by_key: dict[int, Tally] = field(default_factory=dict)


@dataclass
class OperationUsage:
    """One operation of the per-operation table."""

    operation: str
    tally: Tally = field(default_factory=Tally)
    last_at: datetime | None = None
    # Requests of the four charted outcomes per key id.
    by_key: dict[int, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The operation as shown: an ability string, or a phrase for ``key`` and ``other``."""
        return OPERATION_LABELS.get(self.operation, self.operation)


@dataclass(frozen=True)
class AbilityUse:
    """A granted ability and its last request in the window (None: unused)."""

    ability: str
    last_at: datetime | None

    @property
    def used(self) -> bool:
        """True when the ability's operation was requested in the window."""
        return self.last_at is not None


@dataclass(frozen=True)
class RefusedAbility:
    """An ability the key lacks and was refused (403) for, with how often and when last."""

    ability: str
    count: int
    last_at: datetime


@dataclass(frozen=True)
class UsageReport:
    """What the Usage section shows for one key over ``days`` UTC days."""

    days: list[DayUsage]
    operations: list[OperationUsage]
    abilities: list[AbilityUse]
    refused: list[RefusedAbility]
    totals: Tally
    window_days: int
    # The keys counted, oldest first (one, or a roll chain); the shares shown, newest first.
    keys: list[ReportedKey] = field(default_factory=list)
    shares: list[KeyShare] = field(default_factory=list)
    # None: the history is taken to cover the window (a report built without the keys' ages).
    history: History | None = None
    # The rows the report was folded from (``flask keys usage`` prints them per day).
    counts: list[DayCount] = field(default_factory=list)
    # For a key that was rolled: the prefix of its chain's newest key, whose report holds the chain.
    newest_prefix: str | None = None

    @property
    def split(self) -> bool:
        """True when the report counts several keys, so each key's share is shown."""
        return len(self.keys) > 1

    @property
    def judged(self) -> bool:
        """True when the history covers the whole window, so unused abilities can be named."""
        return self.history is None or self.history.judged

    @property
    def first_day(self) -> date:
        """The oldest day of the window."""
        return self.days[0].day

    @property
    def last_day(self) -> date:
        """Today (UTC), the newest day of the window."""
        return self.days[-1].day

    @property
    def busiest(self) -> DayUsage:
        """The day with the most requests (the latest of equals)."""
        return max(reversed(self.days), key=lambda d: d.tally.total)

    @property
    def not_requested(self) -> list[str]:
        """Granted abilities with no request in the window (whether or not it is judged yet)."""
        return [use.ability for use in self.abilities if not use.used]

    @property
    def unused(self) -> list[str]:
        """Granted abilities with no request in the window, in catalogue order; none until the
        history covers the window (``judged``)."""
        return self.not_requested if self.judged else []

    @property
    def can_remove_unused(self) -> bool:
        """True when removing the unused abilities leaves the key at least one."""
        return bool(self.unused) and len(self.unused) < len(self.abilities)


def build(
    granted: list[str],
    counts: list[DayCount],
    days: int,
    today: date,
    *,
    keys: Sequence[ReportedKey] = (),
    history: History | None = None,
) -> UsageReport:
    """Fold per-day counts into the report for a key holding ``granted`` (pure: no queries).

    ``keys``: the keys the counts belong to, oldest first; with several, each one's share is
    kept apart. ``history``: how far back they go (None: far enough to judge the window).
    """
    first = today - timedelta(days=days - 1)
    chart = {first + timedelta(days=n): DayUsage(first + timedelta(days=n)) for n in range(days)}
    operations: dict[str, OperationUsage] = {}
    refused: dict[str, tuple[int, datetime]] = {}
    totals = Tally()
    held = set(granted)
    shares = {key.id: KeyShare(key) for key in keys}
    for row in counts:
        if row.day in chart:
            chart[row.day].tally.add(row.status, row.count)
            chart[row.day].by_key.setdefault(row.key_id, Tally()).add(row.status, row.count)
        totals.add(row.status, row.count)
        usage = operations.setdefault(row.operation, OperationUsage(row.operation))
        usage.tally.add(row.status, row.count)
        usage.last_at = row.last_at if usage.last_at is None else max(usage.last_at, row.last_at)
        if outcome_of(row.status) != SERVER_ERRORS:
            usage.by_key[row.key_id] = usage.by_key.get(row.key_id, 0) + row.count
        share = shares.get(row.key_id)
        if share is not None:
            share.tally.add(row.status, row.count)
            share.last_at = row.last_at if share.last_at is None else max(share.last_at, row.last_at)
        if row.status == FORBIDDEN and row.operation in ABILITY_SET and row.operation not in held:
            count, last = refused.get(row.operation, (0, row.last_at))
            refused[row.operation] = (count + row.count, max(last, row.last_at))
    abilities = [
        AbilityUse(ability, operations[ability].last_at if ability in operations else None)
        for ability in ALL_ABILITIES
        if ability in held
    ]
    return UsageReport(
        days=list(chart.values()),
        operations=sorted(operations.values(), key=lambda o: (-o.tally.total, o.operation)),
        abilities=abilities,
        refused=[
            RefusedAbility(ability, count, last)
            for ability, (count, last) in sorted(refused.items(), key=lambda item: (-item[1][0], item[0]))
        ],
        totals=totals,
        window_days=days,
        keys=list(keys),
        shares=[share for share in reversed(shares.values()) if _shown(share)],
        history=history,
        counts=counts,
    )


def _shown(share: KeyShare) -> bool:
    # A dead old key without a request in the window says nothing; a rolling one at zero says
    # "nobody calls it any more", which is what the admin waits for before ending its grace.
    return share.key.current or share.key.rolling or share.last_at is not None


def history_of(keys: Sequence[ApiKey], days: int, now: datetime) -> History:
    """How far back the usage of ``keys`` goes, and whether it covers the last ``days`` days.

    It starts when the first of them was created, or at the oldest day the daily counts keep
    (``USAGE_DAILY_DAYS``), whichever is later.
    """
    kept_days = current_app.config["USAGE_DAILY_DAYS"]
    created = min(key.created_at for key in keys).astimezone(UTC)
    since = max(created, window_start(kept_days + 1, now))
    return History(since=since, days=max((now - since).days, 0), judged=since <= window_start(days, now))


def for_key(key: ApiKey, days: int = WINDOW_DAYS, now: datetime | None = None) -> UsageReport:
    """The usage report of ``key`` over the last ``days`` UTC days: its roll chain's for the
    chain's newest key, its own for a key that was rolled (``history.reported_keys``)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    chain = chain_keys(key)
    keys = reported_keys(key, chain)
    counts = daily_counts([member.id for member in keys], days, now)
    report = build(
        list(key.abilities),
        counts,
        days,
        now.date(),
        keys=[ReportedKey.of(member, key, now) for member in keys],
        history=history_of(keys, days, now),
    )
    if key.successor_id is None:
        return report
    return replace(report, newest_prefix=next((m.prefix for m in chain if m.successor_id is None), None))
