"""The audit log (SPEC §12): append-only events, one row per change, never a secret."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

ACTOR_MAX_LENGTH = 254
ACTION_MAX_LENGTH = 40
# An IPv6 address in text is at most 45 characters.
ADDRESS_MAX_LENGTH = 45

# The actions of SPEC §12 (and §15's user.*); no other is written.
ACTIONS = (
    "key.created",
    "key.updated",
    "key.activated",
    "key.deactivated",
    "key.revoked",
    "key.rolled",
    "key.roll_ended",
    "user.created",
    "user.deactivated",
    "user.reactivated",
    "user.password_reset",
    "session.signed_in",
    "session.sign_in_failed",
    "session.signed_out",
)


class AuditEvent(db.Model):
    """One recorded change: when, who, what, which key, and the details."""

    __tablename__ = "audit_events"
    __table_args__ = (
        # Newest first, per key and per actor: the log page, the key's page and `flask audit list`.
        Index("ix_audit_events_created_at", "created_at"),
        Index("ix_audit_events_key_prefix_created_at", "key_prefix", "created_at"),
        Index("ix_audit_events_actor_created_at", "actor", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The admin's email, or "cli" for the command line.
    actor: Mapped[str] = mapped_column(String(ACTOR_MAX_LENGTH))
    action: Mapped[str] = mapped_column(String(ACTION_MAX_LENGTH))
    key_prefix: Mapped[str | None] = mapped_column(String(12), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    address: Mapped[str | None] = mapped_column(String(ADDRESS_MAX_LENGTH), nullable=True)

    def __repr__(self) -> str:
        return f"<AuditEvent {self.action} {self.key_prefix or ''} by {self.actor}>"
