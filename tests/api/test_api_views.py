"""Every list and show endpoint answers with the SPEC §6 shapes on seeded data; list args validated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from sqlalchemy import event, select

from app.api import listing
from app.catalogue import ENDPOINT_ABILITIES, MODULES, MODULES_BY_SLUG
from app.extensions import db
from app.models.api_keys import ApiKey
from app.models.types import utcnow
from tests.api.api_helpers import assert_error

# Both databases: listing: filters, sorts, pagination and totals are SQL.
pytestmark = pytest.mark.both_databases


def test_every_module_has_list_and_show_endpoints_with_abilities() -> None:
    expected = {f"api.{m.slug}_{action}": m.ability(action) for m in MODULES for action in ("list", "show")}
    assert expected == ENDPOINT_ABILITIES


def test_every_list_and_show_answers_with_the_spec_shapes(
    call: Any, all_abilities_key: Any, seeded: dict[str, int]
) -> None:
    raw = all_abilities_key.raw_key
    for module in MODULES:
        assert seeded[module.slug] > 0, module.slug
        response = call(f"/api/v1/{module.slug}?per_page=2", raw)
        assert response.status_code == 200, (module.slug, response.get_data(as_text=True))
        body = response.get_json()
        assert set(body) == {"data", "meta", "links"}
        assert set(body["meta"]) == {"page", "per_page", "total", "pages"}
        assert set(body["links"]) == {"self", "next", "prev"}
        assert body["meta"]["total"] == seeded[module.slug]
        assert body["meta"]["per_page"] == 2
        assert len(body["data"]) == min(2, seeded[module.slug])
        assert body["links"]["prev"] is None
        first = body["data"][0]
        assert isinstance(first["id"], int)
        assert first["updated_at"].endswith("Z")

        shown = call(f"/api/v1/{module.slug}/{first['id']}", raw)
        assert shown.status_code == 200, (module.slug, shown.get_data(as_text=True))
        assert shown.get_json() == {"data": first}
        assert_error(call(f"/api/v1/{module.slug}/2147483647", raw), 404, "not_found")


def test_list_records_are_what_the_schema_dumps_of_each_record(
    app: Flask, call: Any, all_abilities_key: Any, seeded: dict[str, int]
) -> None:
    """Lists read plain rows for modules without nested records: the same JSON, every field."""
    raw = all_abilities_key.raw_key
    for module in MODULES:
        for query in ("per_page=100", "per_page=100&cursor="):
            listed = call(f"/api/v1/{module.slug}?{query}&sort=id", raw).get_json()["data"]
            with app.app_context():
                records = db.session.scalars(select(module.model).order_by(module.model.id)).all()
                expected = module.schema(many=True).dump(records)
            assert listed == expected, (module.slug, query)


def test_pagination_walks_every_record_once_with_links(
    call: Any, all_abilities_key: Any, seeded: dict[str, int]
) -> None:
    raw = all_abilities_key.raw_key
    total = seeded["products"]
    url: str | None = "/api/v1/products?per_page=2&sort=status"
    ids: list[int] = []
    pages = 0
    while url:
        body = call(url, raw).get_json()
        ids.extend(item["id"] for item in body["data"])
        pages += 1
        assert body["meta"]["pages"] == -(-total // 2)
        url = body["links"]["next"]
        if url:
            assert parse_qs(urlsplit(url).query) == {
                "per_page": ["2"],
                "sort": ["status"],
                "page": [str(pages + 1)],
            }
    assert len(ids) == total and len(set(ids)) == total
    assert pages == -(-total // 2)
    last = call(f"/api/v1/products?per_page=2&page={pages}", raw).get_json()
    assert last["links"]["next"] is None
    assert last["links"]["prev"].endswith(f"page={pages - 1}")
    beyond = call("/api/v1/products?page=9999", raw).get_json()
    assert beyond["data"] == [] and beyond["meta"]["total"] == total


@pytest.mark.parametrize("sort", ["name", "-name", "sale_price", "-updated_at", "id", "-id"])
def test_sort_orders_the_list_with_id_as_tie_break(
    call: Any, all_abilities_key: Any, seeded: dict[str, int], sort: str
) -> None:
    data = call(f"/api/v1/products?per_page=100&sort={sort}", all_abilities_key.raw_key).get_json()["data"]
    field = sort.lstrip("-")
    descending = sort.startswith("-")

    values = [float(item[field]) if field == "sale_price" else item[field] for item in data]
    assert len(data) == seeded["products"]
    assert values == sorted(values, reverse=descending)


def test_q_searches_case_insensitively_and_escapes_like_wildcards(
    app: Flask, call: Any, all_abilities_key: Any, seeded: dict[str, int]
) -> None:
    raw = all_abilities_key.raw_key
    with app.app_context():
        model = MODULES_BY_SLUG["brands"].model
        name = db.session.scalars(select(model.name).order_by(model.id)).first()
    found = call(f"/api/v1/brands?q={name.upper()}", raw).get_json()
    assert any(item["name"] == name for item in found["data"])
    for wildcard in ("%", "_", "%25", "\\", "%2F"):
        assert call(f"/api/v1/brands?q={wildcard}", raw).get_json()["meta"]["total"] == 0
    blank = call("/api/v1/brands?q=", raw).get_json()
    assert blank["meta"]["total"] == seeded["brands"]


def test_q_matches_wildcard_and_escape_characters_literally(
    app: Flask, call: Any, all_abilities_key: Any, seeded: dict[str, int]
) -> None:
    with app.app_context():
        brand = MODULES_BY_SLUG["brands"].model
        db.session.add_all(
            [brand(name="50%_Off/Deals", country="US"), brand(name="50xxOffxDeals", country="US")]
        )
        db.session.commit()
    for q in ("%_off/", "50%25_OFF%2FD", "_Off"):
        body = call(f"/api/v1/brands?q={q}", all_abilities_key.raw_key).get_json()
        assert [item["name"] for item in body["data"]] == ["50%_Off/Deals"], q
        assert body["meta"]["total"] == 1


@pytest.mark.parametrize("slug", ["brands", "sales-orders"])
def test_a_page_past_the_end_still_tells_the_filtered_total(
    app: Flask, call: Any, all_abilities_key: Any, seeded: dict[str, int], slug: str
) -> None:
    # Flat modules read the total from the page's own rows; past the end there are none.
    raw = all_abilities_key.raw_key
    first = call(f"/api/v1/{slug}?per_page=1&updated_since=2000-01-01T00:00:00Z", raw).get_json()
    assert first["meta"]["total"] == seeded[slug] and len(first["data"]) == 1
    beyond = call(f"/api/v1/{slug}?page=500&updated_since=2000-01-01T00:00:00Z", raw).get_json()
    assert beyond["data"] == []
    pages = -(-seeded[slug] // 25)
    assert beyond["meta"] == {"page": 500, "per_page": 25, "total": seeded[slug], "pages": pages}


def walk_pages(call: Any, raw: str, url: str | None) -> list[dict[str, Any]]:
    """Every page of a list, following ``links.next`` from ``url`` until it is null."""
    bodies = []
    while url:
        bodies.append(call(url, raw).get_json())
        url = bodies[-1]["links"]["next"]
    return bodies


@pytest.mark.parametrize("slug", ["products", "sales-orders"])
def test_a_list_over_the_total_cap_has_no_total_and_its_next_links_reach_the_last_page(
    monkeypatch: pytest.MonkeyPatch, call: Any, all_abilities_key: Any, seeded: dict[str, int], slug: str
) -> None:
    # SPEC §6: past the cap, meta.total and meta.pages are null and links.next keeps working.
    # Products read plain rows, sales orders ORM entities: both take the one read path.
    monkeypatch.setattr(listing, "TOTAL_CAP", seeded[slug] - 1)
    raw = all_abilities_key.raw_key
    bodies = walk_pages(call, raw, f"/api/v1/{slug}?per_page=2&sort=id")
    assert [(b["meta"]["total"], b["meta"]["pages"]) for b in bodies] == [(None, None)] * len(bodies)
    assert [b["meta"]["page"] for b in bodies] == list(range(1, -(-seeded[slug] // 2) + 1))
    ids = [record["id"] for b in bodies for record in b["data"]]
    assert len(ids) == seeded[slug] and ids == sorted(set(ids))
    assert bodies[-1]["links"]["prev"].endswith(f"page={len(bodies) - 1}")
    # Past the end the last page is unknown, so prev is simply the page before.
    beyond = call(f"/api/v1/{slug}?per_page=2&page=500", raw).get_json()
    assert beyond["data"] == []
    assert beyond["meta"] == {"page": 500, "per_page": 2, "total": None, "pages": None}
    assert beyond["links"]["next"] is None and beyond["links"]["prev"].endswith("page=499")


def test_a_list_at_the_total_cap_or_under_it_tells_the_exact_total(
    monkeypatch: pytest.MonkeyPatch, call: Any, all_abilities_key: Any, seeded: dict[str, int]
) -> None:
    monkeypatch.setattr(listing, "TOTAL_CAP", seeded["products"])
    raw = all_abilities_key.raw_key
    bodies = walk_pages(call, raw, "/api/v1/products?per_page=2")
    pages = -(-seeded["products"] // 2)
    assert [(b["meta"]["total"], b["meta"]["pages"]) for b in bodies] == [(seeded["products"], pages)] * pages
    # A filter under the cap counts what it matches, exactly.
    monkeypatch.setattr(listing, "TOTAL_CAP", 1)
    body = call(f"/api/v1/products?per_page=2&q={bodies[0]['data'][0]['sku']}", raw).get_json()
    assert body["meta"] == {"page": 1, "per_page": 2, "total": 1, "pages": 1}
    assert body["links"]["next"] is None


def test_the_total_is_counted_no_further_than_one_past_the_cap(
    app: Flask, call: Any, all_abilities_key: Any, seeded: dict[str, int]
) -> None:
    # Page 1 costs the same at 100,000 records as at 10,000: the count stops at the cap + 1.
    raw = all_abilities_key.raw_key
    assert call("/api/v1/products", raw).status_code == 200  # proves the key
    sent: list[Any] = []
    with app.app_context():
        engine = db.engine

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert call("/api/v1/products?page=9999", raw).status_code == 200  # the page, then the count
    finally:
        event.remove(engine, "before_cursor_execute", record)
    counted = [(s, p) for s, p in sent if "count(" in s.lower()]
    assert len(counted) == 2
    for statement, parameters in counted:
        assert "LIMIT" in statement.upper().split("COUNT(", 1)[1]
        values = parameters.values() if isinstance(parameters, dict) else parameters
        assert listing.TOTAL_CAP + 1 in values


def test_updated_since_returns_only_newer_records(
    app: Flask, call: Any, all_abilities_key: Any, seeded: dict[str, int]
) -> None:
    raw = all_abilities_key.raw_key
    assert (
        call("/api/v1/brands?updated_since=2000-01-01T00:00:00Z", raw).get_json()["meta"]["total"]
        == seeded["brands"]
    )
    future = datetime(2100, 1, 1, tzinfo=UTC).isoformat().replace("+00:00", "Z")
    assert call(f"/api/v1/brands?updated_since={future}", raw).get_json()["meta"]["total"] == 0
    with app.app_context():
        model = MODULES_BY_SLUG["brands"].model
        brand = db.session.scalars(select(model).order_by(model.id)).first()
        brand.website = "https://example.com/changed"
        db.session.commit()
        changed_at = brand.updated_at
    since = changed_at.isoformat().replace("+00:00", "Z")
    body = call(f"/api/v1/brands?updated_since={since}", raw).get_json()
    assert [item["id"] for item in body["data"]] == [brand.id]
    offset = call("/api/v1/brands?updated_since=2000-01-01T02:00:00%2B02:00", raw).get_json()
    assert offset["meta"]["total"] == seeded["brands"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("per_page=0", "per_page"),
        ("per_page=-1", "per_page"),
        ("per_page=101", "per_page"),
        ("per_page=abc", "per_page"),
        ("per_page=", "per_page"),
        ("page=0", "page"),
        ("page=-3", "page"),
        ("page=abc", "page"),
        ("page=1.5", "page"),
        (f"page={10**20}", "page"),
        (f"page={'9' * 5000}", "page"),
        ("sort=nope", "sort"),
        ("sort=-", "sort"),
        ("sort=key_hash", "sort"),
        ("updated_since=yesterday", "updated_since"),
        ("updated_since=2026-13-45T99:00:00Z", "updated_since"),
        ("updated_since=%00", "updated_since"),
        (f"q={'x' * 101}", "q"),
        ("pagesize=10", "pagesize"),
        ("page=1&page=2", "page"),
    ],
)
def test_bad_list_arguments_are_400_naming_the_field(
    call: Any, all_abilities_key: Any, query: str, field: str
) -> None:
    error = assert_error(call(f"/api/v1/products?{query}", all_abilities_key.raw_key), 400, "bad_request")
    assert field in error["details"], error
    assert all(isinstance(message, str) for message in error["details"][field])


def test_unknown_sort_lists_the_allowed_fields(call: Any, all_abilities_key: Any) -> None:
    error = assert_error(call("/api/v1/brands?sort=colour", all_abilities_key.raw_key), 400, "bad_request")
    assert "name" in error["details"]["sort"][0]


def test_list_and_show_cost_no_extra_queries_and_no_writes_once_the_key_was_used(
    app: Flask, call: Any, all_abilities_key: Any, seeded: dict[str, int]
) -> None:
    raw = all_abilities_key.raw_key
    assert call("/api/v1/brands", raw).status_code == 200  # proves the key, writes last_used_at
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert call("/api/v1/brands", raw).status_code == 200
        list_statements = list(statements)
        statements.clear()
        assert call("/api/v1/brands/1", raw).status_code == 200
        show_statements = list(statements)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    # One SELECT for the key and one for the page with its total (a scalar subquery) for
    # the list; the key and the row for show.
    assert list_statements == ["SELECT", "SELECT"]
    assert show_statements == ["SELECT", "SELECT"]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_api_reads_on_sqlite_run_no_statement_besides_their_own(
    app: Flask, backend: str, call: Any, all_abilities_key: Any
) -> None:
    # Switching a SQLite connection to autocommit and back runs "PRAGMA read_uncommitted" on
    # the raw connection, out of SQLAlchemy's sight: watch what SQLite itself executes.
    raw = all_abilities_key.raw_key
    assert call("/api/v1/brands", raw).status_code == 200  # proves the key, writes last_used_at
    executed: list[str] = []
    with app.app_context():
        engine = db.engine

    def trace(connection: Any, _record: Any, _proxy: Any) -> None:
        connection.set_trace_callback(lambda sql: executed.append(sql.split()[0].upper()))

    def untrace(connection: Any, _record: Any) -> None:
        connection.set_trace_callback(None)

    event.listen(engine, "checkout", trace)
    event.listen(engine, "checkin", untrace)
    try:
        assert call("/api/v1/brands", raw).status_code == 200
    finally:
        event.remove(engine, "checkout", trace)
        event.remove(engine, "checkin", untrace)
    # The key, then the page and its total: reads only, nothing about isolation levels.
    assert executed and set(executed) == {"SELECT"}, executed


def test_last_used_at_is_written_at_most_once_a_minute(app: Flask, call: Any, make_key: Any) -> None:
    created = make_key(abilities=["brands:list"])
    with app.app_context():
        assert db.session.get(ApiKey, created.key.id).last_used_at is None
    before = utcnow()
    assert call("/api/v1/brands", created.raw_key).status_code == 200
    with app.app_context():
        first = db.session.get(ApiKey, created.key.id).last_used_at
    assert first is not None and first >= before.replace(microsecond=0)
    for _ in range(3):
        call("/api/v1/brands", created.raw_key)
    with app.app_context():
        assert db.session.get(ApiKey, created.key.id).last_used_at == first
        # Pretend the last write was two minutes ago: the next request refreshes it.
        key = db.session.get(ApiKey, created.key.id)
        key.last_used_at = first.replace(microsecond=0) - timedelta(minutes=2)
        db.session.commit()
        stale = key.last_used_at
    call("/api/v1/brands", created.raw_key)
    with app.app_context():
        assert db.session.get(ApiKey, created.key.id).last_used_at > stale


def test_a_request_sharing_an_open_transaction_reads_in_it(
    app: Flask, client: Any, all_abilities_key: Any, seeded: dict[str, int]
) -> None:
    # A caller that shares its app context (and so its session) with the request, and has a
    # transaction open: the request reads in it.
    with app.app_context():
        db.session.execute(select(1))
        response = client.get("/api/v1/brands", headers={"X-API-Key": all_abilities_key.raw_key})
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["meta"]["total"] == seeded["brands"]
        db.session.rollback()


@pytest.mark.parametrize("path", ["/api/v1/brands", "/api/v1/sales-orders", "/api/v1/sales-orders/1"])
def test_an_api_request_reads_through_one_connection_and_returns_it(
    app: Flask, call: Any, all_abilities_key: Any, seeded: dict[str, int], path: str
) -> None:
    # The key, the page and the ORM loads of nested lines all read through the request's one
    # session's connection, which is back in the pool when the request ends.
    raw = all_abilities_key.raw_key
    assert call(path, raw).status_code == 200  # proves the key, writes last_used_at
    with app.app_context():
        engine = db.engine
    events: list[str] = []

    def checkout(*_: Any) -> None:
        events.append("checkout")

    def checkin(*_: Any) -> None:
        events.append("checkin")

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    try:
        assert call(path, raw).status_code == 200
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)
    assert events == ["checkout", "checkin"]
