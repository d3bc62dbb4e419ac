"""Recording and reading audit events (SPEC §12).

``record`` adds the event to the current session and does not commit: the service that makes
the change commits both together, so an event exists exactly when its change does. Events are
never updated or deleted by the application: this module only adds and reads.

What an event keeps is made safe to read here, once, for every reader (the Audit Log page, a
key's history, ``flask audit list``): the actor and every text in the details have invisible
and control characters written as ``\\u200b``-style escapes (``untrusted.visible``), so a fake
``ops\\u200b@example.com`` reads differently from ``ops@example.com`` and a bidi override cannot
reorder a line; the client address is stored as ``ipaddress`` writes it, or
``invalid address`` when it is none (a proxy may pass any text in ``X-Forwarded-For``), so it
always fits its column. Events written before this rule are shown as they were stored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import has_request_context, request
from sqlalchemy import Row, Select, func, or_, select

from app.audit.security_log import redact
from app.extensions import db
from app.models.audit import ACTIONS, ACTOR_MAX_LENGTH, AuditEvent
from app.validation.untrusted import visible

CLI_ACTOR = "cli"
INVALID_ADDRESS = "invalid address"


def client_address() -> str | None:
    """The client's address for this request (as ProxyFix made it trusted), or None outside one."""
    return request.remote_addr if has_request_context() else None


def stored_address(address: str | None) -> str | None:
    """``address`` as the audit log keeps it: an IP as ``ipaddress`` writes it, else ``invalid address``."""
    if address is None:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return INVALID_ADDRESS
    # Rebuilt from its bytes: without an IPv6 zone ("%eth0", any length, the server's interface
    # anyway), so at most 45 characters (ADDRESS_MAX_LENGTH).
    return str(ipaddress.ip_address(ip.packed))


def _visible_details(value: Any) -> Any:
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, dict):
        return {visible(str(name)): _visible_details(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [_visible_details(item) for item in value]
    return value


def _visible_actor(actor: str) -> str:
    shown = visible(actor)
    # Escapes lengthen the text; an actor cut short says so rather than failing the change.
    return shown if len(shown) <= ACTOR_MAX_LENGTH else shown[: ACTOR_MAX_LENGTH - 1] + "…"


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
        actor=_visible_actor(actor),
        action=action,
        key_prefix=key_prefix,
        details=_visible_details(redact(details or {})),
        address=stored_address(address if address is not None else client_address()),
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


def sign_in_addresses(actor: str, *, since: datetime, limit: int) -> list[str]:
    """The addresses ``actor`` signed in from since ``since``, latest first (at most ``limit``)."""
    last_seen = func.max(AuditEvent.created_at)
    stmt = (
        select(AuditEvent.address)
        .where(
            AuditEvent.actor == _visible_actor(actor),
            AuditEvent.action == "session.signed_in",
            AuditEvent.created_at >= since,
            AuditEvent.address.is_not(None),
        )
        .group_by(AuditEvent.address)
        .order_by(last_seen.desc())
        .limit(limit)
    )
    return [address for address in db.session.scalars(stmt) if address is not None]


def _newest_first(stmt: Select[tuple[AuditEvent]]) -> Select[tuple[AuditEvent]]:
    # id breaks ties between events of the same instant, so pages never overlap.
    return stmt.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())


def events_for_key(prefix: str, limit: int = 50) -> list[AuditEvent]:
    """The newest ``limit`` events of the key with this prefix, newest first."""
    stmt = select(AuditEvent).where(AuditEvent.key_prefix == prefix)
    return list(db.session.scalars(_newest_first(stmt).limit(limit)))


def creator_of(prefix: str) -> str | None:
    """Who created the key with this prefix, as its ``key.created`` event names them (an admin's
    email, or ``cli``); None for a key made before the audit log existed.

    The one answer to "created by" (the key's page reads it here): the key's ``created_by``
    column can only point at a user, so it is empty for keys the command line made.
    """
    stmt = (
        select(AuditEvent.actor)
        .where(AuditEvent.key_prefix == prefix, AuditEvent.action == "key.created")
        .order_by(AuditEvent.created_at, AuditEvent.id)
        .limit(1)
    )
    return db.session.scalar(stmt)


def event_query(
    *,
    q: str = "",
    key_prefix: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select[tuple[AuditEvent]]:
    """Events matching every filter given, newest first: the one WHERE of the Audit Log page, its
    CSV export and ``flask audit list``.

    ``q``: actor, key prefix or action contains it (any case; ``%`` and ``_`` match literally);
    ``key_prefix``, ``actor`` (case-insensitive), ``action``: equal; ``since`` and ``until``:
    the event's time is within them, both included.
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
    if key_prefix:
        stmt = stmt.where(AuditEvent.key_prefix == key_prefix)
    if actor:
        # Emails are stored lower-cased (as accounts normalise them), so equality can use the index.
        stmt = stmt.where(AuditEvent.actor == _visible_actor(actor.strip().lower()))
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if since is not None:
        stmt = stmt.where(AuditEvent.created_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.created_at <= until)
    return _newest_first(stmt)


def list_events(*, limit: int = 50, **filters: Any) -> list[AuditEvent]:
    """The newest ``limit`` events matching ``filters`` (those of ``event_query``)."""
    return list(db.session.scalars(event_query(**filters).limit(limit)))


# How many rows an export holds in memory at a time (one round trip each on PostgreSQL's
# server-side cursor), whatever the number of events.
EXPORT_BATCH = 1_000


def stream_events(limit: int | None = None, **filters: Any) -> Iterator[Row[Any]]:
    """The events matching ``filters`` (those of ``event_query``), newest first, read in batches of
    ``EXPORT_BATCH`` rows (``yield_per``), so an export of any size holds one batch at a time.

    Rows of the exported columns (``app.audit.export.COLUMNS``), not ORM objects: nothing enters
    the session's identity map.
    """
    stmt = event_query(**filters).with_only_columns(
        AuditEvent.created_at,
        AuditEvent.actor,
        AuditEvent.action,
        AuditEvent.key_prefix,
        AuditEvent.details,
        AuditEvent.address,
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    yield from db.session.execute(stmt.execution_options(yield_per=EXPORT_BATCH))


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


def search_events(q: str = "", page: int = 1, per_page: int = 50, **filters: Any) -> EventPage:
    """Events matching ``q`` and ``filters`` (those of ``event_query``), newest first, paged.

    One row more than a page is fetched instead of counting.
    """
    stmt = event_query(q=q, **filters).offset((page - 1) * per_page).limit(per_page + 1)
    events = list(db.session.scalars(stmt))
    return EventPage(events=events[:per_page], page=page, has_next=len(events) > per_page)
