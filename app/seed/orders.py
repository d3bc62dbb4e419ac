"""Demo orders: customers, purchase orders with lines, Amazon sales orders, their returns."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from app.models.orders import (
    Customer,
    PurchaseOrder,
    PurchaseOrderLine,
    ReturnOrder,
    ReturnOrderLine,
    SalesOrder,
    SalesOrderLine,
)
from app.seed import words
from app.seed.codes import Weighted, amazon_order_id_for, money, unique_code
from app.seed.context import (
    ANCHOR,
    FBA_WAREHOUSE_IDS,
    OWN_WAREHOUSE_ID,
    ReturnableOrder,
    SeedContext,
    SoldItem,
    chunks,
)

Row = dict[str, Any]

# SPEC §16: sales orders spread over one region's marketplaces, so a marketplace scope shows.
# Six slots: 4 of 6 orders on Amazon.com, 1 on Amazon.ca, 1 on Amazon.com.mx; the stride (prime
# to six) spreads consecutive ids over them.
MARKETPLACES = ("Amazon.com", "Amazon.ca", "Amazon.com", "Amazon.com.mx", "Amazon.com", "Amazon.com")
MARKETPLACE_STRIDE = 5

_PO_NOTES = (
    "Cartons of 24, labelled with FNSKU.",
    "Ship to FBA; prep by supplier.",
    "Confirm production date before deposit.",
    "Samples approved; repeat order.",
)
# Units per supplier currency unit, for costs quoted outside USD.
_RATES = {"USD": 1.0, "CNY": 7.1, "EUR": 0.92}
_RETURN_REASONS = Weighted(
    [
        ("DEFECTIVE", 24),
        ("NOT_AS_DESCRIBED", 16),
        ("NO_LONGER_NEEDED", 18),
        ("DAMAGED_BY_CARRIER", 10),
        ("WRONG_ITEM", 8),
        ("ORDERED_WRONG_ITEM", 10),
        ("FOUND_BETTER_PRICE", 6),
        ("MISSING_PARTS", 5),
        ("ARRIVED_LATE", 3),
    ]
)
_RETURN_STATUSES = Weighted(
    [("refunded", 60), ("received", 15), ("in_transit", 10), ("requested", 10), ("rejected", 5)]
)
_CONDITION_FOR_REASON = {
    "DEFECTIVE": "defective",
    "DAMAGED_BY_CARRIER": "damaged",
    "MISSING_PARTS": "missing",
}


def write_orders(ctx: SeedContext) -> None:
    """Insert customers, purchase orders, sales orders and return orders, with their lines."""
    ctx.loader.insert_all(Customer, customers(ctx))
    write_purchase_orders(ctx)
    write_sales_orders(ctx)
    write_return_orders(ctx)


def customers(ctx: SeedContext) -> Iterator[Row]:
    """Buyers with Amazon's anonymised emails and US ship-to addresses."""
    rng = ctx.rng("customers")
    for customer_id in range(1, ctx.plan.customers + 1):
        city, state, zip_prefix = rng.choice(words.US_CITIES)
        created, updated = ctx.stamps(rng, 720)
        yield {
            "id": customer_id,
            "name": f"{rng.choice(words.FIRST_NAMES)} {rng.choice(words.LAST_NAMES)}",
            "email": unique_code(customer_id, 15, 31_337).lower() + "@marketplace.amazon.com",
            "city": city,
            "region": state,
            "postal_code": f"{zip_prefix}{rng.randint(0, 99):02d}",
            "country": "US",
            "created_at": created,
            "updated_at": updated,
        }


def write_purchase_orders(ctx: SeedContext) -> None:
    """Purchase orders to suppliers, each with 1-6 lines of that supplier's products."""
    rng = ctx.rng("purchase-orders")
    by_supplier: dict[int, list[int]] = {}
    for index, facts in enumerate(ctx.products):
        by_supplier.setdefault(facts.supplier_id, []).append(index)
    line_ids = itertools.count(1)
    for chunk in chunks(range(1, ctx.plan.purchase_orders + 1)):
        orders: list[Row] = []
        lines: list[Row] = []
        for order_id in chunk:
            order, order_lines = purchase_order(ctx, rng, order_id, by_supplier, line_ids)
            orders.append(order)
            lines += order_lines
        ctx.loader.insert(PurchaseOrder, orders)
        ctx.loader.insert(PurchaseOrderLine, lines)
        ctx.loader.progress(len(chunk))


def purchase_order(
    ctx: SeedContext,
    rng: random.Random,
    order_id: int,
    by_supplier: dict[int, list[int]],
    line_ids: Iterator[int],
) -> tuple[Row, list[Row]]:
    """One purchase order and its lines; its status follows its age and the supplier's lead time."""
    supplier_id = rng.randint(1, ctx.plan.suppliers)
    candidates: Sequence[int] = by_supplier.get(supplier_id) or range(len(ctx.products))
    picks = rng.sample(candidates, min(len(candidates), rng.randint(1, 6)))
    currency = ctx.supplier_currency[supplier_id - 1]
    lead = ctx.supplier_lead_days[supplier_id - 1]
    age_days = rng.randint(0, 365)
    order_date = ANCHOR.date() - timedelta(days=age_days)
    if rng.random() < 0.03:
        status = "cancelled"
    elif age_days < 3:
        status = "draft" if rng.random() < 0.5 else "submitted"
    elif age_days < lead:
        status = "confirmed"
    elif age_days < lead + 10:
        status = "partially_received"
    else:
        status = "received"
    created = datetime(order_date.year, order_date.month, order_date.day, 9, tzinfo=UTC)
    created += timedelta(minutes=rng.randint(0, 480))
    updated = min(ANCHOR, created + timedelta(seconds=int(min(age_days, lead + 10) * 86_400 * rng.random())))
    lines, total = [], 0
    for index in picks:
        facts = ctx.products[index]
        quantity = 12 * rng.randint(4, 100)
        unit_cents = round(facts.cost_cents * _RATES[currency] * rng.uniform(0.9, 1.0))
        total += quantity * unit_cents
        lines.append(
            {
                "id": next(line_ids),
                "purchase_order_id": order_id,
                "product_id": index + 1,
                "sku": facts.sku,
                "quantity_ordered": quantity,
                "quantity_received": {"received": quantity, "partially_received": quantity // 2}.get(
                    status, 0
                ),
                "unit_cost": money(unit_cents),
                "created_at": created,
                "updated_at": updated,
            }
        )
    order = {
        "id": order_id,
        "po_number": f"PO-{order_date.year}-{order_id:06d}",
        "supplier_id": supplier_id,
        "warehouse_id": rng.choice(FBA_WAREHOUSE_IDS) if rng.random() < 0.7 else OWN_WAREHOUSE_ID,
        "status": status,
        "order_date": order_date,
        "expected_date": order_date + timedelta(days=lead) if status != "cancelled" else None,
        "currency": currency,
        "total": money(total),
        "notes": rng.choice(_PO_NOTES) if rng.random() < 0.3 else None,
        "created_at": created,
        "updated_at": updated,
    }
    return order, lines


def write_sales_orders(ctx: SeedContext) -> None:
    """Amazon orders with 1-3 items; the orders to be returned are chosen up front."""
    rng = ctx.rng("sales-orders")
    returned = set(rng.sample(range(1, ctx.plan.sales_orders + 1), ctx.plan.return_orders))
    line_ids = itertools.count(1)
    for chunk in chunks(range(1, ctx.plan.sales_orders + 1)):
        orders: list[Row] = []
        lines: list[Row] = []
        for order_id in chunk:
            order, order_lines = sales_order(ctx, rng, order_id, order_id in returned, line_ids)
            orders.append(order)
            lines += order_lines
        ctx.loader.insert(SalesOrder, orders)
        ctx.loader.insert(SalesOrderLine, lines)
        ctx.loader.progress(len(chunk))


def _sales_status(rng: random.Random, age: timedelta, will_return: bool) -> str:
    if will_return:
        return "Delivered"
    if rng.random() < 0.02:
        return "Canceled"
    if age < timedelta(hours=6):
        return "Pending"
    if age < timedelta(days=1):
        return "Unshipped"
    if age < timedelta(days=5):
        return "Shipped"
    return "Delivered" if rng.random() < 0.9 else "Shipped"


def sales_order(
    ctx: SeedContext, rng: random.Random, order_id: int, will_return: bool, line_ids: Iterator[int]
) -> tuple[Row, list[Row]]:
    """One Amazon order and its items; status follows its age. Returned orders are 15+ days old."""
    age = timedelta(days=rng.randint(15 if will_return else 0, 365), seconds=rng.randint(0, 86_399))
    purchased = ANCHOR - age
    afn = rng.random() < 0.88
    status = _sales_status(rng, age, will_return)
    shipped = purchased + timedelta(hours=rng.randint(4, 40)) if status in ("Shipped", "Delivered") else None
    customer_id = rng.randint(1, ctx.plan.customers)
    warehouse_id = rng.choice(FBA_WAREHOUSE_IDS) if afn else OWN_WAREHOUSE_ID
    item_count = 1 if rng.random() < 0.7 else (2 if rng.random() < 0.75 else 3)
    items, lines, total = [], [], 0
    for index in rng.sample(range(len(ctx.products)), min(item_count, len(ctx.products))):
        facts = ctx.products[index]
        quantity = 1 if rng.random() < 0.85 else rng.randint(2, 4)
        # Occasional coupon or lightning deal.
        price = facts.price_cents if rng.random() < 0.85 else round(facts.price_cents * 0.85)
        total += quantity * price
        items.append(SoldItem(index + 1, facts.sku, quantity, price))
        lines.append(
            {
                "id": next(line_ids),
                "sales_order_id": order_id,
                "product_id": index + 1,
                "order_item_id": f"{rng.randrange(10**13, 10**14)}",
                "sku": facts.sku,
                "asin": facts.asin,
                "quantity": quantity,
                "unit_price": money(price),
                "created_at": purchased,
                "updated_at": shipped or purchased,
            }
        )
    amazon_order_id = amazon_order_id_for(order_id, rng)
    if will_return:
        ctx.returnable[order_id] = ReturnableOrder(
            order_id, amazon_order_id, customer_id, warehouse_id, purchased, tuple(items)
        )
    order = {
        "id": order_id,
        "amazon_order_id": amazon_order_id,
        "customer_id": customer_id,
        "warehouse_id": warehouse_id,
        "marketplace": marketplace_for(order_id),
        "fulfillment_channel": "AFN" if afn else "MFN",
        "status": status,
        "purchased_at": purchased,
        "shipped_at": shipped,
        "currency": "USD",
        "total": money(total),
        "created_at": purchased,
        "updated_at": min(ANCHOR, (shipped or purchased) + timedelta(days=rng.randint(0, 4))),
    }
    return order, lines


def marketplace_for(order_id: int) -> str:
    """The marketplace of a sales order, from its id alone (so no other seeded value shifts)."""
    return MARKETPLACES[(order_id * MARKETPLACE_STRIDE) % len(MARKETPLACES)]


def write_return_orders(ctx: SeedContext) -> None:
    """Returns of the orders chosen in ``write_sales_orders``, with reasons and comments."""
    rng = ctx.rng("return-orders")
    line_ids = itertools.count(1)
    orders = sorted(ctx.returnable.values(), key=lambda order: order.id)
    for chunk in chunks(enumerate(orders, start=1)):
        rows: list[Row] = []
        lines: list[Row] = []
        for return_id, sold in chunk:
            row, row_lines = return_order(rng, return_id, sold, line_ids)
            rows.append(row)
            lines += row_lines
        ctx.loader.insert(ReturnOrder, rows)
        ctx.loader.insert(ReturnOrderLine, lines)
        ctx.loader.progress(len(chunk))


def return_order(
    rng: random.Random, return_id: int, sold: ReturnableOrder, line_ids: Iterator[int]
) -> tuple[Row, list[Row]]:
    """One return of a delivered order: usually its first item, sometimes all of them."""
    reason, status = _RETURN_REASONS.pick(rng), _RETURN_STATUSES.pick(rng)
    # The order is 15+ days old, so request (3-9 days later) and receipt (2-5 more) stay before the anchor.
    requested = sold.purchased_at + timedelta(days=rng.randint(3, 8), hours=rng.randint(0, 23))
    received = None
    if status in ("received", "refunded", "rejected"):
        received = requested + timedelta(days=rng.randint(2, 5))
    lines, refund = [], 0
    for item in sold.items if rng.random() < 0.2 else sold.items[:1]:
        quantity = rng.randint(1, item.quantity)
        refund += quantity * item.price_cents
        condition = None
        if received is not None:
            condition = _CONDITION_FOR_REASON.get(reason, "sellable" if rng.random() < 0.85 else "damaged")
        lines.append(
            {
                "id": next(line_ids),
                "return_order_id": return_id,
                "product_id": item.product_id,
                "sku": item.sku,
                "quantity": quantity,
                "condition": condition,
                "created_at": requested,
                "updated_at": received or requested,
            }
        )
    row = {
        "id": return_id,
        "rma_number": f"RMA-{requested.year}-{return_id:06d}",
        "sales_order_id": sold.id,
        "amazon_order_id": sold.amazon_order_id,
        "customer_id": sold.customer_id,
        "warehouse_id": sold.warehouse_id,
        "status": status,
        "reason": reason,
        "customer_comments": rng.choice(words.RETURN_COMMENTS[reason]) if rng.random() < 0.7 else None,
        "requested_at": requested,
        "received_at": received,
        "currency": "USD",
        "refund_amount": money(0 if status == "rejected" else refund),
        "created_at": requested,
        "updated_at": received or requested,
    }
    return row, lines
