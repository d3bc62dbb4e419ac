"""The data floor of SPEC §11: a bare Flask list of the same 25 products from the same database.

SQLAlchemy Core on the ``DATABASE_URL`` the app reads, the fields the API's ``ProductSchema``
dumps, the exact total by ``COUNT(*)``, the list envelope through plain ``jsonify``: no key, no
limit, no validation, no usage counting, no ETag, no extension. It is what the data work of
``GET /api/v1/products`` costs done the naive way. ``make bench`` serves it beside the app
with the same server and workers in the same run; everything Stockgate adds is the app's list
measured over it (bench/README.md).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from flask import Flask, jsonify
from sqlalchemy import MetaData, Table, create_engine, func, select

# The API's products fields, in its order (app/schemas/products.py, app/schemas/base.py).
FIELDS = (
    "id",
    "created_at",
    "updated_at",
    "sku",
    "asin",
    "fnsku",
    "name",
    "brand_id",
    "category_id",
    "cost",
    "sale_price",
    "currency",
    "status",
)
TIMESTAMPS = ("created_at", "updated_at")
PER_PAGE = 25
PATH = "/api/v1/products"

engine = create_engine(os.environ["DATABASE_URL"])
products = Table("products", MetaData(), autoload_with=engine)
# gunicorn loads the app before it forks (preload_app): no worker may inherit the reflection's
# connection, so each opens its own.
engine.dispose()

PAGE = select(*(products.c[name] for name in FIELDS)).order_by(products.c.id).limit(PER_PAGE)
TOTAL = select(func.count()).select_from(products)

app = Flask(__name__)


def utc(value: datetime) -> str:
    """A stored (naive UTC) timestamp as the API writes it: ISO 8601 ending in ``Z``."""
    return value.isoformat() + "Z"


def record(row: Any) -> dict[str, Any]:
    """One product as a dict of its fields (timestamps as the API writes them)."""
    item = dict(zip(FIELDS, row, strict=True))
    for name in TIMESTAMPS:
        item[name] = utc(item[name])
    return item


@app.get(PATH)
def list_products():
    """Page 1 of 25 products by id with the exact total: the data work of the API's list."""
    with engine.connect() as conn:
        rows = conn.execute(PAGE).all()
        total = conn.execute(TOTAL).scalar_one()
    pages = -(-total // PER_PAGE)
    return jsonify(
        data=[record(row) for row in rows],
        meta={"page": 1, "per_page": PER_PAGE, "total": total, "pages": pages},
        links={"self": f"{PATH}?page=1", "next": f"{PATH}?page=2" if pages > 1 else None, "prev": None},
    )


@app.get("/healthz")
def healthz():
    """The bench harness's readiness probe asks every server for ``/healthz``."""
    return jsonify({"status": "ok"})
