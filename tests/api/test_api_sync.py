"""Integrator sync (SPEC §14): cursor mode, ETags and 304s, gzip. Every test runs on both databases."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from itsdangerous import URLSafeSerializer
from sqlalchemy import create_engine, event, select, update
from sqlalchemy.orm import Session

from app.api.cursors import CURSOR_SALT
from app.api.params import MAX_CURSOR_LENGTH
from app.catalogue import MODULES_BY_SLUG
from app.db.engine import engine_options
from app.extensions import db
from app.models.orders import Customer
from app.models.products import Brand, Category
from app.models.types import utcnow
from tests.api.api_helpers import assert_error

# Both databases: sync: cursors and updated_since comparisons are SQL.
pytestmark = pytest.mark.both_databases


@pytest.fixture
def raw(all_abilities_key: Any) -> str:
    """The full key of a key holding every ability."""
    return all_abilities_key.raw_key


@pytest.fixture
def other_connection(app: Flask) -> Iterator[Session]:
    """A session on an engine of its own: another process's writes, committed between pages."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    engine = create_engine(url, **engine_options(url))
    with Session(engine) as session:
        yield session
    engine.dispose()


def walk(call: Any, raw: str, url: str, between_pages: Any = None) -> tuple[list[dict[str, Any]], int]:
    """Follow ``links.next`` from ``url`` to the end; return every record seen and the page count."""
    seen: list[dict[str, Any]] = []
    pages = 0
    next_url: str | None = url
    while next_url:
        response = call(next_url, raw)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        assert set(body["meta"]) == {"per_page", "next_cursor"}
        seen.extend(body["data"])
        pages += 1
        next_url = body["links"]["next"]
        assert (next_url is None) == (body["meta"]["next_cursor"] is None)
        if between_pages is not None and next_url:
            between_pages(pages)
    return seen, pages


def ids_in_page_mode(call: Any, raw: str, slug: str, sort: str) -> list[int]:
    """Every id of a list in page mode, in order (the order cursor mode must follow)."""
    body = call(f"/api/v1/{slug}?per_page=100&sort={sort}", raw).get_json()
    assert body["meta"]["total"] <= 100
    return [item["id"] for item in body["data"]]


# --- Cursor mode --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "sort"),
    [
        ("customers", "id"),
        ("customers", "-id"),
        ("customers", "name"),
        ("customers", "-country"),
        ("sales-orders", "total"),  # decimals
        ("sales-orders", "-total"),
        ("sales-orders", "purchased_at"),  # datetimes
        ("sales-orders", "-status"),  # an enum, many ties
        ("amazon-ledger", "date"),  # dates, many ties
        ("amazon-ledger", "-updated_at"),
        ("categories", "parent_id"),  # nullable
        ("categories", "-parent_id"),
        ("purchase-orders", "expected_date"),  # a nullable date
        ("purchase-orders", "-expected_date"),
    ],
)
def test_cursor_mode_walks_every_record_once_in_the_page_mode_order(
    call: Any, raw: str, seeded: None, slug: str, sort: str
) -> None:
    expected = ids_in_page_mode(call, raw, slug, sort)
    seen, pages = walk(call, raw, f"/api/v1/{slug}?per_page=4&sort={sort}&cursor=")
    assert [item["id"] for item in seen] == expected
    assert pages == -(-len(expected) // 4)


@pytest.mark.parametrize("sort", ["parent_id", "-parent_id"])
def test_nullable_sort_puts_nulls_last_ascending_and_first_descending_on_every_database(
    call: Any, raw: str, seeded: None, sort: str
) -> None:
    data = call(f"/api/v1/categories?per_page=100&sort={sort}", raw).get_json()["data"]
    parents = [item["parent_id"] for item in data]
    assert None in parents and any(parent is not None for parent in parents)
    nulls = [parent is None for parent in parents]
    assert nulls == sorted(nulls, reverse=sort.startswith("-"))


def test_cursor_mode_continues_with_q_and_updated_since(call: Any, raw: str, seeded: None) -> None:
    query = "q=a&updated_since=2000-01-01T00:00:00Z&sort=-name"
    expected = [
        item["id"] for item in call(f"/api/v1/customers?per_page=100&{query}", raw).get_json()["data"]
    ]
    seen, _ = walk(call, raw, f"/api/v1/customers?per_page=3&{query}&cursor=")
    assert expected and [item["id"] for item in seen] == expected


def test_cursor_mode_tells_no_totals_and_runs_one_select_without_a_count(
    app: Flask, call: Any, raw: str, seeded: None
) -> None:
    assert call("/api/v1/customers", raw).status_code == 200  # proves the key
    first = call("/api/v1/customers?per_page=5&cursor=", raw).get_json()
    assert first["meta"] == {"per_page": 5, "next_cursor": first["meta"]["next_cursor"]}
    assert first["links"]["next"].endswith("cursor=" + quote(first["meta"]["next_cursor"], safe=""))
    assert first["links"]["prev"] is None
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        cursor = first["meta"]["next_cursor"]
        assert call(f"/api/v1/customers?per_page=5&cursor={cursor}", raw).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    # The key, then the page: no COUNT anywhere.
    assert len(statements) == 2
    assert not any("count(" in statement.lower() for statement in statements)


def test_last_page_has_no_next_cursor_and_an_empty_list_is_one_page(
    call: Any, raw: str, seeded: None
) -> None:
    body = call("/api/v1/customers?per_page=100&cursor=", raw).get_json()
    assert len(body["data"]) == 50
    assert body["meta"]["next_cursor"] is None and body["links"]["next"] is None
    empty = call("/api/v1/customers?q=no-such-customer&cursor=", raw).get_json()
    assert empty == {
        "data": [],
        "meta": {"per_page": 25, "next_cursor": None},
        "links": {"self": empty["links"]["self"], "next": None, "prev": None},
    }


def test_cursor_keeps_datetimes_to_the_microsecond(app: Flask, call: Any, raw: str) -> None:
    # Four brands updated one microsecond apart: a cursor that rounded would skip or repeat.
    base = utcnow().replace(microsecond=500_000)
    with app.app_context():
        for n in range(4):
            db.session.add(Brand(name=f"Brand {n}", country="DE"))
        db.session.commit()
        for n, brand in enumerate(db.session.scalars(select(Brand).order_by(Brand.id))):
            db.session.execute(
                update(Brand)
                .where(Brand.id == brand.id)
                .values(updated_at=base + timedelta(microseconds=3 - n))
            )
        db.session.commit()
    seen, pages = walk(call, raw, "/api/v1/brands?per_page=1&sort=updated_at&cursor=")
    assert [item["id"] for item in seen] == [4, 3, 2, 1]
    assert pages == 4


def test_sync_by_updated_at_sees_every_record_while_another_connection_changes_and_inserts(
    app: Flask, call: Any, raw: str, seeded: None, other_connection: Session
) -> None:
    with app.app_context():
        at_start = set(db.session.scalars(select(Customer.id)))
    changed: dict[int, str] = {}  # id -> the city it was changed to
    seen_before: set[int] = set()
    walked: list[dict[str, Any]] = []

    def meanwhile(pages: int) -> None:
        # Between pages another connection updates one record already seen, one not yet seen,
        # and inserts one, each committed at once.
        seen_ids = {item["id"] for item in walked}
        seen_before.update(seen_ids)
        not_yet = sorted(at_start - seen_ids)
        targets = [min(seen_ids)] + ([not_yet[len(not_yet) // 2]] if not_yet else [])
        for target in targets:
            city = f"Changed {pages}-{target}"
            customer = other_connection.get(Customer, target)
            customer.city = city
            changed[target] = city
        new = Customer(name=f"New {pages}", email=f"new{pages}@example.com", city="Newtown", country="DE")
        other_connection.add(new)
        other_connection.commit()
        changed[new.id] = "Newtown"

    def call_and_keep(url: str, key: str) -> Any:
        response = call(url, key)
        walked.extend(response.get_json()["data"])
        return response

    _seen, pages = walk(call_and_keep, raw, "/api/v1/customers?per_page=7&sort=updated_at&cursor=", meanwhile)
    assert pages > 5 and changed
    last_seen = {item["id"]: item for item in walked}
    # Every record present at the start is seen, and every change made during the sync is
    # seen in its changed state: none is skipped.
    assert at_start <= set(last_seen)
    for record_id, city in changed.items():
        assert last_seen[record_id]["city"] == city, record_id
    # A record appears twice only because it changed after it was first seen.
    repeated = {item["id"] for item in walked if [w["id"] for w in walked].count(item["id"]) > 1}
    assert repeated <= set(changed)


# --- Bad cursors ---------------------------------------------------------------------------


def first_cursor(call: Any, raw: str, slug: str = "customers", sort: str = "name") -> str:
    """The next_cursor of the first page of ``slug`` sorted by ``sort``."""
    cursor = call(f"/api/v1/{slug}?per_page=2&sort={sort}&cursor=", raw).get_json()["meta"]["next_cursor"]
    assert cursor
    return cursor


@pytest.mark.parametrize("other", ["-name", "city", "id"])
def test_cursor_is_bound_to_its_sort(call: Any, raw: str, seeded: None, other: str) -> None:
    cursor = first_cursor(call, raw, sort="name")
    error = assert_error(call(f"/api/v1/customers?sort={other}&cursor={cursor}", raw), 400, "bad_request")
    assert "sort=name" in error["details"]["cursor"][0]


def test_cursor_is_bound_to_its_list(call: Any, raw: str, seeded: None) -> None:
    cursor = first_cursor(call, raw, slug="customers", sort="name")
    error = assert_error(call(f"/api/v1/suppliers?sort=name&cursor={cursor}", raw), 400, "bad_request")
    assert "customers" in error["details"]["cursor"][0]


def _flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


def test_tampered_cursors_are_400_naming_cursor(app: Flask, call: Any, raw: str, seeded: None) -> None:
    cursor = first_cursor(call, raw)
    payload = {"m": "customers", "s": "name", "v": "A", "i": 1}
    forged = [
        _flip(cursor, 3),  # the payload changed
        _flip(cursor, len(cursor) - 2),  # the signature changed
        cursor[:-5],  # truncated
        cursor + "x",
        "garbage",
        "a.b",
        # Well formed, but signed with another key, or with the app's key and another salt.
        URLSafeSerializer("another-secret", salt=CURSOR_SALT).dumps(payload),
        URLSafeSerializer(app.config["SECRET_KEY"], salt="another-salt").dumps(payload),
    ]
    for bad in forged:
        error = assert_error(
            call(f"/api/v1/customers?sort=name&cursor={quote(bad)}", raw), 400, "bad_request"
        )
        assert set(error["details"]) == {"cursor"}, bad


@pytest.mark.parametrize(
    "payload",
    [
        ["not", "a", "dict"],
        {"m": "customers", "s": "name"},
        {"m": "customers", "s": "name", "v": "A", "i": "1"},
        {"m": "customers", "s": "name", "v": "A", "i": True},
        {"m": "customers", "s": "name", "v": 5, "i": 1},
        {"m": "sales-orders", "s": "total", "v": 12.5, "i": 1},  # a float, not a decimal string
        {"m": "sales-orders", "s": "total", "v": "twelve", "i": 1},
        {"m": "sales-orders", "s": "purchased_at", "v": "2026-01-01T00:00:00", "i": 1},  # naive
        {"m": "sales-orders", "s": "status", "v": "no-such-status", "i": 1},
        {"m": "amazon-ledger", "s": "date", "v": "yesterday", "i": 1},
    ],
)
def test_a_signed_cursor_with_a_wrong_shape_is_400_not_a_crash(
    app: Flask, call: Any, raw: str, seeded: None, payload: Any
) -> None:
    # Only a leaked SECRET_KEY could produce these; still, never a 500.
    cursor = URLSafeSerializer(app.config["SECRET_KEY"], salt=CURSOR_SALT).dumps(payload)
    slug = payload["m"] if isinstance(payload, dict) else "customers"
    sort = payload.get("s", "name") if isinstance(payload, dict) else "name"
    error = assert_error(call(f"/api/v1/{slug}?sort={sort}&cursor={cursor}", raw), 400, "bad_request")
    assert set(error["details"]) == {"cursor"}


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("cursor=&page=1", {"cursor", "page"}),
        ("cursor=&page=2", {"cursor", "page"}),
        (f"cursor={'a' * (MAX_CURSOR_LENGTH + 1)}", {"cursor"}),
        ("cursor=%0D", {"cursor"}),
        ("cursor=%00abc", {"cursor"}),
        ("cursor=&cursor=", {"cursor"}),
        ("cursor=abc&sort=nope", {"sort"}),
    ],
)
def test_bad_cursor_arguments_are_400_naming_the_parameter(
    call: Any, raw: str, query: str, fields: set[str]
) -> None:
    error = assert_error(call(f"/api/v1/customers?{query}", raw), 400, "bad_request")
    assert set(error["details"]) == fields, error


# --- ETag and 304 --------------------------------------------------------------------------


def test_etag_is_stable_and_changes_only_when_a_record_on_the_page_changes(
    app: Flask, call: Any, raw: str, seeded: None
) -> None:
    url = "/api/v1/customers?per_page=5&sort=id"
    first = call(url, raw)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert call(url, raw).headers["ETag"] == etag
    # Another query is another answer.
    assert call(url + "&q=a", raw).headers["ETag"] != etag
    with app.app_context():
        off_page = db.session.get(Customer, 40)
        off_page.city = "Elsewhere"
        db.session.commit()
    assert call(url, raw).headers["ETag"] == etag
    with app.app_context():
        on_page = db.session.get(Customer, 3)
        on_page.city = "Changed"
        db.session.commit()
    changed = call(url, raw)
    assert changed.headers["ETag"] != etag
    assert call(url, raw).headers["ETag"] == changed.headers["ETag"]


@pytest.mark.parametrize(
    "path", ["/api/v1/customers?per_page=5", "/api/v1/customers?per_page=5&cursor=", "/api/v1/customers/3"]
)
def test_if_none_match_answers_304_without_a_body_and_counts_against_the_limit(
    call: Any, make_key: Any, seeded: None, path: str
) -> None:
    key = make_key(abilities=["customers:list", "customers:show"], rate_limit=10).raw_key
    first = call(path, key)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    remaining = int(first.headers["X-RateLimit-Remaining"])
    again = call(path, key, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    assert int(again.headers["X-RateLimit-Remaining"]) == remaining - 1
    assert {"X-RateLimit-Limit", "X-RateLimit-Reset"} <= set(again.headers.keys())
    # A stale ETag gets the full answer.
    stale = call(path, key, headers={"If-None-Match": '"stale"'})
    assert stale.status_code == 200 and stale.get_json() == first.get_json()


def test_show_etag_changes_when_the_record_changes(app: Flask, call: Any, raw: str, seeded: None) -> None:
    etag = call("/api/v1/customers/7", raw).headers["ETag"]
    with app.app_context():
        db.session.get(Customer, 7).city = "Changed"
        db.session.commit()
    response = call("/api/v1/customers/7", raw, headers={"If-None-Match": etag})
    assert response.status_code == 200 and response.headers["ETag"] != etag


def test_errors_carry_no_etag_and_stay_uncached(call: Any, raw: str) -> None:
    response = call("/api/v1/customers/999", raw)
    assert response.status_code == 404
    assert "ETag" not in response.headers and response.headers["Cache-Control"] == "no-store"


# --- gzip ----------------------------------------------------------------------------------


def test_gzip_only_when_asked_and_only_above_one_kilobyte(call: Any, raw: str, seeded: None) -> None:
    big = "/api/v1/customers?per_page=50"
    plain = call(big, raw)
    assert len(plain.data) > 1024
    assert "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]

    zipped = call(big, raw, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert len(zipped.data) < len(plain.data)
    assert json.loads(gzip.decompress(zipped.data)) == plain.get_json()
    assert int(zipped.headers["Content-Length"]) == len(zipped.data)

    small = call("/api/v1/customers?per_page=1", raw, headers={"Accept-Encoding": "gzip"})
    assert len(small.data) < 1024
    assert "Content-Encoding" not in small.headers
    # Only gzip is offered: a client asking for brotli alone gets the identity body.
    assert "Content-Encoding" not in call(big, raw, headers={"Accept-Encoding": "br"}).headers


def test_gzip_and_identity_answers_have_distinct_etags_and_both_revalidate(
    call: Any, raw: str, seeded: None
) -> None:
    big = "/api/v1/customers?per_page=50"
    plain = call(big, raw)
    zipped = call(big, raw, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    gzip_etag = zipped.headers["ETag"]
    not_modified = call(big, raw, headers={"Accept-Encoding": "gzip", "If-None-Match": gzip_etag})
    assert not_modified.status_code == 304 and not_modified.data == b""
    assert not_modified.headers["ETag"] == gzip_etag
    assert "X-RateLimit-Remaining" in not_modified.headers
    identity = call(big, raw, headers={"If-None-Match": plain.headers["ETag"]})
    assert identity.status_code == 304
    # The gzip ETag does not validate an identity answer, nor the other way round.
    assert call(big, raw, headers={"If-None-Match": gzip_etag}).status_code == 200


def test_gzip_applies_to_json_only(client: Any) -> None:
    page = client.get("/api/docs", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "Content-Encoding" not in page.headers
    document = client.get("/api/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert document.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(document.data))["openapi"].startswith("3.")


def test_categories_module_is_in_the_catalogue_with_a_nullable_sort() -> None:
    # The nullable-sort tests above rely on these columns staying nullable and sortable.
    assert "parent_id" in MODULES_BY_SLUG["categories"].sortable
    assert Category.__table__.c["parent_id"].nullable
    assert MODULES_BY_SLUG["purchase-orders"].model.__table__.c["expected_date"].nullable


def test_compression_stays_off_routes_that_serve_no_json(client: Any) -> None:
    # Only the JSON blueprints hook Flask-Compress: the liveness probe pays nothing for it.
    response = client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers and "Vary" not in response.headers
