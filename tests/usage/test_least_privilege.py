"""Acting on a key's usage through the service (``app.usage.least_privilege``) when admins race."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models.api_keys import ApiKey
from app.models.audit import AuditEvent
from app.usage import least_privilege

GRANTED = ["inventory:list", "customers:list", "suppliers:list", "brands:list", "warehouses:list"]


def test_parallel_grants_of_different_abilities_all_land(app: Flask, make_key: Any, in_parallel: Any) -> None:
    """Five admins each press "Grant" on a different refused ability at the same moment: the key
    ends with all five, and the audit log holds one ``key.updated`` per grant, each adding one."""
    prefix = make_key(abilities=["products:list"]).key.prefix

    def grant(ability: str) -> Any:
        return lambda: least_privilege.grant_ability(prefix, ability, actor="admin@example.com").prefix

    outcomes = in_parallel(*[grant(ability) for ability in GRANTED])
    assert outcomes == [prefix] * len(GRANTED)
    with app.app_context():
        key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        assert set(key.abilities) == {"products:list", *GRANTED}
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "key.updated", AuditEvent.key_prefix == prefix)
        ).all()
    added = []
    for event in events:
        change = event.details["changes"]["abilities"]
        (new,) = set(change["new"]) - set(change["old"])
        assert set(change["old"]) <= set(change["new"])
        added.append(new)
    assert sorted(added) == sorted(GRANTED)
