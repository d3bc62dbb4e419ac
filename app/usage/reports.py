"""The Usage section of a key's page (SPEC §13): one report over the last 30 UTC days.

Everything comes from one aggregate query (``history.daily_counts``: UTC day x operation x
status for the key's whole roll chain), at most days x operations x statuses rows however
many hourly rows lie behind it, and is folded here in Python:

* requests per day, stacked by outcome (Succeeded, Refused, Limited, Bad requests);
* one row per operation with its counts by outcome and its last request;
* each granted ability, used or unused. **Used** means at least one request to its operation
  in the window, whatever the outcome: an integration that calls it (even when refused for its
  address or limited) would break if it were removed;
* the abilities the key was refused. **Refused ability** means an ability operation with 403
  ``forbidden`` rows in the window that the key does not hold *now*; once granted, an ability
  leaves the list. Requests refused for their address (``ip_not_allowed``) are counted under
  an operation of their own (``IP_REFUSED_OPERATION``), whatever endpoint they asked for, so
  they neither mark an ability used nor offer to grant one: they show as their own line.

The counts come from the daily roll-up (``key_usage_daily``), which the flush writes with the
hourly rows: 30 days of a busy key are a few thousand rows at most. Decisions and measurements:
docs/decisions/003-usage-on-the-key-page.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from app.catalogue import ABILITY_SET, ALL_ABILITIES
from app.models.api_keys import ApiKey
from app.models.usage import IP_REFUSED_OPERATION, KEY_OPERATION, OTHER_OPERATION
from app.usage.history import OUTCOMES, SERVER_ERRORS, DayCount, chain_key_ids, daily_counts, outcome_of

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


@dataclass
class DayUsage:
    """One UTC day of the chart."""

    day: date
    tally: Tally = field(default_factory=Tally)


@dataclass
class OperationUsage:
    """One operation of the per-operation table."""

    operation: str
    tally: Tally = field(default_factory=Tally)
    last_at: datetime | None = None

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
    def unused(self) -> list[str]:
        """Granted abilities with no request in the window, in catalogue order."""
        return [use.ability for use in self.abilities if not use.used]

    @property
    def can_remove_unused(self) -> bool:
        """True when removing the unused abilities leaves the key at least one."""
        return bool(self.unused) and len(self.unused) < len(self.abilities)


def build(granted: list[str], counts: list[DayCount], days: int, today: date) -> UsageReport:
    """Fold per-day counts into the report for a key holding ``granted`` (pure: no queries)."""
    first = today - timedelta(days=days - 1)
    chart = {first + timedelta(days=n): DayUsage(first + timedelta(days=n)) for n in range(days)}
    operations: dict[str, OperationUsage] = {}
    refused: dict[str, tuple[int, datetime]] = {}
    totals = Tally()
    held = set(granted)
    for row in counts:
        if row.day in chart:
            chart[row.day].tally.add(row.status, row.count)
        totals.add(row.status, row.count)
        usage = operations.setdefault(row.operation, OperationUsage(row.operation))
        usage.tally.add(row.status, row.count)
        usage.last_at = row.last_at if usage.last_at is None else max(usage.last_at, row.last_at)
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
    )


def for_key(key: ApiKey, days: int = WINDOW_DAYS, now: datetime | None = None) -> UsageReport:
    """The usage report of ``key`` and its roll chain over the last ``days`` UTC days."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    counts = daily_counts(chain_key_ids(key), days, now)
    return build(list(key.abilities), counts, days, now.date())


def unused_abilities(key: ApiKey, days: int = WINDOW_DAYS, now: datetime | None = None) -> list[str]:
    """The abilities ``key`` holds that its roll chain did not request in the last ``days`` days."""
    return for_key(key, days, now).unused
