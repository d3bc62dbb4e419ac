"""The Usage report of a key (SPEC §13): per day by outcome, per operation, used and unused
abilities, refused abilities, over the whole roll chain and 30 UTC days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from app import usage
from app.extensions import db
from app.keys import rolling, service
from app.usage import reports
from app.usage.history import BAD_REQUESTS, LIMITED, REFUSED, SUCCEEDED, DayCount
from tests.conftest import TEST_ACTOR
from tests.usage.usage_rows import add_usage, created_days_ago, days_ago

# Both databases: reports: grouping and time buckets in SQL.
pytestmark = pytest.mark.both_databases

NOW = datetime(2026, 3, 20, 15, 30, tzinfo=UTC)
TODAY = NOW.date()


def _row(day: date, operation: str, status: int, count: int, hour: int = 12) -> DayCount:
    return DayCount(day, operation, status, count, datetime(day.year, day.month, day.day, hour, tzinfo=UTC))


def test_days_stack_by_outcome_over_thirty_days() -> None:
    counts = [
        _row(TODAY, "products:list", 200, 10),
        _row(TODAY, "products:list", 304, 2),
        _row(TODAY, "products:list", 401, 1),
        _row(TODAY, "customers:list", 403, 3),
        _row(TODAY, "products:list", 429, 4),
        _row(TODAY, "products:show", 404, 5),
        _row(TODAY, "products:list", 400, 1),
        _row(TODAY, "products:list", 500, 7),  # a server error: counted apart, never charted
        _row(TODAY - timedelta(days=29), "products:list", 200, 6),
    ]
    report = reports.build(["products:list", "products:show"], counts, 30, TODAY)
    assert len(report.days) == 30
    assert report.first_day == TODAY - timedelta(days=29)
    assert report.last_day == TODAY
    today = report.days[-1].tally
    assert today.by_outcome == {SUCCEEDED: 12, REFUSED: 4, LIMITED: 4, BAD_REQUESTS: 6}
    assert today.total == 26
    assert today.server_errors == 7
    assert report.days[0].tally.by_outcome[SUCCEEDED] == 6
    assert all(day.tally.total == 0 for day in report.days[1:-1])
    assert report.totals.total == 32
    assert report.busiest.day == TODAY


def test_each_operation_has_its_counts_and_latest_use() -> None:
    counts = [
        _row(TODAY - timedelta(days=3), "products:list", 200, 5, hour=9),
        _row(TODAY, "products:list", 200, 1, hour=8),
        _row(TODAY, "products:list", 429, 2, hour=14),
        _row(TODAY, "key", 200, 1, hour=10),
        _row(TODAY, "other", 404, 9, hour=11),
    ]
    report = reports.build(["products:list"], counts, 30, TODAY)
    by_name = {op.operation: op for op in report.operations}
    assert [op.operation for op in report.operations] == ["other", "products:list", "key"]  # busiest first
    assert by_name["products:list"].tally.by_outcome[SUCCEEDED] == 6
    assert by_name["products:list"].tally.by_outcome[LIMITED] == 2
    assert by_name["products:list"].last_at == datetime(2026, 3, 20, 14, tzinfo=UTC)
    assert by_name["key"].label == "Key introspection (GET /api/v1/key)"
    assert by_name["other"].tally.by_outcome[BAD_REQUESTS] == 9


def test_a_granted_ability_is_used_when_requested_whatever_the_outcome() -> None:
    counts = [
        _row(TODAY, "products:list", 429, 1),  # limited, but the integration calls it
        _row(TODAY, "inventory:list", 403, 1),  # refused before it was granted
    ]
    granted = ["products:show", "inventory:list", "products:list"]
    report = reports.build(granted, counts, 30, TODAY)
    assert [(use.ability, use.used) for use in report.abilities] == [
        ("products:list", True),
        ("products:show", False),
        ("inventory:list", True),
    ]  # catalogue order
    assert report.unused == ["products:show"]
    assert report.can_remove_unused


def test_a_key_whose_every_ability_is_unused_cannot_be_emptied() -> None:
    report = reports.build(["products:list", "products:show"], [], 30, TODAY)
    assert report.unused == ["products:list", "products:show"]
    assert not report.can_remove_unused


def test_refused_abilities_are_403s_for_abilities_the_key_lacks() -> None:
    counts = [
        _row(TODAY - timedelta(days=2), "customers:list", 403, 2, hour=7),
        _row(TODAY, "customers:list", 403, 1, hour=9),
        _row(TODAY, "suppliers:show", 403, 5),
        _row(TODAY, "products:list", 403, 4),  # held now: granted since it was refused
        _row(TODAY, "key", 403, 1),  # introspection is no ability
        _row(TODAY, "warehouses:list", 401, 3),  # 401 is no ability refusal
    ]
    report = reports.build(["products:list"], counts, 30, TODAY)
    assert [(r.ability, r.count, r.last_at) for r in report.refused] == [
        ("suppliers:show", 5, datetime(2026, 3, 20, 12, tzinfo=UTC)),
        ("customers:list", 3, datetime(2026, 3, 20, 9, tzinfo=UTC)),
    ]


def test_report_counts_real_requests(app: Flask, client: FlaskClient, make_key: Any) -> None:
    created = make_key(abilities=["products:list", "products:show"])
    headers = {"X-API-Key": created.raw_key}
    for _ in range(3):
        assert client.get("/api/v1/products", headers=headers).status_code == 200
    for _ in range(2):
        assert client.get("/api/v1/customers", headers=headers).status_code == 403
    assert client.get("/api/v1/products/999999", headers=headers).status_code == 404
    assert client.get("/api/v1/key", headers=headers).status_code == 200
    with app.app_context():
        usage.flush()
        report = reports.for_key(service.get_key(created.key.prefix))
    assert report.totals.by_outcome == {SUCCEEDED: 4, REFUSED: 2, LIMITED: 0, BAD_REQUESTS: 1}
    assert report.days[-1].tally.total == 7
    assert [(r.ability, r.count) for r in report.refused] == [("customers:list", 2)]
    assert [(u.ability, u.used) for u in report.abilities] == [
        ("products:list", True),
        ("products:show", True),
    ]
    assert {op.operation for op in report.operations} == {
        "products:list",
        "products:show",
        "customers:list",
        "key",
    }


def test_only_the_last_thirty_utc_days_count(app: Flask, make_key: Any) -> None:
    prefix = make_key(abilities=["products:list", "products:show"]).key.prefix
    created_days_ago(app, prefix, 40)
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    add_usage(
        app,
        prefix,
        (midnight - timedelta(days=29), "products:list", 200, 3),  # first hour of the window
        (midnight - timedelta(days=29, seconds=1), "products:show", 200, 8),  # just before it
    )
    with app.app_context():
        report = reports.for_key(service.get_key(prefix), now=now)
    assert report.totals.total == 3
    assert report.unused == ["products:show"]


def test_a_rolled_keys_history_counts_on_its_successor(app: Flask, make_key: Any) -> None:
    old = make_key(abilities=["products:list", "inventory:list"]).key
    created_days_ago(app, old.prefix, 40)
    add_usage(
        app, old.prefix, (days_ago(3), "products:list", 200, 11), (days_ago(1), "customers:list", 403, 2)
    )
    with app.app_context():
        new = rolling.roll_key(old.prefix, actor=TEST_ACTOR, grace="1h").key
        add_usage(app, new.prefix, (days_ago(0), "inventory:list", 200, 4))
        report = reports.for_key(service.get_key(new.prefix))
        old_report = reports.for_key(service.get_key(old.prefix))
    assert report.totals.total == 17
    assert report.judged and report.unused == []
    assert [(r.ability, r.count) for r in report.refused] == [("customers:list", 2)]
    # Each key's share apart, newest first.
    assert [(share.key.prefix, share.key.role, share.tally.total) for share in report.shares] == [
        (new.prefix, "this key", 4),
        (old.prefix, "old key, rolling", 13),
    ]
    # The old key's report holds its own requests only, and names the key that holds them all.
    assert old_report.totals.total == 13
    assert not old_report.split and old_report.newest_prefix == new.prefix
    assert old_report.unused == ["inventory:list"]


def test_a_chain_report_keeps_each_keys_share_per_day_and_operation() -> None:
    old = reports.ReportedKey(1, "sgk_OLDOLD01", current=False, sunset_at=NOW, rolling=True)
    new = reports.ReportedKey(2, "sgk_NEWNEW02")
    counts = [
        DayCount(TODAY, "products:list", 200, 5, NOW - timedelta(hours=2), key_id=1),
        DayCount(TODAY, "products:list", 200, 7, NOW - timedelta(hours=1), key_id=2),
        DayCount(TODAY, "products:list", 500, 2, NOW, key_id=1),
        DayCount(TODAY - timedelta(days=1), "customers:list", 403, 3, NOW - timedelta(days=1), key_id=1),
    ]
    report = reports.build(["products:list"], counts, 30, TODAY, keys=[old, new])
    assert report.split
    assert report.days[-1].by_key[1].total == 5 and report.days[-1].by_key[2].total == 7
    assert report.days[-2].by_key == {1: report.days[-2].tally}
    (products,) = [op for op in report.operations if op.operation == "products:list"]
    assert products.by_key == {1: 5, 2: 7}
    shares = {share.key.prefix: share for share in report.shares}
    assert list(shares) == ["sgk_NEWNEW02", "sgk_OLDOLD01"]
    assert shares["sgk_OLDOLD01"].tally.total == 8 and shares["sgk_OLDOLD01"].tally.requests == 10
    assert shares["sgk_OLDOLD01"].last_at == NOW


def test_a_dead_old_key_without_requests_is_left_out_and_a_rolling_one_shows_at_zero() -> None:
    dead = reports.ReportedKey(1, "sgk_DEADDEAD", current=False, sunset_at=NOW - timedelta(days=9))
    rolling_key = reports.ReportedKey(2, "sgk_ROLLING2", current=False, sunset_at=NOW, rolling=True)
    new = reports.ReportedKey(3, "sgk_NEWNEW03")
    report = reports.build(["products:list"], [], 30, TODAY, keys=[dead, rolling_key, new])
    assert [(share.key.prefix, share.last_at) for share in report.shares] == [
        ("sgk_NEWNEW03", None),
        ("sgk_ROLLING2", None),
    ]


@pytest.mark.parametrize(
    ("created", "judged", "history_days"),
    [
        (timedelta(minutes=3), False, 0),
        # The window starts at midnight UTC 29 days before today (NOW is 15:30): a key created a
        # minute after it is not judged, one created a minute before it is.
        (timedelta(days=29, hours=15, minutes=29), False, 29),
        (timedelta(days=29, hours=15, minutes=31), True, 29),
        (timedelta(days=400), True, 400),
    ],
)
def test_abilities_are_judged_once_the_history_covers_the_window(
    app: Flask, make_key: Any, created: timedelta, judged: bool, history_days: int
) -> None:
    prefix = make_key(abilities=["products:list", "products:show"]).key.prefix
    with app.app_context():
        key = service.get_key(prefix)
        key.created_at = NOW - created
        report = reports.for_key(key, now=NOW)
    assert report.history is not None
    assert (report.judged, report.history.days) == (judged, history_days)
    assert report.not_requested == ["products:list", "products:show"]
    assert report.unused == (["products:list", "products:show"] if judged else [])
    assert report.can_remove_unused is False


def test_the_history_starts_no_earlier_than_the_daily_counts_kept(app: Flask, make_key: Any) -> None:
    """With daily counts kept 30 days, a 90-day window cannot be judged, however old the key."""
    app.config["USAGE_DAILY_DAYS"] = 30
    prefix = make_key(abilities=["products:list"]).key.prefix
    with app.app_context():
        key = service.get_key(prefix)
        key.created_at = NOW - timedelta(days=400)
        wide = reports.for_key(key, days=90, now=NOW)
        month = reports.for_key(key, days=30, now=NOW)
    assert wide.history is not None and (wide.judged, wide.history.days) == (False, 30)
    assert month.judged


def test_every_view_reads_the_daily_roll_up_fresh(app: Flask, make_key: Any) -> None:
    """Counts that reach an old day late (a worker's delayed flush) show on the next view."""
    prefix = make_key(abilities=["products:list"]).key.prefix
    add_usage(app, prefix, (days_ago(5), "products:list", 200, 10))
    with app.app_context():
        key = service.get_key(prefix)
        assert reports.for_key(key).totals.total == 10
        add_usage(app, prefix, (days_ago(0), "products:list", 200, 1), (days_ago(6), "products:list", 429, 4))
        assert reports.for_key(key).totals.total == 15


def test_the_daily_roll_up_is_the_sum_of_its_hours(app: Flask, make_key: Any) -> None:
    """Flushes write both tables in one transaction: per day, operation and status they agree."""
    prefix = make_key(abilities=["products:list"]).key.prefix
    for hours in (1, 2, 3, 30, 31, 50):
        moment = days_ago(0, hours)
        add_usage(app, prefix, (moment, "products:list", 200, hours), (moment, "key", 401, 1))
    add_usage(app, prefix, (days_ago(0, 1), "products:list", 200, 5))
    with app.app_context():
        hourly = db.session.execute(text("SELECT hour, operation, status, count FROM key_usage_hourly")).all()
        daily = db.session.execute(text("SELECT day, operation, status, count FROM key_usage_daily")).all()
    summed: dict[tuple[str, str, int], int] = {}
    for hour, operation, status, count in hourly:
        day = str(hour)[:10]
        summed[day, operation, status] = summed.get((day, operation, status), 0) + count
    assert {(str(day)[:10], operation, status): count for day, operation, status, count in daily} == summed
    assert sum(summed.values()) == sum((1, 2, 3, 30, 31, 50)) + 6 + 5
