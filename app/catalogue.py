"""The module catalogue: the one list the abilities, form, API routes, checks and docs read.

Adding a sixteenth module is one ``Module(...)`` entry here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ACTIONS: tuple[str, ...] = ("list", "show")


@dataclass(frozen=True)
class Module:
    """One read-only back-office module exposed through the API."""

    name: str
    slug: str
    # Filled by the protected-API layer: SQLAlchemy model, marshmallow schema and the
    # fields that ``q`` searches and ``sort`` accepts.
    model: Any = None
    schema: Any = None
    searchable: tuple[str, ...] = field(default=())
    sortable: tuple[str, ...] = field(default=())
    # SQLAlchemy loader options (e.g. selectinload of order lines) for list and show queries.
    query_options: tuple[Any, ...] = field(default=())
    # Order of a list when no ``sort`` is given; ``-field`` means descending.
    default_sort: str = "id"

    def ability(self, action: str) -> str:
        """Return the ability string for ``action`` on this module, e.g. ``products:list``."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        return f"{self.slug}:{action}"

    @property
    def abilities(self) -> tuple[str, ...]:
        """Both ability strings of this module, in ACTIONS order."""
        return tuple(self.ability(action) for action in ACTIONS)


MODULES: tuple[Module, ...] = (
    Module("Products", "products"),
    Module("Inventory", "inventory"),
    Module("Purchase Orders", "purchase-orders"),
    Module("Sales Orders", "sales-orders"),
    Module("Customers", "customers"),
    Module("Suppliers", "suppliers"),
    Module("Warehouses", "warehouses"),
    Module("Return Orders", "return-orders"),
    Module("Categories", "categories"),
    Module("Brands", "brands"),
    Module("Replenishment Plan", "replenishment-plans"),
    Module("Amazon Ledger", "amazon-ledger"),
    Module("Settings", "settings"),
    Module("Departments", "departments"),
    Module("Employees", "employees"),
)

MODULES_BY_SLUG: dict[str, Module] = {module.slug: module for module in MODULES}

# Every ability string, in display order: products:list, products:show, inventory:list, ...
ALL_ABILITIES: tuple[str, ...] = tuple(a for module in MODULES for a in module.abilities)
ABILITY_SET: frozenset[str] = frozenset(ALL_ABILITIES)
