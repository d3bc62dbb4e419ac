"""Data scope per key (SPEC §16): a scoped key never sees an out-of-scope record or a hidden field."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select, update

from app import seed
from app.catalogue import FIELD_GROUPS, MODULES, MODULES_BY_SLUG, Module
from app.extensions import db
from app.models.api_keys import ApiKey
from app.models.products import Warehouse
from tests.api.api_helpers import assert_error

pytestmark = pytest.mark.both_databases

BASE = "/api/v1"
WAREHOUSE_MODULES = [m for m in MODULES if m.warehouse_column is not None]
MARKETPLACE_MODULES = [m for m in MODULES if m.marketplace_column is not None]
HIDING = [(m, group) for m in MODULES for group, _ in m.field_groups]


@pytest.fixture
def demo(app: Any) -> None:
    """A small demo data set."""
    with app.app_context():
        seed.seed_demo(40)


@pytest.fixture
def scoped_key(app: Any, make_key: Any, demo: None) -> Any:
    """``scoped_key(warehouses=[...], marketplaces=[...], hidden_fields=[...])``: a raw key with
    every ability and that scope, set on its row."""

    def factory(**scope: list[str]) -> str:
        created = make_key(
            name="Partner", abilities=[a for m in MODULES for a in m.abilities], rate_limit=100_000
        )
        with app.app_context():
            db.session.execute(update(ApiKey).where(ApiKey.id == created.key.id).values(**scope))
            db.session.commit()
        return created.raw_key

    return factory


def _busiest_warehouse(app: Any, module: Module = MODULES_BY_SLUG["sales-orders"]) -> tuple[int, str]:
    """The id and code of the warehouse with the most of ``module``'s records."""
    with app.app_context():
        column = getattr(module.model, module.warehouse_column or "warehouse_id")
        counts = Counter(db.session.scalars(select(column)).all())
        warehouse_id = counts.most_common(1)[0][0]
        return warehouse_id, db.session.get(Warehouse, warehouse_id).code


def _ids_where(app: Any, module: Module, column: str, values: set[Any]) -> set[int]:
    """Ids of ``module``'s records whose ``column`` is in ``values``."""
    with app.app_context():
        model = module.model
        return set(db.session.scalars(select(model.id).where(getattr(model, column).in_(values))).all())


def _all_ids(app: Any, module: Module) -> set[int]:
    with app.app_context():
        return set(db.session.scalars(select(module.model.id)).all())


def _walk(call: Any, key: str, slug: str, mode: str) -> tuple[list[dict[str, Any]], list[Any]]:
    """Every record of a list, page by page (``mode`` "page" or "cursor"), and the responses."""
    records: list[dict[str, Any]] = []
    responses: list[Any] = []
    url = f"{BASE}/{slug}?per_page=7" + ("&cursor=" if mode == "cursor" else "")
    while url:
        response = call(url, key)
        assert response.status_code == 200, response.get_data(as_text=True)
        responses.append(response)
        body = response.get_json()
        records.extend(body["data"])
        url = body["links"]["next"]
    return records, responses


def _expect_only(call: Any, key: str, module: Module, scoped: set[int], everything: set[int]) -> None:
    """Lists (both modes) yield exactly ``scoped``, totals count them, other ids show as missing."""
    assert scoped, f"no scoped {module.slug} in the demo data"
    assert everything - scoped, f"every {module.slug} is in scope: the test proves nothing"
    for mode in ("page", "cursor"):
        records, responses = _walk(call, key, module.slug, mode)
        ids = [record["id"] for record in records]
        assert sorted(ids) == sorted(scoped), (module.slug, mode)
        if mode == "page":
            assert responses[0].get_json()["meta"]["total"] == len(scoped)
    outside = min(everything - scoped)
    hidden = call(f"{BASE}/{module.slug}/{outside}", key)
    missing = call(f"{BASE}/{module.slug}/{max(everything) + 1000}", key)
    error = assert_error(hidden, 404, "not_found")
    assert error["message"] == assert_error(missing, 404, "not_found")["message"].replace(
        str(max(everything) + 1000), str(outside)
    )
    inside = min(scoped)
    assert call(f"{BASE}/{module.slug}/{inside}", key).get_json()["data"]["id"] == inside


@pytest.mark.parametrize("module", WAREHOUSE_MODULES, ids=lambda m: m.slug)
def test_a_warehouse_key_sees_only_its_warehouse_records_in_lists_totals_cursors_and_shows(
    app, call, scoped_key, module
):
    warehouse_id, code = _busiest_warehouse(app, module)
    key = scoped_key(warehouses=[code])
    scoped = _ids_where(app, module, module.warehouse_column, {warehouse_id})
    _expect_only(call, key, module, scoped, _all_ids(app, module))


@pytest.mark.parametrize("module", MARKETPLACE_MODULES, ids=lambda m: m.slug)
def test_a_marketplace_key_sees_only_that_marketplaces_orders_and_their_returns(
    app, call, scoped_key, module
):
    key = scoped_key(marketplaces=["Amazon.ca"])
    orders = _ids_where(app, MODULES_BY_SLUG["sales-orders"], "marketplace", {"Amazon.ca"})
    scoped = orders if module.slug == "sales-orders" else _ids_where(app, module, "sales_order_id", orders)
    _expect_only(call, key, module, scoped, _all_ids(app, module))


def test_an_unknown_warehouse_code_narrows_to_nothing(call, scoped_key):
    key = scoped_key(warehouses=["NOPE"])
    body = call(f"{BASE}/inventory", key).get_json()
    assert body["data"] == [] and body["meta"]["total"] == 0
    assert call(f"{BASE}/products", key).get_json()["meta"]["total"] > 0


def test_a_scoped_list_has_its_own_etag_and_answers_304_only_to_it(app, call, scoped_key, all_abilities_key):
    _, code = _busiest_warehouse(app)
    key = scoped_key(warehouses=[code])
    unscoped = call(f"{BASE}/inventory", all_abilities_key.raw_key).headers["ETag"]
    scoped = call(f"{BASE}/inventory", key)
    assert scoped.headers["ETag"] != unscoped
    assert (
        call(f"{BASE}/inventory", key, headers={"If-None-Match": scoped.headers["ETag"]}).status_code == 304
    )
    again = call(f"{BASE}/inventory", key, headers={"If-None-Match": unscoped})
    assert again.status_code == 200
    assert {r["id"] for r in again.get_json()["data"]} == {r["id"] for r in scoped.get_json()["data"]}


def _field_paths(record: dict[str, Any], prefix: str = "") -> set[str]:
    """Every field of a dumped record, a nested line's as ``lines.name``."""
    paths: set[str] = set()
    for name, value in record.items():
        paths.add(prefix + name)
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                paths |= _field_paths(item, f"{prefix}{name}.")
    return paths


@pytest.mark.parametrize(("module", "group"), HIDING, ids=lambda v: getattr(v, "slug", v))
def test_a_hidden_field_group_is_absent_from_every_record_list_cursor_show_and_304(
    app, call, scoped_key, all_abilities_key, module, group
):
    hidden = module.hidden_fields(frozenset({group}))
    key = scoped_key(hidden_fields=[group])
    full, _ = _walk(call, all_abilities_key.raw_key, module.slug, "page")
    # The hidden text values the unscoped key sees that cannot turn up by chance (emails,
    # long names and comments; money is checked by the fields' absence).
    secrets = {
        value
        for record in full
        for name in hidden
        if isinstance(value := record.get(name), str) and ("@" in value or len(value) > 12)
    }
    for mode in ("page", "cursor"):
        records, responses = _walk(call, key, module.slug, mode)
        assert len(records) == len(full)
        for record in records:
            assert not (_field_paths(record) & hidden), (module.slug, mode)
        for response in responses:
            text = response.get_data(as_text=True)
            assert not any(secret in text for secret in secrets)
            etag = response.headers["ETag"]
    assert call(responses[-1].request.url, key, headers={"If-None-Match": etag}).status_code == 304
    shown = call(f"{BASE}/{module.slug}/{full[0]['id']}", key).get_json()["data"]
    assert not (_field_paths(shown) & hidden)
    assert _field_paths(shown) | hidden >= _field_paths(full[0])


def test_sorting_by_a_hidden_field_is_a_400_naming_it(call, scoped_key):
    key = scoped_key(hidden_fields=["costs"])
    error = assert_error(call(f"{BASE}/purchase-orders?sort=-total", key), 400, "bad_request")
    assert "total" in error["details"]["sort"][0]
    assert call(f"{BASE}/purchase-orders?sort=-order_date", key).status_code == 200


def test_q_searches_only_visible_fields_and_is_a_400_when_none_is_visible(
    call, scoped_key, all_abilities_key
):
    key = scoped_key(hidden_fields=["contact-details", "buyer-details"])
    # Only employees' emails hold an "@"; hidden, they match nothing.
    assert call(f"{BASE}/employees?q=@", all_abilities_key.raw_key).get_json()["meta"]["total"] > 0
    assert call(f"{BASE}/employees?q=@", key).get_json()["meta"]["total"] == 0
    error = assert_error(call(f"{BASE}/customers?q=a", key), 400, "bad_request")
    assert "q" in error["details"]


def test_introspection_tells_the_scope(call, scoped_key):
    key = scoped_key(warehouses=["X1"], marketplaces=["Amazon.ca"], hidden_fields=sorted(FIELD_GROUPS))
    scope = call(f"{BASE}/key", key).get_json()["data"]["scope"]
    assert scope == {
        "warehouses": ["X1"],
        "marketplaces": ["Amazon.ca"],
        "hidden_fields": sorted(FIELD_GROUPS),
    }
