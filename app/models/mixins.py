"""Columns every back-office table shares, so ``updated_since`` and sorting work everywhere."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.models.types import UTCDateTime, utcnow


class DomainRecord:
    """Mixin: integer ``id``, ``created_at`` and an indexed ``updated_at`` refreshed on every update."""

    # sort_order: id first and the timestamps last in every table, whatever the subclass declares.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, sort_order=1)
    # Indexed: the API filters on it (``updated_since``) for incremental sync.
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, index=True, sort_order=1
    )


def str_enum(enum_class: type[enum.StrEnum], length: int = 32, **kwargs: Any) -> Enum:
    """A portable enum column type storing the member values as plain strings (no native enum)."""
    return Enum(
        enum_class,
        native_enum=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        **kwargs,
    )
