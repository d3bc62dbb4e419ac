"""What a key with some abilities will reach: its endpoints and how many records each list holds.

Shown live in the create and edit forms (SPEC §13, "Access preview"). The counts are the
API's own unfiltered totals, ``COUNT(*)`` over each module's table (``app.api.listing``), read
fresh on every call (nothing cached, so a preview is never stale) and all in one statement:
one scalar subquery per module the key can list, so a preview is one round trip however many
modules are ticked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select

from app.catalogue import ABILITY_SET, MODULES, Module
from app.docs import spec
from app.extensions import db


@dataclass(frozen=True)
class Endpoint:
    """One operation the key will reach, as the preview lists it."""

    method: str
    path: str
    # The ability that grants it, or None for the introspection any valid key may call.
    ability: str | None
    # The operationId: the anchor of the operation on the docs page.
    anchor: str
    # Records the list holds now; None for a show or the introspection (no list to count).
    count: int | None = None


@dataclass(frozen=True)
class Preview:
    """The endpoints of a set of abilities, in catalogue order, the introspection last."""

    endpoints: list[Endpoint]

    @property
    def granted(self) -> list[Endpoint]:
        """The endpoints an ability grants (not the introspection every key has)."""
        return [endpoint for endpoint in self.endpoints if endpoint.ability is not None]


def count_records(modules: Iterable[Module]) -> dict[str, int]:
    """The current number of records of each module, by slug, in one statement (none if empty)."""
    chosen = list(modules)
    if not chosen:
        return {}
    # One row of scalar subqueries: SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM b), ...
    # The same unfiltered COUNT(*) the API answers as ``meta.total``, on both databases.
    statement = select(
        *(select(func.count()).select_from(module.model).scalar_subquery() for module in chosen)
    )
    row = db.session.execute(statement).one()
    return {module.slug: int(total) for module, total in zip(chosen, row, strict=True)}


def build(abilities: Iterable[str]) -> Preview:
    """The preview of ``abilities``; abilities outside the catalogue are ignored (forms check them)."""
    granted = set(abilities) & ABILITY_SET
    listed = [module for module in MODULES if module.ability("list") in granted]
    counts = count_records(listed)
    endpoints: list[Endpoint] = []
    for module in MODULES:
        if module.ability("list") in granted:
            endpoints.append(
                Endpoint(
                    "GET",
                    spec.list_path(module),
                    module.ability("list"),
                    spec.operation_id(module, "list"),
                    counts[module.slug],
                )
            )
        if module.ability("show") in granted:
            endpoints.append(
                Endpoint(
                    "GET", spec.show_path(module), module.ability("show"), spec.operation_id(module, "show")
                )
            )
    # Any valid key may describe itself (GET /api/v1/key), whatever its abilities.
    endpoints.append(Endpoint("GET", spec.KEY_PATH, None, spec.KEY_OPERATION_ID))
    return Preview(endpoints)
