"""Demo data for every module (``flask seed-demo``): deterministic, believable, bulk-inserted.

The same ``scale`` always produces the same rows (same ids, same values): every table draws
from its own random stream with a fixed seed, and all times hang off a fixed anchor date.
Everything is written in one transaction, so an interrupted run leaves nothing behind and
"already seeded" means "a previous run finished".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from sqlalchemy import func, select

from app.db import dialect
from app.extensions import db
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
from app.seed.codes import amazon_order_id_for, asin_for, fnsku_for
from app.seed.context import ANCHOR, SEED, Loader, Progress, SeedContext
from app.seed.ledger import write_ledger
from app.seed.orders import write_orders
from app.seed.organisation import write_organisation
from app.seed.plan import DEFAULT_SCALE, LEDGER_ENTRIES_PER_PRODUCT, MAX_SCALE, SeedPlan, plan_for
from app.seed.products import write_catalog
from app.validation.errors import InvalidInput

# Every back-office table, parents before children.
DOMAIN_MODELS: tuple[type[Any], ...] = (
    Brand,
    Category,
    Supplier,
    Warehouse,
    Product,
    InventoryLevel,
    ReplenishmentPlan,
    Customer,
    PurchaseOrder,
    PurchaseOrderLine,
    SalesOrder,
    SalesOrderLine,
    ReturnOrder,
    ReturnOrderLine,
    LedgerEntry,
    Setting,
    Department,
    Employee,
)


@dataclass
class SeedResult:
    """Outcome of ``seed_demo``: whether it wrote anything, rows per table, seconds taken."""

    seeded: bool
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def validate_scale(value: Any) -> int:
    """Return ``value`` as a number of products, or raise InvalidInput (nothing is written then)."""
    message = f"--scale must be a whole number of products from 1 to {MAX_SCALE:,}"
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except ValueError:
            raise InvalidInput(message, {"scale": [message]}) from None
    if not 1 <= value <= MAX_SCALE:
        raise InvalidInput(message, {"scale": [message]})
    return value


def has_domain_data() -> bool:
    """True when any back-office table already holds a row (a finished seed, or real data)."""
    return any(db.session.scalar(select(model.id).limit(1)) is not None for model in DOMAIN_MODELS)


def count_rows() -> dict[str, int]:
    """Rows per back-office table."""
    return {
        model.__tablename__: db.session.scalar(select(func.count()).select_from(model)) or 0
        for model in DOMAIN_MODELS
    }


def _no_progress(_steps: int) -> None:
    return None


def seed_demo(scale: int = DEFAULT_SCALE, progress: Progress = _no_progress) -> SeedResult:
    """Fill every module with demo data for ``scale`` products, unless data is already there."""
    scale = validate_scale(scale)
    if has_domain_data():
        return SeedResult(seeded=False, rows=count_rows())
    started = perf_counter()
    ctx = SeedContext(plan_for(scale), Loader(progress))
    try:
        write_catalog(ctx)
        write_orders(ctx)
        write_ledger(ctx)
        write_organisation(ctx)
        _advance_id_sequences()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    rows = {model.__tablename__: ctx.loader.rows.get(model.__tablename__, 0) for model in DOMAIN_MODELS}
    return SeedResult(seeded=True, rows=rows, seconds=perf_counter() - started)


def _advance_id_sequences() -> None:
    """Rows carry explicit ids; PostgreSQL's sequences must then continue after them."""
    if dialect() != "postgresql":
        return
    for model in DOMAIN_MODELS:
        sequence = func.pg_get_serial_sequence(model.__tablename__, "id")
        db.session.execute(select(func.setval(sequence, select(func.max(model.id)).scalar_subquery())))


__all__ = [
    "ANCHOR",
    "DEFAULT_SCALE",
    "DOMAIN_MODELS",
    "LEDGER_ENTRIES_PER_PRODUCT",
    "MAX_SCALE",
    "SEED",
    "SeedPlan",
    "SeedResult",
    "amazon_order_id_for",
    "asin_for",
    "count_rows",
    "fnsku_for",
    "has_domain_data",
    "plan_for",
    "seed_demo",
    "validate_scale",
]
