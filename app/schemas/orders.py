"""Output schemas of the order modules: customers, purchase, sales and return orders (with lines)."""

from __future__ import annotations

from marshmallow import fields

from app.models.orders import (
    FulfillmentChannel,
    ItemCondition,
    PurchaseOrderStatus,
    ReturnReason,
    ReturnStatus,
    SalesOrderStatus,
)
from app.schemas import fields as f
from app.schemas.base import RecordSchema


class CustomerSchema(RecordSchema):
    """A buyer, as far as an Amazon order reveals them."""

    name = f.text("Buyer name.", "Maria Gonzalez")
    email = f.text("Amazon's anonymised buyer email.", "q7m2k9x4w1p8z3d@marketplace.amazon.com")
    city = f.text("Ship-to city.", "Austin")
    region = f.text("Ship-to state or region.", "TX", nullable=True)
    postal_code = f.text("Ship-to postal code.", "78704", nullable=True)
    country = f.country()


class PurchaseOrderLineSchema(RecordSchema):
    """One product on a purchase order; money in the order's currency."""

    product_id = f.reference("Id of the product (see `products`).", 128)
    sku = f.text("The product's SKU.", "HEA-SCM-000128")
    quantity_ordered = f.integer("Units ordered.", 500)
    quantity_received = f.integer("Units received so far.", 0)
    unit_cost = f.money("Cost per unit.", "4.35", of="order")
    line_total = f.money("Units ordered times unit cost.", "2175.00", of="order")


class PurchaseOrderSchema(RecordSchema):
    """An order of goods from a supplier, with its lines."""

    po_number = f.text("Purchase order number.", "PO-2026-000042")
    supplier_id = f.reference("Id of the supplier (see `suppliers`).", 7)
    warehouse_id = f.reference("Id of the receiving warehouse (see `warehouses`).", 9)
    status = f.choice(PurchaseOrderStatus, "Where the order stands.", "confirmed")
    order_date = f.day("Day the order was placed.", "2026-10-12")
    expected_date = f.day("Day delivery is expected.", "2026-11-16", nullable=True)
    currency = f.currency()
    total = f.money("Sum of the line totals.", "2175.00")
    notes = f.text("Free-text notes for the supplier.", "Cartons of 24, labelled with FNSKU.", nullable=True)
    lines = fields.List(
        fields.Nested(PurchaseOrderLineSchema),
        required=True,
        metadata={"description": "The order's lines, in the order they were added."},
    )


class SalesOrderLineSchema(RecordSchema):
    """One item of an Amazon order; money in the order's currency."""

    product_id = f.reference("Id of the product (see `products`).", 128)
    order_item_id = f.text("Amazon's id of the item within the order.", "62139877283914")
    sku = f.text("The product's SKU.", "HEA-SCM-000128")
    asin = f.text("Amazon Standard Identification Number.", "B0C7XK2M4P")
    quantity = f.integer("Units bought.", 2)
    unit_price = f.money("Price per unit.", "14.99", of="order")
    line_total = f.money("Quantity times unit price.", "29.98", of="order")


class SalesOrderSchema(RecordSchema):
    """An Amazon order, with its items."""

    amazon_order_id = f.text("Amazon order id.", "113-4567890-1234567", pattern=r"^\d{3}-\d{7}-\d{7}$")
    customer_id = f.reference("Id of the buyer (see `customers`).", 311)
    warehouse_id = f.reference("Id of the warehouse that ships it (see `warehouses`).", 2)
    marketplace = f.text("Amazon marketplace the order was placed on.", "Amazon.com")
    fulfillment_channel = f.choice(FulfillmentChannel, "AFN: fulfilled by Amazon; MFN: by the seller.", "AFN")
    status = f.choice(SalesOrderStatus, "Order status as Amazon reports it.", "Shipped")
    purchased_at = f.timestamp("When the buyer placed the order (UTC).", "2026-11-19T21:47:03Z")
    shipped_at = f.timestamp("When the order shipped (UTC).", "2026-11-20T09:12:40Z", nullable=True)
    currency = f.currency()
    total = f.money("Sum of the line totals.", "29.98")
    lines = fields.List(
        fields.Nested(SalesOrderLineSchema),
        required=True,
        metadata={"description": "The order's items."},
    )


class ReturnOrderLineSchema(RecordSchema):
    """One returned product."""

    product_id = f.reference("Id of the product (see `products`).", 128)
    sku = f.text("The product's SKU.", "HEA-SCM-000128")
    quantity = f.integer("Units returned.", 1)
    condition = f.choice(
        ItemCondition, "Condition on inspection; null until inspected.", "sellable", nullable=True
    )


class ReturnOrderSchema(RecordSchema):
    """A customer's return of (part of) a sales order, with the reason."""

    rma_number = f.text("Return authorisation number.", "RMA-2026-000318")
    sales_order_id = f.reference("Id of the sales order returned (see `sales-orders`).", 5120)
    amazon_order_id = f.text("Amazon order id of the sales order.", "113-4567890-1234567")
    customer_id = f.reference("Id of the buyer (see `customers`).", 311)
    warehouse_id = f.reference("Id of the warehouse receiving the return (see `warehouses`).", 2)
    status = f.choice(ReturnStatus, "Where the return stands.", "received")
    reason = f.choice(ReturnReason, "Return reason the buyer gave, as Amazon codes it.", "DEFECTIVE")
    customer_comments = f.text("What the buyer wrote.", "Handle cracked on arrival.", nullable=True)
    requested_at = f.timestamp("When the buyer requested the return (UTC).", "2026-11-22T16:05:00Z")
    received_at = f.timestamp("When the return arrived (UTC).", "2026-11-26T11:30:00Z", nullable=True)
    currency = f.currency()
    refund_amount = f.money("Amount refunded or to refund.", "14.99")
    lines = fields.List(
        fields.Nested(ReturnOrderLineSchema),
        required=True,
        metadata={"description": "The returned products."},
    )
