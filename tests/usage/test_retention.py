"""Retention of usage counts (SPEC §13): rows older than USAGE_HOURLY_DAYS / USAGE_DAILY_DAYS are
deleted in bounded batches by the periodic flush and by `flask usage prune`, on both databases
(the delete differs: rowid on SQLite, ctid on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select

from app import usage
from app.extensions import db
from app.models.usage import KeyUsage, KeyUsageDaily
from app.usage import retention
from tests.usage.usage_rows import add_usage, days_ago, hour_of


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Short limits, so the ages read easily: hourly rows kept 10 days, daily rows 40."""
    return {**app_config, "USAGE_HOURLY_DAYS": 10, "USAGE_DAILY_DAYS": 40}


def _hours(app: Flask) -> list[datetime]:
    with app.app_context():
        return list(db.session.scalars(select(KeyUsage.hour).order_by(KeyUsage.hour)))


def _days(app: Flask) -> list[date]:
    with app.app_context():
        return list(db.session.scalars(select(KeyUsageDaily.day).order_by(KeyUsageDaily.day)))


def _count(app: Flask, model: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def deletes(app: Flask) -> Iterator[list[int]]:
    """The rows each DELETE statement on a usage table removed, in order."""
    seen: list[int] = []

    def record(conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM KEY_USAGE"):
            seen.append(cursor.rowcount)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "after_cursor_execute", record)
    yield seen
    event.remove(engine, "after_cursor_execute", record)


def test_prune_deletes_rows_older_than_the_limits_and_keeps_newer_ones(
    app: Flask, runner: Any, make_key: Any
) -> None:
    prefix = make_key().key.prefix
    today, inside, past = days_ago(0), days_ago(9, 23), days_ago(10, 1)  # around 10 days
    day_inside, day_past = days_ago(38), days_ago(42)  # around 40 days
    moments = (today, inside, past, day_inside, day_past)
    add_usage(app, prefix, *[(moment, "products:list", 200, 1) for moment in moments])
    days_before = _days(app)
    result = runner.invoke(args=["usage", "prune"])
    assert result.exit_code == 0, result.output
    # Hourly: the three rows past 10 days go; daily: only the day past 40 days goes.
    assert _hours(app) == [hour_of(inside), hour_of(today)]
    assert _days(app) == sorted({moment.date() for moment in (today, inside, past, day_inside)})
    assert len(days_before) - len(_days(app)) == 1
    assert result.stdout == (
        "Deleted 4 usage row(s): hourly counts older than 10 days, daily counts older than 40 days.\n"
    )
    again = runner.invoke(args=["usage", "prune"])
    assert again.stdout.startswith("Deleted 0 usage row(s)")


def test_the_command_deletes_every_old_row_in_bounded_batches(
    app: Flask, runner: Any, make_key: Any, monkeypatch: pytest.MonkeyPatch, deletes: list[int]
) -> None:
    """With batches of 2 rows, 5 expired hourly rows go in three deletes: 2, 2 and 1."""
    monkeypatch.setattr(retention, "BATCH_SIZE", 2)
    prefix = make_key().key.prefix
    add_usage(app, prefix, *[(days_ago(11, hours), "products:list", 200, 1) for hours in range(5)])
    result = runner.invoke(args=["usage", "prune"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Deleted 5 usage row(s)")
    assert deletes == [2, 2, 1]
    assert _count(app, KeyUsage) == 0 and _count(app, KeyUsageDaily) >= 1


def test_the_periodic_flush_deletes_only_a_few_bounded_batches(
    app: Flask, client: Any, make_key: Any, monkeypatch: pytest.MonkeyPatch, deletes: list[int]
) -> None:
    """A flush writes the counts, then deletes at most FLUSH_STATEMENTS batches: a backlog drains
    over the next flushes instead of making one flush long."""
    monkeypatch.setattr(retention, "BATCH_SIZE", 2)
    monkeypatch.setattr(retention, "FLUSH_STATEMENTS", 2)
    created = make_key(abilities=["products:list"])
    prefix = created.key.prefix
    add_usage(app, prefix, *[(days_ago(11, hours), "products:list", 200, 1) for hours in range(5)])
    assert client.get("/api/v1/products", headers={"X-API-Key": created.raw_key}).status_code == 200
    assert usage.periodic_flush(app) == 4
    assert deletes == [2, 2]
    assert len(_hours(app)) == 2  # one expired row left, and the request just counted
    assert usage.periodic_flush(app) == 1
    assert usage.periodic_flush(app) == 0
    assert deletes == [2, 2, 1]
    assert len(_hours(app)) == 1


def test_a_failed_prune_does_not_fail_the_flush(
    app: Flask, client: Any, make_key: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    created = make_key(abilities=["products:list"])

    def broken(*_args: Any, **_kwargs: Any) -> int:
        raise RuntimeError("database gone")

    monkeypatch.setattr(retention, "prune", broken)
    assert client.get("/api/v1/products", headers={"X-API-Key": created.raw_key}).status_code == 200
    assert usage.periodic_flush(app) == 0
    assert "usage prune failed" in caplog.text
    assert _count(app, KeyUsage) == 1


def test_cutoffs_follow_the_settings() -> None:
    now = datetime.fromisoformat("2026-03-20T15:30:00+00:00")
    (hourly, hour_cutoff), (daily, day_cutoff) = retention.Retention(90, 730).cutoffs(now)
    assert (hourly.name, hour_cutoff) == ("hour", now - timedelta(days=90))
    assert (daily.name, day_cutoff) == ("day", date(2024, 3, 20))
