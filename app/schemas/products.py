"""Output schemas of the catalogue modules: brands, categories, suppliers, warehouses, products."""

from __future__ import annotations

from app.models.products import ProductStatus, WarehouseKind
from app.schemas import fields as f
from app.schemas.base import RecordSchema


class BrandSchema(RecordSchema):
    """A brand the seller sells."""

    name = f.text("Brand name as shown on Amazon.", "Hearthstone Kitchen")
    country = f.country("ISO 3166-1 alpha-2 country of the brand owner.", "US")
    website = f.text("Brand website.", "https://www.hearthstonekitchen.com", nullable=True)
    brand_registry = f.boolean("Whether the brand is enrolled in Amazon Brand Registry.", True)


class CategorySchema(RecordSchema):
    """A product category; sub-categories reference their parent."""

    name = f.text("Category name.", "Coffee Mugs")
    parent_id = f.reference("Id of the parent category; null for a top-level category.", 3, nullable=True)
    browse_node_id = f.text("Amazon browse node the category maps to.", "1055398", nullable=True)


class SupplierSchema(RecordSchema):
    """A manufacturer or distributor the seller buys from."""

    code = f.text("Supplier code used on purchase orders.", "SUP-0007")
    name = f.text("Supplier company name.", "Ningbo Everbright Housewares Co., Ltd.")
    contact_name = f.text("Main contact person.", "Lily Chen", nullable=True)
    email = f.text("Contact email.", "sales@everbright-housewares.example", nullable=True)
    phone = f.text("Contact phone, international format.", "+86 574 8765 4321", nullable=True)
    country = f.country("ISO 3166-1 alpha-2 country of the supplier.", "CN")
    currency = f.currency()
    lead_time_days = f.integer("Usual days from order to delivery.", 35)


class WarehouseSchema(RecordSchema):
    """A place stock is held."""

    code = f.text("Amazon fulfillment center id or the seller's own warehouse code.", "PHX7")
    name = f.text("Warehouse name.", "Amazon PHX7 Phoenix")
    kind = f.choice(WarehouseKind, "Who runs the warehouse.", "amazon_fba")
    city = f.text("City.", "Phoenix")
    region = f.text("State or region.", "AZ", nullable=True)
    country = f.country()


class ProductSchema(RecordSchema):
    """A sellable item: the seller's SKU with its Amazon identifiers and prices."""

    sku = f.text("The seller's SKU (Amazon MSKU); unique.", "HEA-SCM-000128")
    asin = f.text("Amazon Standard Identification Number.", "B0C7XK2M4P", pattern="^B0[0-9A-Z]{8}$")
    fnsku = f.text("Fulfillment Network SKU on FBA labels.", "X001K7Q2ZD", pattern="^X0[0-9A-Z]{8}$")
    name = f.text("Product title.", "Hearthstone Premium Stoneware Coffee Mug, Matte Black")
    brand_id = f.reference("Id of the product's brand (see `brands`).", 4)
    category_id = f.reference("Id of the product's category (see `categories`).", 12)
    cost = f.money("Landed unit cost.", "4.35")
    sale_price = f.money("Current selling price on Amazon.", "14.99")
    currency = f.currency()
    status = f.choice(ProductStatus, "Whether the product is sold.", "active")
