"""What the key-service tests share: a bad field is refused by create and by edit alike."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app.extensions import db
from app.keys import service
from app.validation.errors import InvalidInput


def assert_create_and_edit_refuse(
    app: Flask, prefix: str, changes: dict[str, Any], field: str, needle: str
) -> None:
    """Creating a key with ``changes``, and editing the key ``prefix`` with them, both raise
    InvalidInput whose ``field`` message holds ``needle``; nothing is left written."""
    with app.app_context():
        with pytest.raises(InvalidInput) as created:
            service.create_key(
                name="New", owner="owner@example.com", abilities=["brands:list"], **changes, actor="tests"
            )
        assert needle in " ".join(created.value.errors[field])
        with pytest.raises(InvalidInput) as edited:
            service.edit_key(prefix, name="Renamed", **changes, actor="tests")
        assert needle in " ".join(edited.value.errors[field])
        db.session.rollback()
