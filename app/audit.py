"""Recording audit events (SPEC §12) in the caller's transaction.

``record`` adds the event to the current session and does not commit: the service that makes
the change commits both together, so an event exists exactly when its change does. Events are
never updated or deleted by the application.
"""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from sqlalchemy import select

from app.extensions import db
from app.models.audit import ACTIONS, AuditEvent
from app.security_events import redact

CLI_ACTOR = "cli"


def client_address() -> str | None:
    """The client's address for this request (as ProxyFix made it trusted), or None outside one."""
    return request.remote_addr if has_request_context() else None


def record(
    action: str,
    *,
    actor: str,
    key_prefix: str | None = None,
    details: dict[str, Any] | None = None,
    address: str | None = None,
) -> AuditEvent:
    """Add one audit event to the current transaction (the caller commits it with its change)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    event = AuditEvent(
        actor=actor,
        action=action,
        key_prefix=key_prefix,
        details=redact(details or {}),
        address=address if address is not None else client_address(),
    )
    db.session.add(event)
    return event


def events_for_key(prefix: str, limit: int = 50) -> list[AuditEvent]:
    """The latest ``limit`` events about the key with ``prefix``, newest first."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.key_prefix == prefix)
        # Several events can share a timestamp (one transaction); the id keeps their order.
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))
