"""Demo catalogue: brands, categories, suppliers, warehouses, then products with their stock.

Products, inventory levels and replenishment plans are made in one pass, chunk by chunk, so
memory stays flat at any scale.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from app.models.products import Brand, Category, Product, Supplier, Warehouse
from app.models.stock import InventoryLevel, ReplenishmentPlan
from app.seed import words
from app.seed.codes import Weighted, asin_for, fnsku_for, initials, money
from app.seed.context import FBA_WAREHOUSE_IDS, ProductFacts, SeedContext, chunks

Row = dict[str, Any]

_PRODUCT_STATUSES = Weighted([("active", 88), ("inactive", 8), ("discontinued", 4)])
_PLAN_STATUSES = Weighted([("draft", 60), ("approved", 25), ("ordered", 15)])
# Plans suggesting nothing: left as drafts or dismissed by a planner.
_IDLE_PLAN_STATUSES = Weighted([("draft", 50), ("dismissed", 50)])
_BRAND_COUNTRIES = Weighted([("US", 70), ("CA", 8), ("GB", 10), ("DE", 7), ("AU", 5)])
_SUPPLIER_ORIGINS = Weighted(list(zip(words.SUPPLIER_ORIGINS, (45, 15, 12, 10, 12, 6), strict=True)))
_LEAD_DAYS = {"CN": (30, 50), "VN": (35, 55), "IN": (40, 60), "US": (5, 14), "DE": (20, 32)}
_CALLING_CODES = {"CN": "+86", "VN": "+84", "IN": "+91", "US": "+1", "DE": "+49"}


def write_catalog(ctx: SeedContext) -> None:
    """Insert brands, categories, suppliers, warehouses, products, inventory and plans."""
    ctx.loader.insert_all(Brand, brands(ctx))
    ctx.loader.insert_all(Category, categories(ctx))
    ctx.loader.insert_all(Supplier, suppliers(ctx))
    ctx.loader.insert_all(Warehouse, warehouses(ctx))
    for chunk in chunks(product_bundles(ctx)):
        ctx.loader.insert(Product, [product for product, _levels, _plan in chunk])
        ctx.loader.insert(InventoryLevel, [level for _p, levels, _plan in chunk for level in levels])
        ctx.loader.insert(ReplenishmentPlan, [plan for _p, _levels, plan in chunk])
        ctx.loader.progress(len(chunk))


def brand_names(ctx: SeedContext) -> list[str]:
    """Brand names in id order: plain stems first, then stems with suffixes."""
    names = [stem + suffix for suffix in words.BRAND_SUFFIXES for stem in words.BRAND_STEMS]
    return names[: ctx.plan.brands]


def brands(ctx: SeedContext) -> Iterator[Row]:
    """Brand rows."""
    rng = ctx.rng("brands")
    for brand_id, name in enumerate(brand_names(ctx), start=1):
        created, updated = ctx.stamps(rng, 900, 400)
        slug = "".join(ch for ch in name.lower() if ch.isalnum())
        yield {
            "id": brand_id,
            "name": name,
            "country": _BRAND_COUNTRIES.pick(rng),
            "website": f"https://www.{slug}.com" if rng.random() < 0.85 else None,
            "brand_registry": rng.random() < 0.75,
            "created_at": created,
            "updated_at": updated,
        }


def categories(ctx: SeedContext) -> Iterator[Row]:
    """Top-level categories (with Amazon browse nodes), each followed by its children."""
    rng = ctx.rng("categories")
    ids = itertools.count(1)
    for name, node, subcategories in words.CATEGORY_TREE:
        parent_id = next(ids)
        created, updated = ctx.stamps(rng, 900, 600)
        yield {
            "id": parent_id,
            "name": name,
            "parent_id": None,
            "browse_node_id": node,
            "created_at": created,
            "updated_at": updated,
        }
        for sub_name, nouns in subcategories:
            sub_id = next(ids)
            ctx.leaf_categories.append((sub_id, nouns))
            created, updated = ctx.stamps(rng, 900, 400)
            yield {
                "id": sub_id,
                "name": sub_name,
                "parent_id": parent_id,
                "browse_node_id": None,
                "created_at": created,
                "updated_at": updated,
            }


def suppliers(ctx: SeedContext) -> Iterator[Row]:
    """Supplier rows, mostly Asian manufacturers, with lead times to match."""
    rng = ctx.rng("suppliers")
    for supplier_id in range(1, ctx.plan.suppliers + 1):
        country, currency, cities, pattern = _SUPPLIER_ORIGINS.pick(rng)
        word, trade = rng.choice(words.SUPPLIER_WORDS), rng.choice(words.SUPPLIER_TRADES)
        lead = rng.randint(*_LEAD_DAYS[country])
        ctx.supplier_lead_days.append(lead)
        ctx.supplier_currency.append(currency)
        domain = f"{word}-{trade}".lower().replace(" ", "")
        phone = f"{rng.randint(100, 999)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
        created, updated = ctx.stamps(rng, 800, 100)
        yield {
            "id": supplier_id,
            "code": f"SUP-{supplier_id:04d}",
            "name": pattern.format(city=rng.choice(cities), word=word, trade=trade),
            "contact_name": f"{rng.choice(words.FIRST_NAMES)} {rng.choice(words.LAST_NAMES)}",
            "email": f"sales@{domain}.example",
            "phone": f"{_CALLING_CODES[country]} {phone}",
            "country": country,
            "currency": currency,
            "lead_time_days": lead,
            "created_at": created,
            "updated_at": updated,
        }


def warehouses(ctx: SeedContext) -> Iterator[Row]:
    """Amazon fulfillment centers first, then the seller's own and a 3PL warehouse."""
    rng = ctx.rng("warehouses")
    rows = [
        (code, f"Amazon {code} {city}", "amazon_fba", city, state)
        for code, city, state in words.FULFILLMENT_CENTERS
    ] + list(words.OTHER_WAREHOUSES)
    for warehouse_id, (code, name, kind, city, state) in enumerate(rows, start=1):
        created, updated = ctx.stamps(rng, 900, 500)
        yield {
            "id": warehouse_id,
            "code": code,
            "name": name,
            "kind": kind,
            "city": city,
            "region": state,
            "country": "US",
            "created_at": created,
            "updated_at": updated,
        }


def product_bundles(ctx: SeedContext) -> Iterator[tuple[Row, list[Row], Row]]:
    """(product row, its inventory level rows, its replenishment plan row) per product."""
    rng, stock_rng, plan_rng = ctx.rng("products"), ctx.rng("inventory"), ctx.rng("replenishment")
    names = brand_names(ctx)
    codes = [initials(name) for name in names]
    level_ids = itertools.count(1)
    for product_id in range(1, ctx.plan.scale + 1):
        brand_index = rng.randrange(len(names))
        category_id, nouns = rng.choice(ctx.leaf_categories)
        noun = rng.choice(nouns)
        adjective = rng.choice(words.ADJECTIVES) + " " if rng.random() < 0.5 else ""
        name = f"{names[brand_index]} {adjective}{noun}, {rng.choice(words.VARIANTS)}"
        cost_cents = rng.randint(150, 4_500)
        # Sale prices end in .99, at 2.2-3.6x cost (Amazon fees take a large share).
        price_cents = max(int(cost_cents * rng.uniform(2.2, 3.6)) // 100, 1) * 100 + 99
        facts = ProductFacts(
            sku=f"{codes[brand_index]}-{initials(noun)}-{product_id:06d}",
            asin=asin_for(product_id),
            fnsku=fnsku_for(product_id),
            name=name,
            cost_cents=cost_cents,
            price_cents=price_cents,
            supplier_id=rng.randint(1, ctx.plan.suppliers),
            status=_PRODUCT_STATUSES.pick(rng),
        )
        ctx.products.append(facts)
        created, updated = ctx.stamps(rng, 700, 30)
        product = {
            "id": product_id,
            "sku": facts.sku,
            "asin": facts.asin,
            "fnsku": facts.fnsku,
            "name": name,
            "brand_id": brand_index + 1,
            "category_id": category_id,
            "cost": money(cost_cents),
            "sale_price": money(price_cents),
            "currency": "USD",
            "status": facts.status,
            "created_at": created,
            "updated_at": updated,
        }
        levels = inventory_levels(ctx, stock_rng, product_id, facts, level_ids)
        yield product, levels, replenishment_plan(ctx, plan_rng, product_id, facts, levels[0])


def inventory_levels(
    ctx: SeedContext, rng: random.Random, product_id: int, facts: ProductFacts, ids: Iterator[int]
) -> list[Row]:
    """Levels of one product in 1-3 warehouses; the first is always an Amazon FC."""
    count = 1 if rng.random() < 0.5 else (2 if rng.random() < 0.7 else 3)
    warehouse_ids = [rng.choice(FBA_WAREHOUSE_IDS)]
    others = [w for w in range(1, ctx.plan.warehouses + 1) if w != warehouse_ids[0]]
    warehouse_ids += rng.sample(others, count - 1)
    levels = []
    for warehouse_id in warehouse_ids:
        if facts.status == "discontinued":
            on_hand = rng.randint(0, 20)
        else:
            on_hand = 0 if rng.random() < 0.08 else rng.randint(1, 900)
        reserved = rng.randint(0, on_hand // 10)
        inbound = 0 if rng.random() < 0.6 else 12 * rng.randint(1, 50)
        created, updated = ctx.stamps(rng, 30)
        levels.append(
            {
                "id": next(ids),
                "product_id": product_id,
                "warehouse_id": warehouse_id,
                "sku": facts.sku,
                "on_hand": on_hand,
                "reserved": reserved,
                "inbound": inbound,
                "available": on_hand - reserved,
                "created_at": created,
                "updated_at": updated,
            }
        )
    return levels


def replenishment_plan(
    ctx: SeedContext, rng: random.Random, product_id: int, facts: ProductFacts, level: Row
) -> Row:
    """Reorder point = velocity x lead time + safety stock; suggest 30 more days of cover, in cases."""
    if facts.status == "discontinued":
        velocity = 0.05
    else:
        velocity = round(min(250.0, max(0.05, rng.lognormvariate(0.8, 1.0))), 2)
    lead = ctx.supplier_lead_days[facts.supplier_id - 1] + rng.randint(5, 12)  # + transit to the FC
    safety = math.ceil(velocity * 14)
    reorder_point = math.ceil(velocity * lead) + safety
    shortfall = reorder_point + math.ceil(velocity * 30) - level["available"] - level["inbound"]
    suggested = 12 * math.ceil(shortfall / 12) if shortfall > 0 and facts.status == "active" else 0
    status = (_PLAN_STATUSES if suggested else _IDLE_PLAN_STATUSES).pick(rng)
    created, updated = ctx.stamps(rng, 14)
    return {
        "id": product_id,
        "product_id": product_id,
        "warehouse_id": level["warehouse_id"],
        "supplier_id": facts.supplier_id,
        "sku": facts.sku,
        "daily_velocity": Decimal(f"{velocity:.2f}"),
        "lead_time_days": lead,
        "safety_stock": safety,
        "reorder_point": reorder_point,
        "suggested_quantity": suggested,
        "status": status,
        "created_at": created,
        "updated_at": updated,
    }
