"""Writing usage history straight into ``key_usage_hourly`` (for histories too long to request)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import insert, select

from app.extensions import db
from app.models.api_keys import ApiKey
from app.models.usage import KeyUsage


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
    with app.app_context():
        db.session.execute(
            insert(KeyUsage.__table__),
            [
                {
                    "key_id": ident,
                    "hour": hour_of(moment),
                    "operation": operation,
                    "status": status,
                    "count": count,
                    "last_at": moment.astimezone(UTC),
                }
                for moment, operation, status, count in rows
            ],
        )
        db.session.commit()


def days_ago(days: int, hours: int = 0, now: datetime | None = None) -> datetime:
    """A moment ``days`` days and ``hours`` hours before now (UTC)."""
    return (now or datetime.now(UTC)) - timedelta(days=days, hours=hours)
