"""Stock: inventory levels per product and warehouse, replenishment plans, Amazon's ledger."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.mixins import DomainRecord, str_enum


class PlanStatus(enum.StrEnum):
    """Where a replenishment suggestion stands."""

    DRAFT = "draft"
    APPROVED = "approved"
    ORDERED = "ordered"
    DISMISSED = "dismissed"


class LedgerEventType(enum.StrEnum):
    """Event types of Amazon's Inventory Ledger report (spelled as Amazon does)."""

    RECEIPTS = "Receipts"
    SHIPMENTS = "Shipments"
    CUSTOMER_RETURNS = "CustomerReturns"
    ADJUSTMENTS = "Adjustments"
    WHSE_TRANSFERS = "WhseTransfers"
    VENDOR_RETURNS = "VendorReturns"


class Disposition(enum.StrEnum):
    """Condition of units in Amazon's ledger (spelled as Amazon does)."""

    SELLABLE = "SELLABLE"
    UNSELLABLE = "UNSELLABLE"
    DEFECTIVE = "DEFECTIVE"
    CUSTOMER_DAMAGED = "CUSTOMER_DAMAGED"
    CARRIER_DAMAGED = "CARRIER_DAMAGED"
    WAREHOUSE_DAMAGED = "WAREHOUSE_DAMAGED"
    EXPIRED = "EXPIRED"


class InventoryLevel(DomainRecord, db.Model):
    """Units of one product in one warehouse; available = on hand - reserved."""

    __tablename__ = "inventory_levels"
    __table_args__ = (
        UniqueConstraint("product_id", "warehouse_id", name="uq_inventory_levels_product_warehouse"),
        CheckConstraint(
            "on_hand >= 0 AND reserved >= 0 AND inbound >= 0 AND available >= 0", name="not_negative"
        ),
    )

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    # Copied from the product so ``q`` finds levels by SKU without a join.
    sku: Mapped[str] = mapped_column(String(40), index=True)
    on_hand: Mapped[int] = mapped_column(Integer, index=True)
    reserved: Mapped[int] = mapped_column(Integer)
    inbound: Mapped[int] = mapped_column(Integer, index=True)
    available: Mapped[int] = mapped_column(Integer, index=True)


class ReplenishmentPlan(DomainRecord, db.Model):
    """A suggestion to reorder a product for a warehouse, from its sales velocity and lead time."""

    __tablename__ = "replenishment_plans"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    # Copied from the product so ``q`` finds plans by SKU without a join.
    sku: Mapped[str] = mapped_column(String(40), index=True)
    # Units sold per day over the last 30 days.
    daily_velocity: Mapped[Decimal] = mapped_column(Numeric(10, 2), index=True)
    lead_time_days: Mapped[int] = mapped_column(Integer, index=True)
    safety_stock: Mapped[int] = mapped_column(Integer)
    reorder_point: Mapped[int] = mapped_column(Integer)
    suggested_quantity: Mapped[int] = mapped_column(Integer, index=True)
    status: Mapped[PlanStatus] = mapped_column(str_enum(PlanStatus, 16), default=PlanStatus.DRAFT, index=True)


class LedgerEntry(DomainRecord, db.Model):
    """One line of Amazon's FBA Inventory Ledger (detailed view): a movement of units."""

    __tablename__ = "amazon_ledger_entries"

    date: Mapped[dt.date] = mapped_column(Date, index=True)
    fnsku: Mapped[str] = mapped_column(String(10), index=True)
    asin: Mapped[str] = mapped_column(String(10))
    # The seller's SKU as Amazon reports it.
    msku: Mapped[str] = mapped_column(String(40), index=True)
    title: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[LedgerEventType] = mapped_column(str_enum(LedgerEventType, 20), index=True)
    # Shipment id, order id or adjustment reference, as Amazon gives it.
    reference_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # Signed: receipts and returns add units, shipments remove them.
    quantity: Mapped[int] = mapped_column(Integer)
    fulfillment_center: Mapped[str] = mapped_column(String(8), index=True)
    disposition: Mapped[Disposition] = mapped_column(str_enum(Disposition, 20))
    # Amazon adjustment reason code (e.g. "E" damaged, "M" misplaced); empty for other events.
    reason: Mapped[str | None] = mapped_column(String(8), nullable=True)
    country: Mapped[str] = mapped_column(String(2))
