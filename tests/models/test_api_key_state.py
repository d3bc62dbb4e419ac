"""ApiKey answers "past its cutover" in Python and in SQL, and the two agree (both databases)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.keys import rolling
from app.models.api_keys import ApiKey
from app.models.types import utcnow


def test_past_cutover_sql_agrees_with_the_python_answer(app: Flask, make_key: Any) -> None:
    plain = make_key(name="plain").key.prefix
    grace = make_key(name="rolling").key.prefix
    dead = make_key(name="dead").key.prefix
    with app.app_context():
        rolling.roll_key(grace, actor="tests", grace="1h")
        rolling.roll_key(dead, actor="tests", grace="0")
        now = utcnow()
        for at in (now, now + timedelta(hours=2)):
            in_sql = set(db.session.scalars(select(ApiKey.name).where(ApiKey.is_past_cutover(at))))
            in_python = {key.name for key in db.session.scalars(select(ApiKey)) if key.is_past_cutover(at)}
            assert in_sql == in_python
        assert set(db.session.scalars(select(ApiKey.name).where(ApiKey.is_past_cutover(now)))) == {"dead"}
        # Two hours on, the rolling key's grace period is over too.
        later = now + timedelta(hours=2)
        assert set(db.session.scalars(select(ApiKey.name).where(ApiKey.is_past_cutover(later)))) == {
            "dead",
            "rolling",
        }
        assert plain not in set(
            db.session.scalars(select(ApiKey.prefix).where(ApiKey.is_past_cutover(later)))
        )
