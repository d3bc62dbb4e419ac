"""API keys: only the prefix and a bcrypt hash of the whole key are stored."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ColumnElement,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    and_,
    or_,
)
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow
from app.models.users import User

RATE_LIMIT_MIN = 1
RATE_LIMIT_MAX = 100_000
RATE_LIMIT_DEFAULT = 60
NAME_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 500
# pg_trgm's GIN operator class for the substring search's columns.
TRIGRAMS = {"name": "gin_trgm_ops", "prefix": "gin_trgm_ops"}


class KeyStatus(enum.StrEnum):
    """Stored status. *Expired* is not stored: it is derived from ``expires_at``."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    # Final: a revoked key can never be activated again.
    REVOKED = "revoked"


class KeyState(enum.StrEnum):
    """What a key is at a given time, derived from its stored status, expiry and roll (``ApiKey.state``)."""

    ACTIVE = "active"
    # Rolled, in its grace period: it still works until its cutover (``sunset_at``).
    ROLLING = "rolling"
    INACTIVE = "inactive"
    REVOKED = "revoked"
    # Rolled and past its cutover: dead for good, whatever its stored status says.
    ROLLED = "rolled"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        """The state as people read it (Active, Rolling, ...)."""
        return self.value.capitalize()


class ApiKey(db.Model):
    """One API key: who owns it, what it may do, how fast, until when."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(f"rate_limit BETWEEN {RATE_LIMIT_MIN} AND {RATE_LIMIT_MAX}", name="rate_limit_range"),
        # The panel's sortable columns: ORDER BY ... LIMIT 26 walks an index instead of sorting
        # every key.
        Index("ix_api_keys_name", "name"),
        Index("ix_api_keys_rate_limit", "rate_limit"),
        Index("ix_api_keys_expires_at", "expires_at"),
        Index("ix_api_keys_last_used_at", "last_used_at"),
        # Substring search (app.keys.search): ILIKE '%q%' uses these on PostgreSQL. SQLite's
        # FTS5 table is no index a model can declare; app.keys.search creates it.
        Index("ix_api_keys_name_trgm", "name", postgresql_using="gin", postgresql_ops=TRIGRAMS).ddl_if(
            dialect="postgresql"
        ),
        Index("ix_api_keys_prefix_trgm", "prefix", postgresql_using="gin", postgresql_ops=TRIGRAMS).ddl_if(
            dialect="postgresql"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    # "sgk_" + key id: unique, indexed, the only part of the key anyone sees again.
    prefix: Mapped[str] = mapped_column(String(12), unique=True, index=True)
    key_hash: Mapped[str] = mapped_column(String(60))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    abilities: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[KeyStatus] = mapped_column(
        Enum(KeyStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=KeyStatus.ACTIVE,
        index=True,
    )
    rate_limit: Mapped[int] = mapped_column(Integer, default=RATE_LIMIT_DEFAULT)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    description: Mapped[str | None] = mapped_column(String(DESCRIPTION_MAX_LENGTH), nullable=True)
    # CIDR ranges in canonical form ("203.0.113.0/24", "2001:db8::/32"); empty: any address.
    allowed_ips: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # Data scope (SPEC §16); empty lists narrow nothing. Warehouse codes, Amazon marketplaces
    # ("Amazon.ca") and the catalogue's field groups the key may not see ("costs", ...).
    warehouses: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    marketplaces: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    hidden_fields: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # Rolling (SPEC §12): the old key points at its successor and stops working at sunset_at.
    successor_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), nullable=True, index=True)
    sunset_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The rate-limit bucket: the prefix of the first key of a roll chain, so old and new keys
    # draw on one bucket. None: the key's own prefix.
    bucket: Mapped[str | None] = mapped_column(String(12), nullable=True)

    owner: Mapped[User] = relationship(foreign_keys=[owner_id], lazy="joined")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    successor: Mapped[ApiKey | None] = relationship(remote_side=[id], foreign_keys=[successor_id])

    @property
    def is_scoped(self) -> bool:
        """Whether the key's data scope (SPEC §16) narrows its records or hides any field."""
        return bool(self.warehouses or self.marketplaces or self.hidden_fields)

    @property
    def bucket_name(self) -> str:
        """The name of the rate-limit bucket this key counts against."""
        return self.bucket or self.prefix

    @classmethod
    def in_chain(cls, bucket: str) -> ColumnElement[bool]:
        """SQL: the key belongs to the roll chain whose bucket is ``bucket`` (the first key's
        prefix, which that key holds as its prefix and every later key as ``bucket``)."""
        return or_(cls.bucket == bucket, cls.prefix == bucket)

    # Key state, owned here: each test is a hybrid, the same rule in Python (``key.is_expired(now)``)
    # and in SQL (``ApiKey.is_expired(now)`` in a ``WHERE``), so the API, the panel's filters, the
    # CLI and the jobs all ask the model instead of spelling the rule again. ``now`` defaults to
    # the current time.

    @hybrid_method
    def is_expired(self, now: datetime | None = None) -> bool:
        """The key has an expiry and it has passed."""
        now = now or utcnow()
        return self.expires_at is not None and self.expires_at <= now

    @is_expired.inplace.expression
    @classmethod
    def _is_expired_sql(cls, now: datetime | None = None) -> ColumnElement[bool]:
        now = now or utcnow()
        return and_(cls.expires_at.is_not(None), cls.expires_at <= now)

    @hybrid_method
    def is_rolling(self, now: datetime | None = None) -> bool:
        """The key was rolled and its grace period has not ended: it works until ``sunset_at``."""
        now = now or utcnow()
        return self.successor_id is not None and self.sunset_at is not None and self.sunset_at > now

    @is_rolling.inplace.expression
    @classmethod
    def _is_rolling_sql(cls, now: datetime | None = None) -> ColumnElement[bool]:
        now = now or utcnow()
        return and_(cls.successor_id.is_not(None), cls.sunset_at.is_not(None), cls.sunset_at > now)

    @hybrid_method
    def is_past_cutover(self, now: datetime | None = None) -> bool:
        """The key was rolled and its cutover has passed: dead for good (the API answers
        ``key_rolled``), whatever its stored status."""
        now = now or utcnow()
        return self.successor_id is not None and (self.sunset_at is None or self.sunset_at <= now)

    @is_past_cutover.inplace.expression
    @classmethod
    def _is_past_cutover_sql(cls, now: datetime | None = None) -> ColumnElement[bool]:
        now = now or utcnow()
        return and_(cls.successor_id.is_not(None), or_(cls.sunset_at.is_(None), cls.sunset_at <= now))

    @hybrid_method
    def is_working(self, now: datetime | None = None) -> bool:
        """The API serves the key: active, not expired, not past a roll's cutover."""
        now = now or utcnow()
        return self.status is KeyStatus.ACTIVE and not self.is_expired(now) and not self.is_past_cutover(now)

    @is_working.inplace.expression
    @classmethod
    def _is_working_sql(cls, now: datetime | None = None) -> ColumnElement[bool]:
        now = now or utcnow()
        return and_(
            cls.status == KeyStatus.ACTIVE,
            or_(cls.expires_at.is_(None), cls.expires_at > now),
            or_(cls.successor_id.is_(None), and_(cls.sunset_at.is_not(None), cls.sunset_at > now)),
        )

    @hybrid_method
    def is_over_lifetime(self, now: datetime, latest: datetime) -> bool:
        """Over a lifetime policy whose latest allowed expiry at ``now`` is ``latest``: a working key,
        not in a roll's grace period (its cutover ends it soon anyway), that expires later or never.

        Judged against now, as a new expiry is (``app.keys.inputs.lifetime_error``): a key whose
        expiry would be accepted today is never flagged, one that would be refused is."""
        return (
            self.is_working(now)
            and not self.is_rolling(now)
            and (self.expires_at is None or self.expires_at > latest)
        )

    @is_over_lifetime.inplace.expression
    @classmethod
    def _is_over_lifetime_sql(cls, now: datetime, latest: datetime) -> ColumnElement[bool]:
        return and_(
            cls.is_working(now),
            ~cls.is_rolling(now),
            or_(cls.expires_at.is_(None), cls.expires_at > latest),
        )

    def state(self, now: datetime | None = None) -> KeyState:
        """What the key is at ``now``, in the order the API refuses a key: revoked, inactive,
        rolled (past its cutover), expired; else rolling (in its grace period) or active."""
        now = now or utcnow()
        if self.status is KeyStatus.REVOKED:
            return KeyState.REVOKED
        if self.status is KeyStatus.INACTIVE:
            return KeyState.INACTIVE
        if self.is_past_cutover(now):
            return KeyState.ROLLED
        if self.is_expired(now):
            return KeyState.EXPIRED
        return KeyState.ROLLING if self.is_rolling(now) else KeyState.ACTIVE

    def display_status(self, now: datetime | None = None) -> str:
        """Return the status shown to people: Active, Rolling, Rolled, Inactive, Expired or Revoked."""
        return self.state(now).label

    def __repr__(self) -> str:
        return f"<ApiKey {self.prefix} {self.name!r}>"
