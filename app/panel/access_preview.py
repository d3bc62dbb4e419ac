"""What a key with some abilities will reach: its endpoints and how many records each list holds.

Shown live in the create and edit forms (SPEC §13, "Access preview"). The counts are the
API's own unfiltered totals, ``COUNT(*)`` over each module's table within the form's data scope
(SPEC §16: the same ``app.api.scope.conditions`` the API's lists apply, so a scope that leaves no
record shows zeros), read
fresh on every call (nothing cached, so a preview is never stale) and all in one statement:
one scalar subquery per module the key can list, so a preview is one round trip however many
modules are ticked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import func, select

from app.api.scope import UNSCOPED, Scope, conditions
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
    # The data scope the counts were taken within (none: every record).
    scope: Scope = UNSCOPED

    @property
    def granted(self) -> list[Endpoint]:
        """The endpoints an ability grants (not the introspection every key has)."""
        return [endpoint for endpoint in self.endpoints if endpoint.ability is not None]


def scope_of(data: Mapping[str, Iterable[str]]) -> Scope:
    """The scope a key form's input describes (``warehouses``, ``marketplaces``, ``hidden_fields``)."""
    return Scope(
        warehouses=tuple(data.get("warehouses", ())),
        marketplaces=tuple(data.get("marketplaces", ())),
        hidden_groups=frozenset(data.get("hidden_fields", ())),
    )


def count_records(modules: Iterable[Module], scope: Scope = UNSCOPED) -> dict[str, int]:
    """The current number of records of each module within ``scope``, by slug, in one statement."""
    chosen = list(modules)
    if not chosen:
        return {}
    # One row of scalar subqueries: SELECT (SELECT count(*) FROM a WHERE <scope>), ...
    # The same COUNT(*) the API answers as ``meta.total`` for a key of this scope, on both
    # databases; the bound values share their names across subqueries (one value each).
    params: dict[str, object] = {}
    counts = []
    for module in chosen:
        shape = scope.shape(module)
        params |= scope.params(shape)
        where = conditions(module, shape)
        counts.append(select(func.count()).select_from(module.model).where(*where).scalar_subquery())
    row = db.session.execute(select(*counts), params).one()
    return {module.slug: int(total) for module, total in zip(chosen, row, strict=True)}


def build(abilities: Iterable[str], scope: Scope = UNSCOPED) -> Preview:
    """The preview of ``abilities`` within ``scope``; abilities outside the catalogue are ignored
    (forms check them)."""
    granted = set(abilities) & ABILITY_SET
    listed = [module for module in MODULES if module.ability("list") in granted]
    counts = count_records(listed, scope)
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
    return Preview(endpoints, scope)
