"""Geometry of the requests-per-day chart; ``panel/api_keys/_usage_chart.html`` draws it as SVG.

For a roll chain's report each bar stacks the old keys' requests first (drawn faded, and
named in the day's tooltip), then this key's, each by outcome: the chart shows at a glance
whether the old key is still called.

The SVG has a fixed ``viewBox`` and scales to its box, so one drawing serves 1280 px and
390 px wide screens; colours and the phone-size labels are CSS classes (the CSP forbids
inline styles). The numbers are only placed here: the data table beside the chart prints the
same report, so both always agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.usage.history import OUTCOMES
from app.usage.reports import DayUsage, ReportedKey, Tally, UsageReport

WIDTH = 800
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 64, 8, 16, 40
PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM
BAR_SHARE = 0.7  # of each day's slot; the rest is the gap between bars
# A segment of one request among thousands would vanish: draw at least this tall (in units).
MIN_SEGMENT = 1.0
# One CSS modifier per outcome, in stacking order (bottom first).
OUTCOME_CLASSES = dict(zip(OUTCOMES, ("succeeded", "refused", "limited", "bad"), strict=True))


@dataclass(frozen=True)
class Segment:
    """One outcome's part of a day's bar (of one key, in a roll chain's report)."""

    outcome: str
    css: str
    count: int
    y: float
    height: float
    # The key these requests were made with; ``older``: a key this one replaced (drawn faded).
    key_prefix: str | None = None
    older: bool = False


@dataclass(frozen=True)
class Bar:
    """One day: its slot, its stacked segments and the tooltip saying it in words."""

    x: float
    width: float
    label_x: float
    day: DayUsage
    segments: list[Segment]
    title: str


@dataclass(frozen=True)
class Tick:
    """A horizontal grid line with its value."""

    y: float
    label: str


@dataclass(frozen=True)
class DayLabel:
    """A date under the axis; ``minor`` ones are hidden on phone-width screens."""

    x: float
    text: str
    minor: bool
    # SVG text-anchor: today's label ends at its bar's right edge, so it never runs off the edge.
    anchor: str = "middle"


@dataclass(frozen=True)
class Chart:
    """Everything the SVG fragment places."""

    width: int
    height: int
    left: int
    right: float
    top: int
    bottom: float
    bars: list[Bar]
    ticks: list[Tick]
    labels: list[DayLabel]
    description: str
    # (outcome, CSS modifier) in stacking order, for the legend and the tables.
    outcomes: tuple[tuple[str, str], ...] = tuple(OUTCOME_CLASSES.items())


def compact(number: int) -> str:
    """A short axis label: 950, 1.2k, 15k, 1.5M."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if number >= size:
            value = number / size
            text = f"{value:.1f}".rstrip("0").rstrip(".") if value < 10 else f"{value:.0f}"
            return text + suffix
    return str(number)


def nice_step(peak: int, lines: int = 4) -> int:
    """A step of 1, 2 or 5 times a power of ten giving at most ``lines`` grid lines up to ``peak``."""
    if peak <= lines:
        return 1
    raw = peak / lines
    power = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if multiple * power >= raw:
            return multiple * power
    return 10 * power  # pragma: no cover  (10 * power always reaches raw)


def day_text(day: DayUsage) -> str:
    """A day as the chart says it: ``3 Mar``."""
    return f"{day.day.day} {day.day:%b}"


def _title(day: DayUsage, keys: list[ReportedKey]) -> str:
    parts = ", ".join(f"{day.tally.by_outcome[o]:,} {o.lower()}" for o in OUTCOMES if day.tally.by_outcome[o])
    total = day.tally.total
    words = f"{total:,} request{'' if total == 1 else 's'}"
    title = f"{day.day.day} {day.day:%b %Y}: {words}" + (f" ({parts})" if parts else "")
    if len(keys) > 1 and total:
        shares = [(key, day.by_key[key.id].total) for key in keys if key.id in day.by_key]
        title += "; " + ", ".join(f"{key.prefix} ({key.role}) {count:,}" for key, count in shares)
    return title


def _stacks(day: DayUsage, keys: list[ReportedKey]) -> list[tuple[ReportedKey | None, Tally]]:
    """What a day's bar stacks, bottom first: per key (oldest first) for a chain, else the day."""
    if len(keys) <= 1:
        return [(keys[0] if keys else None, day.tally)]
    return [(key, day.by_key[key.id]) for key in keys if key.id in day.by_key]


def describe(report: UsageReport) -> str:
    """The chart in one paragraph, for screen readers (the table holds every number)."""
    first, last = report.first_day, report.last_day
    span = f"from {first.day} {first:%b %Y} to {last.day} {last:%b %Y} (UTC)"
    totals = report.totals
    if not totals.total:
        return f"No requests {span}."
    parts = ", ".join(f"{totals.by_outcome[o]:,} {o.lower()}" for o in OUTCOMES)
    busiest = report.busiest
    return (
        f"Requests per day {span}: {totals.total:,} in all ({parts}). "
        f"Busiest day: {busiest.day.day} {busiest.day:%b} with {busiest.tally.total:,}."
    )


def layout(report: UsageReport) -> Chart:
    """Place the bars, grid lines and date labels of ``report``'s days."""
    peak = max((day.tally.total for day in report.days), default=0)
    step = nice_step(peak)
    top_value = max(step * math.ceil(peak / step), step * 2) if peak else 4
    scale = PLOT_HEIGHT / top_value
    baseline = TOP + PLOT_HEIGHT
    slot = PLOT_WIDTH / len(report.days)
    bar_width = round(slot * BAR_SHARE, 2)
    bars = []
    split = report.split
    for index, day in enumerate(report.days):
        x = LEFT + index * slot + (slot - bar_width) / 2
        y = float(baseline)
        segments = []
        for key, tally in _stacks(day, report.keys):
            for outcome in OUTCOMES:
                count = tally.by_outcome[outcome]
                if not count:
                    continue
                height = min(max(count * scale, MIN_SEGMENT), y - TOP)
                y -= height
                prefix = key.prefix if key is not None and split else None
                older = key is not None and split and not key.current
                css = OUTCOME_CLASSES[outcome]
                segments.append(Segment(outcome, css, count, round(y, 2), round(height, 2), prefix, older))
        title = _title(day, report.keys)
        bars.append(Bar(round(x, 2), bar_width, round(x + bar_width / 2, 2), day, segments, title))
    ticks = [
        Tick(round(baseline - value * scale, 2), compact(value))
        for value in range(0, top_value + 1, step if peak else 1)
    ]
    last = len(bars) - 1
    # Every fifth day counted back from today; every other one of them hides on a phone.
    labels = [
        DayLabel(bars[index].label_x, day_text(bars[index].day), minor=(last - index) % 10 != 0)
        for index in range(last - 5, -1, -5)
    ]
    today = bars[last]
    today_x = round(today.x + today.width, 2)
    labels.insert(0, DayLabel(today_x, day_text(today.day), minor=False, anchor="end"))
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        top=TOP,
        bottom=baseline,
        bars=bars,
        ticks=ticks,
        labels=labels,
        description=describe(report),
    )
