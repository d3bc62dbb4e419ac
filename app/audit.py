"""Recording and reading audit events (SPEC §12).

``record`` adds the event to the current session and does not commit: the service that makes
the change commits both together, so an event exists exactly when its change does. Events are
never updated or deleted by the application: this module only adds and reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import has_request_context, request
from sqlalchemy import Select, or_, select

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


def record_now(
    action: str, *, actor: str, details: dict[str, Any] | None = None, address: str | None = None
) -> AuditEvent:
    """Record and commit an event that has no change of its own to ride with (a sign-in)."""
    event = record(action, actor=actor, details=details, address=address)
    db.session.commit()
    return event


def _newest_first(stmt: Select[tuple[AuditEvent]]) -> Select[tuple[AuditEvent]]:
    # id breaks ties between events of the same instant, so pages never overlap.
    return stmt.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())


def events_for_key(prefix: str, limit: int = 50) -> list[AuditEvent]:
    """The newest ``limit`` events of the key with this prefix, newest first."""
    stmt = select(AuditEvent).where(AuditEvent.key_prefix == prefix)
    return list(db.session.scalars(_newest_first(stmt).limit(limit)))


def list_events(
    *, key_prefix: str | None = None, actor: str | None = None, limit: int = 50
) -> list[AuditEvent]:
    """The newest ``limit`` events, optionally of one key and/or one actor (case-insensitive)."""
    stmt = select(AuditEvent)
    if key_prefix:
        stmt = stmt.where(AuditEvent.key_prefix == key_prefix)
    if actor:
        # Emails are stored lower-cased (as accounts normalise them), so equality can use the index.
        stmt = stmt.where(AuditEvent.actor == actor.strip().lower())
    return list(db.session.scalars(_newest_first(stmt).limit(limit)))


@dataclass(frozen=True)
class EventPage:
    """One page of events and whether there are pages either side."""

    events: list[AuditEvent]
    page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        """True when this is not the first page."""
        return self.page > 1


def search_events(q: str = "", page: int = 1, per_page: int = 50) -> EventPage:
    """Events whose actor, key prefix or action contains ``q`` (any case), newest first, paged.

    ``%`` and ``_`` match literally. One row more than a page is fetched instead of counting.
    """
    stmt = select(AuditEvent)
    text = q.strip()
    if text:
        stmt = stmt.where(
            or_(
                AuditEvent.actor.icontains(text, autoescape=True),
                AuditEvent.key_prefix.icontains(text, autoescape=True),
                AuditEvent.action.icontains(text, autoescape=True),
            )
        )
    stmt = _newest_first(stmt).offset((page - 1) * per_page).limit(per_page + 1)
    events = list(db.session.scalars(stmt))
    return EventPage(events=events[:per_page], page=page, has_next=len(events) > per_page)
