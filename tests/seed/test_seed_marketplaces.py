"""The demo data spreads sales orders over one region's marketplaces (SPEC §16)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from app import seed
from app.extensions import db
from app.models.orders import SalesOrder
from app.seed.orders import marketplace_for


def test_demo_sales_orders_spread_over_amazon_com_ca_and_mx_the_same_way_every_time(app):
    """Every marketplace of the region has orders, Amazon.com the most, each fixed by the order id."""
    with app.app_context():
        seed.seed_demo(60)
        first = dict(db.session.execute(select(SalesOrder.id, SalesOrder.marketplace)).all())
    counts = Counter(first.values())
    assert set(counts) == {"Amazon.com", "Amazon.ca", "Amazon.com.mx"}
    assert counts["Amazon.com"] > counts["Amazon.ca"] > 0
    assert counts["Amazon.com.mx"] > 0
    # From the order id alone: every seeding of the same scale gives the same marketplaces.
    assert all(marketplace == marketplace_for(order_id) for order_id, marketplace in first.items())
