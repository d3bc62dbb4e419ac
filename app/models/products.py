"""Catalogue of the seller's goods: brands, categories, suppliers, warehouses and products."""

from __future__ import annotations

import enum
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.mixins import DomainRecord, str_enum

# Money is exact: 10 digits before the point, 2 after.
Money = Numeric(12, 2)


class ProductStatus(enum.StrEnum):
    """Whether a product is sold."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    DISCONTINUED = "discontinued"


class WarehouseKind(enum.StrEnum):
    """Who runs a warehouse."""

    AMAZON_FBA = "amazon_fba"
    OWN = "own"
    THIRD_PARTY = "third_party"


class Brand(DomainRecord, db.Model):
    """A brand the seller sells (often their own, registered with Amazon Brand Registry)."""

    __tablename__ = "brands"

    name: Mapped[str] = mapped_column(String(120), unique=True, index=True)
    # ISO 3166-1 alpha-2 country of the brand owner.
    country: Mapped[str] = mapped_column(String(2))
    website: Mapped[str | None] = mapped_column(String(200), nullable=True)
    brand_registry: Mapped[bool] = mapped_column(default=False)


class Category(DomainRecord, db.Model):
    """A product category; sub-categories point at their parent."""

    __tablename__ = "categories"

    name: Mapped[str] = mapped_column(String(120), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), nullable=True, index=True)
    # Amazon browse node the category maps to, e.g. "1055398" (Home & Kitchen).
    browse_node_id: Mapped[str | None] = mapped_column(String(20), nullable=True)


class Supplier(DomainRecord, db.Model):
    """A manufacturer or distributor the seller buys from."""

    __tablename__ = "suppliers"
    __table_args__ = (CheckConstraint("length(currency) = 3", name="currency_iso4217"),)

    code: Mapped[str] = mapped_column(String(20), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(160), index=True)
    contact_name: Mapped[str | None] = mapped_column(String(120), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    country: Mapped[str] = mapped_column(String(2), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    lead_time_days: Mapped[int] = mapped_column(Integer, index=True)


class Warehouse(DomainRecord, db.Model):
    """A place stock is held: an Amazon fulfillment center, the seller's own or a 3PL's."""

    __tablename__ = "warehouses"

    # Amazon fulfillment center id (e.g. "PHX7") or the seller's own code (e.g. "WH-NJ1").
    code: Mapped[str] = mapped_column(String(20), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    kind: Mapped[WarehouseKind] = mapped_column(str_enum(WarehouseKind, 16), index=True)
    city: Mapped[str] = mapped_column(String(80))
    region: Mapped[str | None] = mapped_column(String(80), nullable=True)
    country: Mapped[str] = mapped_column(String(2))


class Product(DomainRecord, db.Model):
    """A sellable item: the seller's SKU with its Amazon identifiers and prices."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("length(currency) = 3", name="currency_iso4217"),
        CheckConstraint("cost >= 0 AND sale_price >= 0", name="prices_not_negative"),
    )

    # The seller's SKU (Amazon "MSKU").
    sku: Mapped[str] = mapped_column(String(40), unique=True, index=True)
    # Amazon Standard Identification Number, e.g. "B0C1234XYZ".
    asin: Mapped[str] = mapped_column(String(10), index=True)
    # Fulfillment Network SKU, the label on FBA units, e.g. "X001AB2CDE".
    fnsku: Mapped[str] = mapped_column(String(10), index=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    cost: Mapped[Decimal] = mapped_column(Money)
    sale_price: Mapped[Decimal] = mapped_column(Money, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[ProductStatus] = mapped_column(
        str_enum(ProductStatus, 16), default=ProductStatus.ACTIVE, index=True
    )
