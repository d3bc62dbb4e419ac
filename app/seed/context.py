"""State shared while seeding: the plan, random streams, the loader and facts later tables copy."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from app.extensions import db
from app.seed import words
from app.seed.plan import SeedPlan

SEED = 20261127
# "Now" of the demo data: every date is at or before it, whenever the seed runs.
ANCHOR = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
# Rows per INSERT batch: large enough for executemany to pay off, small enough for memory.
CHUNK_ROWS = 5_000
# Warehouse ids: the Amazon fulfillment centers first, then the seller's own, then a 3PL.
FBA_WAREHOUSE_IDS = tuple(range(1, len(words.FULFILLMENT_CENTERS) + 1))
OWN_WAREHOUSE_ID = len(FBA_WAREHOUSE_IDS) + 1

Progress = Callable[[int], None]


def chunks(items: Iterable[Any], size: int = CHUNK_ROWS) -> Iterator[list[Any]]:
    """Consecutive lists of at most ``size`` items."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


class Loader:
    """Bulk-inserts rows in chunks, counts them per table and reports progress."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.rows: dict[str, int] = {}

    def insert(self, model: type[Any], rows: Sequence[dict[str, Any]]) -> None:
        """Insert ``rows`` (all with the same keys) into ``model``'s table with one executemany."""
        table = model.__table__
        self.rows.setdefault(table.name, 0)
        if rows:
            # Core insert on the table, not the ORM's bulk insert: the ORM splits a batch
            # wherever a row has a None, turning one executemany into thousands of statements.
            db.session.execute(insert(table), list(rows))
            self.rows[table.name] += len(rows)

    def insert_all(self, model: type[Any], rows: Iterable[dict[str, Any]]) -> None:
        """Insert an iterable of rows chunk by chunk, one progress step per row."""
        for chunk in chunks(rows):
            self.insert(model, chunk)
            self.progress(len(chunk))


@dataclass(frozen=True, slots=True)
class ProductFacts:
    """What later tables copy from a product."""

    sku: str
    asin: str
    fnsku: str
    name: str
    cost_cents: int
    price_cents: int
    supplier_id: int
    status: str


@dataclass(frozen=True, slots=True)
class SoldItem:
    """One line of a sales order, as a return needs it."""

    product_id: int
    sku: str
    quantity: int
    price_cents: int


@dataclass(frozen=True, slots=True)
class ReturnableOrder:
    """A delivered sales order chosen to be returned."""

    id: int
    amazon_order_id: str
    customer_id: int
    warehouse_id: int
    purchased_at: datetime
    items: tuple[SoldItem, ...]


@dataclass
class SeedContext:
    """Everything the area generators share during one run."""

    plan: SeedPlan
    loader: Loader
    # Index i holds product id i + 1.
    products: list[ProductFacts] = field(default_factory=list)
    # Index i holds supplier id i + 1.
    supplier_lead_days: list[int] = field(default_factory=list)
    supplier_currency: list[str] = field(default_factory=list)
    # (category id, product nouns) of the categories products go in.
    leaf_categories: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)
    returnable: dict[int, ReturnableOrder] = field(default_factory=dict)

    @staticmethod
    def rng(stream: str) -> random.Random:
        """The random stream of one table: changing one table never shifts another's data."""
        return random.Random(f"{SEED}:{stream}")

    @staticmethod
    def stamps(rng: random.Random, max_age_days: float, min_age_days: float = 0) -> tuple[datetime, datetime]:
        """(created_at, updated_at) in whole seconds, at most ``max_age_days`` before the anchor."""
        age = rng.uniform(min_age_days * 86_400, max_age_days * 86_400)
        created = ANCHOR - timedelta(seconds=int(age))
        return created, ANCHOR - timedelta(seconds=int(age * rng.random()))
