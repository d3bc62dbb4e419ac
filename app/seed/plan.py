"""How many records of each kind a ``--scale`` (number of products) produces."""

from __future__ import annotations

from dataclasses import dataclass

from app.seed import words

DEFAULT_SCALE = 200
MAX_SCALE = 2_000_000
LEDGER_ENTRIES_PER_PRODUCT = 10


@dataclass(frozen=True)
class SeedPlan:
    """Record counts for one scale (order lines vary per order and are not counted)."""

    scale: int
    brands: int
    categories: int
    suppliers: int
    warehouses: int
    customers: int
    purchase_orders: int
    sales_orders: int
    return_orders: int
    ledger_entries: int
    settings: int
    departments: int
    employees: int

    @property
    def steps(self) -> int:
        """Progress steps of a full run: one per product, order, ledger entry and small record."""
        return (
            self.brands
            + self.categories
            + self.suppliers
            + self.warehouses
            + self.scale
            + self.customers
            + self.purchase_orders
            + self.sales_orders
            + self.return_orders
            + self.ledger_entries
            + self.settings
            + self.departments
            + self.employees
        )


def plan_for(scale: int) -> SeedPlan:
    """The record counts ``scale`` products bring with them."""
    sales_orders = max(50, scale)
    return SeedPlan(
        scale=scale,
        brands=min(len(words.BRAND_STEMS) * len(words.BRAND_SUFFIXES), max(12, scale // 50)),
        categories=sum(1 + len(subs) for _name, _node, subs in words.CATEGORY_TREE),
        suppliers=min(2_000, max(8, scale // 40)),
        warehouses=len(words.FULFILLMENT_CENTERS) + len(words.OTHER_WAREHOUSES),
        customers=max(50, scale // 2),
        purchase_orders=max(10, scale // 10),
        sales_orders=sales_orders,
        # About one order in twenty comes back.
        return_orders=max(5, sales_orders // 20),
        ledger_entries=scale * LEDGER_ENTRIES_PER_PRODUCT,
        settings=len(words.SETTINGS),
        departments=len(words.DEPARTMENTS),
        employees=min(2_000, max(25, scale // 100)),
    )
