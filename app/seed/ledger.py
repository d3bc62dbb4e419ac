"""Demo Amazon Inventory Ledger: ten movements per product over the last year.

The hottest loop of the seed (a million rows at scale 100k): one pass, precomputed days, one
random number per choice.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from app.models.stock import LedgerEntry
from app.seed import words
from app.seed.codes import Weighted, base36
from app.seed.context import ANCHOR, SeedContext

_EVENTS = Weighted(
    [
        ("Shipments", 55),
        ("Receipts", 14),
        ("CustomerReturns", 8),
        ("Adjustments", 10),
        ("WhseTransfers", 11),
        ("VendorReturns", 2),
    ]
)
_RETURN_DISPOSITIONS = Weighted(
    [("SELLABLE", 70), ("CUSTOMER_DAMAGED", 12), ("DEFECTIVE", 10), ("CARRIER_DAMAGED", 5), ("EXPIRED", 3)]
)
# Amazon adjustment reason codes: (code, sign of the quantity, disposition).
_ADJUSTMENTS = (
    ("M", -1, "SELLABLE"),  # misplaced
    ("F", 1, "SELLABLE"),  # found
    ("E", -1, "WAREHOUSE_DAMAGED"),  # damaged at the fulfillment center
    ("D", -1, "UNSELLABLE"),  # disposed of
    ("Q", -1, "WAREHOUSE_DAMAGED"),  # damaged, miscellaneous
    ("O", 1, "SELLABLE"),  # inventory correction
)
_CENTERS = tuple(code for code, _city, _state in words.FULFILLMENT_CENTERS)
_DAYS_BACK = 365


def write_ledger(ctx: SeedContext) -> None:
    """Insert the ledger entries."""
    ctx.loader.insert_all(LedgerEntry, ledger_entries(ctx))


def ledger_entries(ctx: SeedContext) -> Iterator[dict[str, Any]]:
    """Ledger lines over the last year, each imported at 06:30 UTC the morning after."""
    rng = ctx.rng("amazon-ledger")
    days = [ANCHOR.date() - timedelta(days=age) for age in range(1, _DAYS_BACK + 1)]
    imported = [datetime(d.year, d.month, d.day, 6, 30, tzinfo=UTC) + timedelta(days=1) for d in days]
    products = ctx.products
    for entry_id in range(1, ctx.plan.ledger_entries + 1):
        facts = products[rng.randrange(len(products))]
        day = rng.randrange(_DAYS_BACK)
        event = _EVENTS.pick(rng)
        disposition, reason, reference = "SELLABLE", None, None
        if event == "Shipments":
            quantity = -1 if rng.random() < 0.85 else -rng.randint(2, 4)
            reference = "D" + base36(rng.getrandbits(40), 8)
        elif event == "Receipts":
            quantity = 12 * rng.randint(1, 20)
            reference = "FBA1" + base36(rng.getrandbits(40), 8)
        elif event == "CustomerReturns":
            quantity = 1
            disposition = _RETURN_DISPOSITIONS.pick(rng)
            reference = f"11{rng.randint(1, 4)}-{rng.randrange(10**7):07d}-{rng.randrange(10**7):07d}"
        elif event == "Adjustments":
            reason, sign, disposition = rng.choice(_ADJUSTMENTS)
            quantity = sign * rng.randint(1, 3)
            reference = str(rng.randrange(10**10, 10**11))
        elif event == "WhseTransfers":
            quantity = (1 if rng.random() < 0.5 else -1) * 12 * rng.randint(1, 10)
        else:  # VendorReturns: a removal order
            quantity = -rng.randint(1, 24)
            disposition = "UNSELLABLE" if rng.random() < 0.7 else "SELLABLE"
            reference = "RMV" + base36(rng.getrandbits(32), 7)
        yield {
            "id": entry_id,
            "date": days[day],
            "fnsku": facts.fnsku,
            "asin": facts.asin,
            "msku": facts.sku,
            "title": facts.name,
            "event_type": event,
            "reference_id": reference,
            "quantity": quantity,
            "fulfillment_center": _CENTERS[rng.randrange(len(_CENTERS))],
            "disposition": disposition,
            "reason": reason,
            "country": "US",
            "created_at": imported[day],
            "updated_at": imported[day],
        }
