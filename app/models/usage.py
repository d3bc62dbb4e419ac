"""API usage per key (SPEC §13): one row per key, operation, status code and UTC hour."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime

OPERATION_MAX_LENGTH = 40
# The operation of a request to a path the API does not route (a 404 with a valid key).
OTHER_OPERATION = "other"
# The operation of ``GET /api/v1/key`` (introspection, no ability needed).
KEY_OPERATION = "key"
# The operation of a request refused for its address (403 ``ip_not_allowed``), whatever its
# endpoint: such a request says nothing about the abilities the key needs or uses.
IP_REFUSED_OPERATION = "ip_not_allowed"


class KeyUsage(db.Model):
    """How many requests one key made to one operation with one status in one UTC hour.

    Written only by ``app.usage`` flushes, as an upsert that adds to ``count``: writers in many
    processes never lose each other's counts. The primary key (key, hour, ...) is also the
    index every report reads: one key's rows for a time range.
    """

    __tablename__ = "key_usage_hourly"

    key_id: Mapped[int] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    # The start of the UTC hour (minutes, seconds and microseconds are zero). Indexed on its
    # own for retention (app.usage.retention): finding rows past the limit reads the index.
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True, index=True)
    # The ability the endpoint needs (``products:list``), ``key`` or ``other``.
    operation: Mapped[str] = mapped_column(String(OPERATION_MAX_LENGTH), primary_key=True)
    status: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer)
    # The latest request counted in this row: "last used" per operation, to the second.
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        when = f"{self.hour:%Y-%m-%d %H}h"
        return f"<KeyUsage key={self.key_id} {when} {self.operation} {self.status} x{self.count}>"


class KeyUsageDaily(db.Model):
    """The same counts rolled up per UTC day, written by the same flush as ``KeyUsage``.

    The key's page and ``flask keys usage`` read whole days: 30 days of a busy key are at most
    30 x operations x statuses rows here, against 24 times as many hourly rows.
    """

    __tablename__ = "key_usage_daily"

    key_id: Mapped[int] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    # Indexed on its own for retention, as ``KeyUsage.hour``.
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    operation: Mapped[str] = mapped_column(String(OPERATION_MAX_LENGTH), primary_key=True)
    status: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<KeyUsageDaily key={self.key_id} {self.day} {self.operation} {self.status} x{self.count}>"
