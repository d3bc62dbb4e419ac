"""Writing usage history as a flush would (hourly rows and their daily roll-up), for histories
too long to request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import select, update

from app.extensions import db
from app.models.api_keys import ApiKey
from app.usage.counting import UsageBuffer
from app.usage.store import Cell, add_counts


def hour_of(moment: datetime) -> datetime:
    """The start of the UTC hour of ``moment``."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def key_id(app: Flask, prefix: str) -> int:
    """The row id of the key with ``prefix``."""
    with app.app_context():
        return db.session.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix))


def add_usage(app: Flask, prefix: str, *rows: tuple[datetime, str, int, int]) -> None:
    """Store ``(moment, operation, status, count)`` rows for the key with ``prefix``; each row's
    last request is ``moment`` and it counts in ``moment``'s hour."""
    ident = key_id(app, prefix)
    buffer = UsageBuffer()
    for moment, operation, status, count in rows:
        buffer.add(Cell(ident, hour_of(moment), operation, status), moment.astimezone(UTC), count)
    with app.app_context(), db.engine.begin() as connection:
        add_counts(connection, buffer.drain())


def days_ago(days: int, hours: int = 0, now: datetime | None = None) -> datetime:
    """A moment ``days`` days and ``hours`` hours before now (UTC)."""
    return (now or datetime.now(UTC)) - timedelta(days=days, hours=hours)


def created_days_ago(app: Flask, prefix: str, days: int) -> None:
    """Make the key with ``prefix`` look created ``days`` days ago (older than a report's window,
    so its abilities are judged used or unused)."""
    with app.app_context():
        db.session.execute(update(ApiKey).where(ApiKey.prefix == prefix).values(created_at=days_ago(days)))
        db.session.commit()
