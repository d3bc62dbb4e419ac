"""The module catalogue: the one list the abilities, form, API routes, checks and docs read.

Adding a sixteenth module is one ``Module(...)`` entry here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema
from sqlalchemy.orm import selectinload

from app.models import orders, organisation, products, stock
from app.models.mixins import DomainRecord
from app.schemas import orders as order_schemas
from app.schemas import organisation as organisation_schemas
from app.schemas import products as product_schemas
from app.schemas import stock as stock_schemas

ACTIONS: tuple[str, ...] = ("list", "show")
# The field groups a key may hide (SPEC §16), slug -> label: ``ApiKey.hidden_fields`` holds slugs.
# Which fields each group holds is declared per module (``Module.field_groups``).
FIELD_GROUPS: dict[str, str] = {
    "costs": "Costs",
    "buyer-details": "Buyer details",
    "contact-details": "Contact details",
}
# Where a module's marketplace scope lies in another module (``Module.marketplace_via``).
MARKETPLACE_COLUMN = "marketplace"
# The API blueprint's name: endpoints are "api.<slug>_<action>" (``Module.endpoint``).
API_BLUEPRINT = "api"


@dataclass(frozen=True)
class Module:
    """One read-only back-office module exposed through the API."""

    name: str
    slug: str
    # The SQLAlchemy model and the marshmallow schema (dump only) that serve the module.
    model: type[DomainRecord]
    schema: type[Schema]
    # ``searchable``: text columns ``q`` matches (case-insensitive substring, any of them);
    # ``sortable``: columns ``sort`` accepts, each indexed, always including ``id`` and ``updated_at``.
    searchable: tuple[str, ...] = field(default=())
    sortable: tuple[str, ...] = field(default=())
    # SQLAlchemy loader options (e.g. selectinload of order lines) for list and show queries.
    query_options: tuple[Any, ...] = field(default=())
    # Order of a list when no ``sort`` is given; ``-field`` means descending.
    default_sort: str = "id"
    # Data scope (SPEC §16). ``warehouse_column``: the column holding the warehouse id a record
    # belongs to (``id`` for Warehouses itself); a key limited to warehouses sees only theirs.
    warehouse_column: str | None = None
    # ``marketplace_column``: the column holding the Amazon marketplace, or, with
    # ``marketplace_via`` (a module slug), a reference to that module's records, whose own
    # marketplace scope applies (a return is in the scope of the sales order it returns).
    marketplace_column: str | None = None
    marketplace_via: str | None = None
    # ``field_groups``: (group slug of FIELD_GROUPS, schema fields it holds) pairs; a nested
    # line's field is ``lines.unit_cost``. A key hiding the group never sees those fields.
    field_groups: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())

    def ability(self, action: str) -> str:
        """Return the ability string for ``action`` on this module, e.g. ``products:list``."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        return f"{self.slug}:{action}"

    @property
    def abilities(self) -> tuple[str, ...]:
        """Both ability strings of this module, in ACTIONS order."""
        return tuple(self.ability(action) for action in ACTIONS)

    def endpoint(self, action: str) -> str:
        """The endpoint name of ``action`` within the API blueprint, e.g. ``products_list``."""
        return f"{self.slug}_{action}"

    def hidden_fields(self, groups: frozenset[str]) -> frozenset[str]:
        """The schema fields (``lines.x`` for a nested line's) that hiding ``groups`` leaves out."""
        return frozenset(name for group, names in self.field_groups if group in groups for name in names)


MODULES: tuple[Module, ...] = (
    Module(
        "Products",
        "products",
        model=products.Product,
        schema=product_schemas.ProductSchema,
        searchable=("sku", "asin", "fnsku", "name"),
        sortable=(
            "id",
            "sku",
            "asin",
            "name",
            "sale_price",
            "status",
            "brand_id",
            "category_id",
            "updated_at",
        ),
        field_groups=(("costs", ("cost",)),),
    ),
    Module(
        "Inventory",
        "inventory",
        model=stock.InventoryLevel,
        schema=stock_schemas.InventoryLevelSchema,
        searchable=("sku",),
        sortable=("id", "sku", "product_id", "warehouse_id", "on_hand", "inbound", "available", "updated_at"),
        warehouse_column="warehouse_id",
    ),
    Module(
        "Purchase Orders",
        "purchase-orders",
        model=orders.PurchaseOrder,
        schema=order_schemas.PurchaseOrderSchema,
        searchable=("po_number", "notes"),
        sortable=(
            "id",
            "po_number",
            "supplier_id",
            "warehouse_id",
            "status",
            "order_date",
            "expected_date",
            "total",
            "updated_at",
        ),
        query_options=(selectinload(orders.PurchaseOrder.lines),),
        default_sort="-order_date",
        warehouse_column="warehouse_id",
        # A line total is quantity times unit cost: shown, it would give the hidden cost back.
        field_groups=(("costs", ("total", "lines.unit_cost", "lines.line_total")),),
    ),
    Module(
        "Sales Orders",
        "sales-orders",
        model=orders.SalesOrder,
        schema=order_schemas.SalesOrderSchema,
        searchable=("amazon_order_id",),
        sortable=("id", "amazon_order_id", "customer_id", "status", "purchased_at", "total", "updated_at"),
        query_options=(selectinload(orders.SalesOrder.lines),),
        default_sort="-purchased_at",
        warehouse_column="warehouse_id",
        marketplace_column=MARKETPLACE_COLUMN,
    ),
    Module(
        "Customers",
        "customers",
        model=orders.Customer,
        schema=order_schemas.CustomerSchema,
        searchable=("name", "email", "city"),
        sortable=("id", "name", "email", "city", "country", "updated_at"),
        field_groups=(("buyer-details", ("name", "email", "city", "region", "postal_code")),),
    ),
    Module(
        "Suppliers",
        "suppliers",
        model=products.Supplier,
        schema=product_schemas.SupplierSchema,
        searchable=("code", "name", "contact_name", "email"),
        sortable=("id", "code", "name", "country", "lead_time_days", "updated_at"),
        field_groups=(("contact-details", ("contact_name", "email", "phone")),),
    ),
    Module(
        "Warehouses",
        "warehouses",
        model=products.Warehouse,
        schema=product_schemas.WarehouseSchema,
        searchable=("code", "name", "city"),
        sortable=("id", "code", "name", "kind", "updated_at"),
        warehouse_column="id",
    ),
    Module(
        "Return Orders",
        "return-orders",
        model=orders.ReturnOrder,
        schema=order_schemas.ReturnOrderSchema,
        searchable=("rma_number", "amazon_order_id", "customer_comments"),
        sortable=("id", "rma_number", "status", "reason", "requested_at", "refund_amount", "updated_at"),
        query_options=(selectinload(orders.ReturnOrder.lines),),
        default_sort="-requested_at",
        warehouse_column="warehouse_id",
        marketplace_column="sales_order_id",
        marketplace_via="sales-orders",
        field_groups=(("buyer-details", ("customer_comments",)),),
    ),
    Module(
        "Categories",
        "categories",
        model=products.Category,
        schema=product_schemas.CategorySchema,
        searchable=("name",),
        sortable=("id", "name", "parent_id", "updated_at"),
    ),
    Module(
        "Brands",
        "brands",
        model=products.Brand,
        schema=product_schemas.BrandSchema,
        searchable=("name",),
        sortable=("id", "name", "updated_at"),
    ),
    Module(
        "Replenishment Plan",
        "replenishment-plans",
        model=stock.ReplenishmentPlan,
        schema=stock_schemas.ReplenishmentPlanSchema,
        searchable=("sku",),
        sortable=(
            "id",
            "sku",
            "product_id",
            "warehouse_id",
            "supplier_id",
            "daily_velocity",
            "lead_time_days",
            "suggested_quantity",
            "status",
            "updated_at",
        ),
        warehouse_column="warehouse_id",
    ),
    Module(
        "Amazon Ledger",
        "amazon-ledger",
        model=stock.LedgerEntry,
        schema=stock_schemas.LedgerEntrySchema,
        searchable=("fnsku", "msku", "asin", "reference_id"),
        sortable=("id", "date", "fnsku", "msku", "event_type", "fulfillment_center", "updated_at"),
        default_sort="-date",
    ),
    Module(
        "Settings",
        "settings",
        model=organisation.Setting,
        schema=organisation_schemas.SettingSchema,
        searchable=("key", "group", "description"),
        sortable=("id", "key", "group", "updated_at"),
    ),
    Module(
        "Departments",
        "departments",
        model=organisation.Department,
        schema=organisation_schemas.DepartmentSchema,
        searchable=("code", "name"),
        sortable=("id", "code", "name", "updated_at"),
    ),
    Module(
        "Employees",
        "employees",
        model=organisation.Employee,
        schema=organisation_schemas.EmployeeSchema,
        searchable=("employee_number", "first_name", "last_name", "email", "job_title"),
        sortable=(
            "id",
            "employee_number",
            "last_name",
            "email",
            "job_title",
            "department_id",
            "status",
            "hired_on",
            "updated_at",
        ),
        field_groups=(("contact-details", ("email",)),),
    ),
)

MODULES_BY_SLUG: dict[str, Module] = {module.slug: module for module in MODULES}

# Every ability string, in display order: products:list, products:show, inventory:list, ...
ALL_ABILITIES: tuple[str, ...] = tuple(a for module in MODULES for a in module.abilities)
ABILITY_SET: frozenset[str] = frozenset(ALL_ABILITIES)
# Full endpoint name ("api.products_list") -> the ability it requires ("products:list"): what the
# API guard enforces, deny by default for any endpoint not listed.
ENDPOINT_ABILITIES: dict[str, str] = {
    f"{API_BLUEPRINT}.{module.endpoint(action)}": module.ability(action)
    for module in MODULES
    for action in ACTIONS
}

# Endpoints any valid key may call without an ability: the key's own introspection
# (``GET /api/v1/key``, ``app.api.introspection``). Its path cannot collide with a module's:
# no module has the slug ``key`` (tests/test_catalogue.py).
KEY_ONLY_ENDPOINTS: frozenset[str] = frozenset({f"{API_BLUEPRINT}.key"})
