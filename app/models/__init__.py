"""Database models. Import from here so Alembic sees every table."""

from app.models.api_keys import ApiKey, KeyStatus
from app.models.audit import AuditEvent
from app.models.orders import (
    Customer,
    PurchaseOrder,
    PurchaseOrderLine,
    ReturnOrder,
    ReturnOrderLine,
    SalesOrder,
    SalesOrderLine,
)
from app.models.organisation import Department, Employee, Setting
from app.models.products import Brand, Category, Product, Supplier, Warehouse
from app.models.stock import InventoryLevel, LedgerEntry, ReplenishmentPlan
from app.models.usage import KeyUsage, KeyUsageDaily
from app.models.users import User

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Brand",
    "Category",
    "Customer",
    "Department",
    "Employee",
    "InventoryLevel",
    "KeyStatus",
    "KeyUsage",
    "KeyUsageDaily",
    "LedgerEntry",
    "Product",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "ReplenishmentPlan",
    "ReturnOrder",
    "ReturnOrderLine",
    "SalesOrder",
    "SalesOrderLine",
    "Setting",
    "Supplier",
    "User",
    "Warehouse",
]
