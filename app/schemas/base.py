"""The schema every module's record schema extends: id and timestamps."""

from __future__ import annotations

from marshmallow import Schema

from app.schemas import fields as f


class RecordSchema(Schema):
    """Fields every record has: ``id``, ``created_at``, ``updated_at`` (UTC, ``Z``)."""

    id = f.integer("Unique id of the record within its module.", 42)
    created_at = f.timestamp("When the record was created (UTC).", "2026-10-03T08:15:00Z")
    updated_at = f.timestamp(
        "When the record last changed (UTC); filter with `updated_since` for incremental sync.",
        "2026-11-20T14:02:11Z",
    )
