"""Orders: customers, purchase orders to suppliers, Amazon sales orders and their returns."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.mixins import DomainRecord, str_enum
from app.models.products import Money
from app.models.types import UTCDateTime


class PurchaseOrderStatus(enum.StrEnum):
    """Life of a purchase order."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    CANCELLED = "cancelled"


class SalesOrderStatus(enum.StrEnum):
    """Order status as Amazon's Orders API reports it."""

    PENDING = "Pending"
    UNSHIPPED = "Unshipped"
    SHIPPED = "Shipped"
    DELIVERED = "Delivered"
    CANCELED = "Canceled"


class FulfillmentChannel(enum.StrEnum):
    """AFN: fulfilled by Amazon (FBA); MFN: fulfilled by the merchant."""

    AFN = "AFN"
    MFN = "MFN"


class ReturnStatus(enum.StrEnum):
    """Life of a return."""

    REQUESTED = "requested"
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"
    REFUNDED = "refunded"
    REJECTED = "rejected"


class ReturnReason(enum.StrEnum):
    """Return reason codes as Amazon's returns report spells them."""

    DEFECTIVE = "DEFECTIVE"
    DAMAGED_BY_CARRIER = "DAMAGED_BY_CARRIER"
    NOT_AS_DESCRIBED = "NOT_AS_DESCRIBED"
    WRONG_ITEM = "WRONG_ITEM"
    NO_LONGER_NEEDED = "NO_LONGER_NEEDED"
    FOUND_BETTER_PRICE = "FOUND_BETTER_PRICE"
    ORDERED_WRONG_ITEM = "ORDERED_WRONG_ITEM"
    MISSING_PARTS = "MISSING_PARTS"
    ARRIVED_LATE = "ARRIVED_LATE"


class ItemCondition(enum.StrEnum):
    """Condition of a returned unit on inspection."""

    SELLABLE = "sellable"
    DAMAGED = "damaged"
    DEFECTIVE = "defective"
    MISSING = "missing"


class Customer(DomainRecord, db.Model):
    """A buyer. Amazon shares little about buyers, so this is what an order reveals."""

    __tablename__ = "customers"

    name: Mapped[str] = mapped_column(String(120), index=True)
    # Amazon's anonymised buyer email (…@marketplace.amazon.com).
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    city: Mapped[str] = mapped_column(String(80), index=True)
    region: Mapped[str | None] = mapped_column(String(80), nullable=True)
    postal_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    country: Mapped[str] = mapped_column(String(2), index=True)


class PurchaseOrder(DomainRecord, db.Model):
    """An order of goods from a supplier, delivered to one warehouse."""

    __tablename__ = "purchase_orders"
    __table_args__ = (CheckConstraint("length(currency) = 3", name="currency_iso4217"),)

    po_number: Mapped[str] = mapped_column(String(20), unique=True, index=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    status: Mapped[PurchaseOrderStatus] = mapped_column(str_enum(PurchaseOrderStatus, 20), index=True)
    order_date: Mapped[dt.date] = mapped_column(Date, index=True)
    expected_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    # Sum of the lines' quantity x unit cost, kept with the order so lists need no join.
    total: Mapped[Decimal] = mapped_column(Money, index=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)

    lines: Mapped[list[PurchaseOrderLine]] = relationship(
        back_populates="purchase_order", order_by="PurchaseOrderLine.id", cascade="all, delete-orphan"
    )


class PurchaseOrderLine(DomainRecord, db.Model):
    """One product on a purchase order; its money is in the order's currency."""

    __tablename__ = "purchase_order_lines"
    __table_args__ = (CheckConstraint("quantity_ordered > 0 AND quantity_received >= 0", name="quantities"),)

    purchase_order_id: Mapped[int] = mapped_column(ForeignKey("purchase_orders.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    sku: Mapped[str] = mapped_column(String(40))
    quantity_ordered: Mapped[int] = mapped_column(Integer)
    quantity_received: Mapped[int] = mapped_column(Integer, default=0)
    unit_cost: Mapped[Decimal] = mapped_column(Money)

    purchase_order: Mapped[PurchaseOrder] = relationship(back_populates="lines")

    @property
    def line_total(self) -> Decimal:
        """Units ordered times unit cost."""
        return self.quantity_ordered * self.unit_cost


class SalesOrder(DomainRecord, db.Model):
    """An Amazon order, identified by its Amazon order id."""

    __tablename__ = "sales_orders"
    __table_args__ = (CheckConstraint("length(currency) = 3", name="currency_iso4217"),)

    # e.g. "113-4567890-1234567".
    amazon_order_id: Mapped[str] = mapped_column(String(19), unique=True, index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    # Indexed: a key scoped to marketplaces (SPEC §16) filters on it.
    marketplace: Mapped[str] = mapped_column(String(40), index=True)
    fulfillment_channel: Mapped[FulfillmentChannel] = mapped_column(str_enum(FulfillmentChannel, 3))
    status: Mapped[SalesOrderStatus] = mapped_column(str_enum(SalesOrderStatus, 16), index=True)
    purchased_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    shipped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    currency: Mapped[str] = mapped_column(String(3))
    # Sum of the lines' item price, kept with the order so lists need no join.
    total: Mapped[Decimal] = mapped_column(Money, index=True)

    lines: Mapped[list[SalesOrderLine]] = relationship(
        back_populates="sales_order", order_by="SalesOrderLine.id", cascade="all, delete-orphan"
    )


class SalesOrderLine(DomainRecord, db.Model):
    """One item of an Amazon order; its money is in the order's currency."""

    __tablename__ = "sales_order_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    sales_order_id: Mapped[int] = mapped_column(ForeignKey("sales_orders.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    # Amazon's id of this item within the order, e.g. "62139877283914".
    order_item_id: Mapped[str] = mapped_column(String(20))
    sku: Mapped[str] = mapped_column(String(40))
    asin: Mapped[str] = mapped_column(String(10))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money)

    sales_order: Mapped[SalesOrder] = relationship(back_populates="lines")

    @property
    def line_total(self) -> Decimal:
        """Quantity times unit price."""
        return self.quantity * self.unit_price


class ReturnOrder(DomainRecord, db.Model):
    """A customer's return of (part of) a sales order, with the reason they gave."""

    __tablename__ = "return_orders"
    __table_args__ = (CheckConstraint("length(currency) = 3", name="currency_iso4217"),)

    rma_number: Mapped[str] = mapped_column(String(20), unique=True, index=True)
    sales_order_id: Mapped[int] = mapped_column(ForeignKey("sales_orders.id"), index=True)
    # Copied from the sales order so ``q`` finds returns by Amazon order id without a join.
    amazon_order_id: Mapped[str] = mapped_column(String(19), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    status: Mapped[ReturnStatus] = mapped_column(str_enum(ReturnStatus, 16), index=True)
    reason: Mapped[ReturnReason] = mapped_column(str_enum(ReturnReason, 24), index=True)
    customer_comments: Mapped[str | None] = mapped_column(Text, nullable=True)
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    currency: Mapped[str] = mapped_column(String(3))
    refund_amount: Mapped[Decimal] = mapped_column(Money, index=True)

    lines: Mapped[list[ReturnOrderLine]] = relationship(
        back_populates="return_order", order_by="ReturnOrderLine.id", cascade="all, delete-orphan"
    )


class ReturnOrderLine(DomainRecord, db.Model):
    """One returned product; ``condition`` is set when the unit is inspected."""

    __tablename__ = "return_order_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    return_order_id: Mapped[int] = mapped_column(ForeignKey("return_orders.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    sku: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(Integer)
    condition: Mapped[ItemCondition | None] = mapped_column(str_enum(ItemCondition, 16), nullable=True)

    return_order: Mapped[ReturnOrder] = relationship(back_populates="lines")
