"""Output schemas of the stock modules: inventory, replenishment plans, Amazon ledger."""

from __future__ import annotations

from app.models.stock import Disposition, LedgerEventType, PlanStatus
from app.schemas import fields as f
from app.schemas.base import RecordSchema


class InventoryLevelSchema(RecordSchema):
    """Units of one product in one warehouse."""

    product_id = f.reference("Id of the product (see `products`).", 128)
    warehouse_id = f.reference("Id of the warehouse (see `warehouses`).", 2)
    sku = f.text("The product's SKU.", "HEA-SCM-000128")
    on_hand = f.integer("Units physically in the warehouse.", 340)
    reserved = f.integer("Units on hand held for open orders or transfers.", 25)
    inbound = f.integer("Units on the way to the warehouse.", 600)
    available = f.integer("Units that can be sold now: on hand minus reserved.", 315)


class ReplenishmentPlanSchema(RecordSchema):
    """A suggestion to reorder a product for a warehouse."""

    product_id = f.reference("Id of the product (see `products`).", 128)
    warehouse_id = f.reference("Id of the warehouse to replenish (see `warehouses`).", 2)
    supplier_id = f.reference("Id of the supplier to order from (see `suppliers`).", 7)
    sku = f.text("The product's SKU.", "HEA-SCM-000128")
    daily_velocity = f.decimal("Units sold per day over the last 30 days, as a decimal string.", "8.40")
    lead_time_days = f.integer("Days from order to units available.", 35)
    safety_stock = f.integer("Units kept as a buffer against demand spikes and delays.", 90)
    reorder_point = f.integer("Reorder when available units fall to this level.", 384)
    suggested_quantity = f.integer("Units suggested for the next purchase order.", 500)
    status = f.choice(PlanStatus, "Where the suggestion stands.", "draft")


class LedgerEntrySchema(RecordSchema):
    """One line of Amazon's FBA Inventory Ledger (detailed view)."""

    date = f.day("Day of the event (UTC).", "2026-11-18")
    fnsku = f.text("Fulfillment Network SKU.", "X001K7Q2ZD")
    asin = f.text("Amazon Standard Identification Number.", "B0C7XK2M4P")
    msku = f.text("The seller's SKU as Amazon reports it.", "HEA-SCM-000128")
    title = f.text("Product title.", "Hearthstone Premium Stoneware Coffee Mug, Matte Black")
    event_type = f.choice(LedgerEventType, "Kind of movement, as Amazon names it.", "Shipments")
    reference_id = f.text("Shipment, order or adjustment reference.", "DK7Q2M4PX", nullable=True)
    quantity = f.integer("Units moved; negative when units leave inventory.", -3)
    fulfillment_center = f.text("Amazon fulfillment center id.", "PHX7")
    disposition = f.choice(Disposition, "Condition of the units.", "SELLABLE")
    reason = f.text("Amazon adjustment reason code, for Adjustments.", "E", nullable=True)
    country = f.country()
