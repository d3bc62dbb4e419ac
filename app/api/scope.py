"""A key's data scope (SPEC §16) as the read path applies it: in the query, never over loaded rows.

A key limited to warehouses or marketplaces gets a ``WHERE`` on the module's declared column
(``app.catalogue.Module.warehouse_column`` / ``marketplace_column``), with the key's values as
expanding bound parameters, so the cached statements (docs/decisions/008-speed-code.md) stay one
per shape. Warehouse codes are resolved in the statement (``warehouse_id IN (SELECT id FROM
warehouses WHERE code IN (...))``), so a code with no warehouse narrows to nothing. A return is
in a marketplace's scope when the sales order it returns is (``marketplace_via``). Hidden field
groups become the set of schema fields left out of the dump and of the selected columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, bindparam, select

from app.catalogue import MODULES_BY_SLUG, Module
from app.models.api_keys import ApiKey
from app.models.products import Warehouse

WAREHOUSES_PARAM = "scope_warehouses"
MARKETPLACES_PARAM = "scope_marketplaces"


@dataclass(frozen=True)
class Scope:
    """What a key may see: its warehouse codes and marketplaces (empty: all) and hidden groups."""

    warehouses: tuple[str, ...] = ()
    marketplaces: tuple[str, ...] = ()
    hidden_groups: frozenset[str] = frozenset()

    def shape(self, module: Module) -> Shape:
        """Which narrowing applies to ``module`` (the part of a statement's cache key)."""
        return Shape(
            by_warehouse=bool(self.warehouses) and module.warehouse_column is not None,
            by_marketplace=bool(self.marketplaces) and module.marketplace_column is not None,
            hidden=module.hidden_fields(self.hidden_groups),
        )

    def params(self, shape: Shape) -> dict[str, Any]:
        """The bound values of ``shape``'s conditions."""
        params: dict[str, Any] = {}
        if shape.by_warehouse:
            params[WAREHOUSES_PARAM] = list(self.warehouses)
        if shape.by_marketplace:
            params[MARKETPLACES_PARAM] = list(self.marketplaces)
        return params


UNSCOPED = Scope()


@dataclass(frozen=True)
class Shape:
    """The scope's effect on one module: the conditions it adds and the fields it hides."""

    by_warehouse: bool = False
    by_marketplace: bool = False
    hidden: frozenset[str] = frozenset()

    @property
    def narrows(self) -> bool:
        """Whether any record may fall outside the scope."""
        return self.by_warehouse or self.by_marketplace


# The shape of every module for a key without a scope: nothing narrowed, nothing hidden.
NO_SHAPE = Shape()


def of_key(key: ApiKey) -> Scope:
    """The scope of ``key`` (the guard's transient row; ``key.is_scoped`` says whether it has one)."""
    return Scope(
        warehouses=tuple(key.warehouses or ()),
        marketplaces=tuple(key.marketplaces or ()),
        hidden_groups=frozenset(key.hidden_fields or ()),
    )


def conditions(module: Module, shape: Shape) -> list[ColumnElement[bool]]:
    """The WHERE conditions that keep ``module``'s records within a scope of this shape."""
    model = module.model
    found: list[ColumnElement[bool]] = []
    if shape.by_warehouse and module.warehouse_column is not None:
        codes = bindparam(WAREHOUSES_PARAM, expanding=True)
        ids = select(Warehouse.id).where(Warehouse.code.in_(codes))
        found.append(getattr(model, module.warehouse_column).in_(ids))
    if shape.by_marketplace and module.marketplace_column is not None:
        marketplaces = bindparam(MARKETPLACES_PARAM, expanding=True)
        column = getattr(model, module.marketplace_column)
        if module.marketplace_via is None:
            found.append(column.in_(marketplaces))
        else:
            via = MODULES_BY_SLUG[module.marketplace_via]
            assert via.marketplace_column is not None
            ids = select(via.model.id).where(getattr(via.model, via.marketplace_column).in_(marketplaces))
            found.append(column.in_(ids))
    return found
