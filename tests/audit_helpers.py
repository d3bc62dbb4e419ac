"""Reading the audit log back in tests: every stored event as plain dicts, and the count."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models.audit import AuditEvent


def stored_events(app: Flask, **where: Any) -> list[dict[str, Any]]:
    """Every stored event (oldest first) as plain dicts, filtered by column values."""
    with app.app_context():
        stmt = select(AuditEvent).filter_by(**where).order_by(AuditEvent.id)
        return [
            {
                "actor": e.actor,
                "action": e.action,
                "key_prefix": e.key_prefix,
                "details": e.details,
                "address": e.address,
                "created_at": e.created_at,
            }
            for e in db.session.scalars(stmt)
        ]


def event_count(app: Flask) -> int:
    """How many events are stored."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent)) or 0
