"""The access preview: ticking abilities in a key form lists the endpoints and each list's records now."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select

from app.catalogue import ALL_ABILITIES, MODULES, MODULES_BY_SLUG
from app.extensions import db
from app.models.products import Brand, Warehouse
from app.models.users import User
from tests.panel.conftest import PanelClient
from tests.panel.refusals import assert_refused

PREVIEW = "/settings/api-keys/access-preview"
_ITEM = re.compile(r'<li data-ability="([^"]*)"(?: data-count="(\d+)")?>\s*<code>([^<]+)</code>')


def preview_items(html: str) -> list[tuple[str, int | None, str]]:
    """(ability, count or None, "GET /path") of each endpoint the preview lists, in order."""
    return [
        (ability, int(count) if count else None, operation)
        for ability, count, operation in _ITEM.findall(html)
    ]


def ask(client: PanelClient, abilities: list[str]) -> Any:
    """GET the preview of ``abilities`` as the fieldset's htmx request does."""
    return client.client.get(PREVIEW, query_string={"abilities": abilities}, headers={"HX-Request": "true"})


@pytest.fixture
def seed_scale() -> int:
    """``seeded`` writes a larger slice here, as the preview's counts were first checked on it."""
    return 20


def row_count(app: Flask, slug: str) -> int:
    """The real number of rows behind a module, counted here independently."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(MODULES_BY_SLUG[slug].model)) or 0


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """Record every SQL statement the app sends while the block runs."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.both_databases
def test_preview_lists_exactly_the_endpoints_of_the_ticked_abilities_with_real_counts(
    app: Flask, signed_in: PanelClient, seeded: None
) -> None:
    ticked = ["products:list", "products:show", "inventory:list", "amazon-ledger:show"]
    response = ask(signed_in, ticked)
    assert response.status_code == 200
    assert preview_items(response.text) == [
        ("products:list", row_count(app, "products"), "GET /api/v1/products"),
        ("products:show", None, "GET /api/v1/products/{id}"),
        ("inventory:list", row_count(app, "inventory"), "GET /api/v1/inventory"),
        ("amazon-ledger:show", None, "GET /api/v1/amazon-ledger/{id}"),
        # Any valid key may describe itself, whatever its abilities.
        ("", None, "GET /api/v1/key"),
    ]
    assert row_count(app, "products") > 0 and row_count(app, "inventory") > 0
    assert "this key will reach\n  5 endpoints." in response.text


@pytest.mark.both_databases
def test_counts_are_the_totals_the_api_answers(
    app: Flask, signed_in: PanelClient, seeded: None, make_key: Any
) -> None:
    key = make_key(abilities=[m.ability("list") for m in MODULES], rate_limit=1000)
    counts = {a: c for a, c, _ in preview_items(ask(signed_in, list(ALL_ABILITIES)).text) if c is not None}
    assert len(counts) == len(MODULES)
    api = app.test_client()
    for module in MODULES:
        body = api.get(f"/api/v1/{module.slug}", headers={"X-API-Key": key.raw_key}).get_json()
        assert counts[module.ability("list")] == body["meta"]["total"], module.slug


@pytest.mark.both_databases
def test_counts_are_read_fresh_on_every_preview(app: Flask, signed_in: PanelClient) -> None:
    assert preview_items(ask(signed_in, ["brands:list"]).text)[0][1] == 0
    with app.app_context():
        db.session.add(Brand(name="Lumen & Co", country="GB"))
        db.session.commit()
    assert preview_items(ask(signed_in, ["brands:list"]).text)[0][1] == 1
    assert "1 record now" in ask(signed_in, ["brands:list"]).text


@pytest.mark.both_databases
def test_every_list_is_counted_in_one_statement(app: Flask, signed_in: PanelClient) -> None:
    with statements(app) as seen:
        response = ask(signed_in, list(ALL_ABILITIES))
    assert response.status_code == 200
    counting = [s for s in seen if "count(" in s.lower()]
    assert len(counting) == 1, counting
    assert counting[0].lower().count("count(") == len(MODULES)


def test_show_abilities_alone_need_no_count(app: Flask, signed_in: PanelClient) -> None:
    with statements(app) as seen:
        response = ask(signed_in, ["products:show", "customers:show"])
    assert [a for a, _, _ in preview_items(response.text)] == ["products:show", "customers:show", ""]
    assert not [s for s in seen if "count(" in s.lower()]


def test_nothing_ticked_asks_to_tick_abilities(signed_in: PanelClient) -> None:
    response = ask(signed_in, [])
    assert response.status_code == 200
    assert "tick abilities to see the endpoints" in response.text
    assert preview_items(response.text) == []


@pytest.mark.parametrize(
    ("abilities", "message"),
    [
        (["products:list", "orders:delete"], "Unknown ability: orders:delete."),
        (["products:list\x00"], "control character (U+0000)"),
        (["products:list\x1b[31m"], "control character (U+001B)"),
        (["x" * 500], "Unknown ability: " + "x" * 40 + "…."),
        ([*ALL_ABILITIES, "products:list"], f"Too many abilities: at most {len(ALL_ABILITIES)}, got 31."),
        (
            ["a:list", "b:list", "c:list", "d:list", "e:list"],
            "Unknown ability: a:list, b:list, c:list and 2 more.",
        ),
    ],
)
def test_bad_input_is_a_clear_400(signed_in: PanelClient, abilities: list[str], message: str) -> None:
    response = ask(signed_in, abilities)
    text = assert_refused(response, 400, message)
    assert len(text) <= 300  # short enough for the panel's alert line


def test_anonymous_visitor_is_sent_to_sign_in(client: Any) -> None:
    response = client.get(PREVIEW, query_string={"abilities": "products:list"})
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")
    htmx = client.get(PREVIEW, query_string={"abilities": "products:list"}, headers={"HX-Request": "true"})
    assert htmx.status_code == 401
    assert htmx.headers["HX-Redirect"] == "/login"
    assert "api/v1" not in htmx.text


def test_non_admin_is_refused(app: Flask, signed_in: PanelClient, admin: User) -> None:
    with app.app_context():
        db.session.get(User, admin.id).is_admin = False
        db.session.commit()
    response = ask(signed_in, ["products:list"])
    assert response.status_code == 403
    assert "api/v1" not in response.text


def test_preview_is_never_cached(signed_in: PanelClient) -> None:
    assert ask(signed_in, ["products:list"]).headers["Cache-Control"] == "no-store"


def test_create_form_asks_for_the_preview_on_every_change(
    signed_in: PanelClient, make_warehouse: Any
) -> None:
    make_warehouse("RNO1")
    form = signed_in.get("/settings/api-keys/new", htmx=True).text
    fieldset = re.search(r'<fieldset class="field abilities"[^>]*>', form).group(0)
    assert f'hx-get="{PREVIEW}"' in fieldset
    # A tick, or any change of the data scope, asks again, sending the scope's choices along.
    assert 'hx-trigger="change, change from:#key-scope"' in fieldset
    # Its own target and swap: the form's hx-target="this" would otherwise be inherited.
    assert 'hx-target="find .access-preview"' in fieldset and 'hx-swap="innerHTML"' in fieldset
    assert 'hx-include="closest form"' in fieldset  # the abilities and the scope travel
    scope = re.search(r'<div class="form-grid form-grid--scope" id="key-scope">', form)
    assert scope is not None
    for name in ("warehouses_mode", "warehouses", "marketplaces_mode", "marketplaces", "hidden_fields"):
        assert f'name="{name}"' in form[scope.end() :], name
    assert "tick abilities to see the endpoints" in form
    # Strict CSP: no inline handlers or trigger filters.
    assert "hx-on" not in form and "[" not in fieldset


def test_create_form_with_errors_keeps_the_preview_of_what_was_ticked(
    signed_in: PanelClient, admin: User
) -> None:
    response = signed_in.post(
        "/settings/api-keys",
        {"name": "", "owner": str(admin.id), "abilities": ["brands:list"], "rate_limit": "60"},
    )
    assert response.status_code == 422
    assert ("brands:list", 0, "GET /api/v1/brands") in preview_items(response.text)


def test_edit_form_previews_the_keys_current_abilities(signed_in: PanelClient, make_key: Any) -> None:
    key = make_key(abilities=["warehouses:list", "warehouses:show"]).key
    form = signed_in.get(f"/settings/api-keys/{key.prefix}/edit", htmx=True).text
    assert [op for _, _, op in preview_items(form)] == [
        "GET /api/v1/warehouses",
        "GET /api/v1/warehouses/{id}",
        "GET /api/v1/key",
    ]
    assert f'id="edit-{key.prefix}-abilities-preview"' in form


def test_edit_form_sends_its_own_scope_with_the_preview(signed_in: PanelClient, make_key: Any) -> None:
    key = make_key(abilities=["warehouses:list"]).key
    form = signed_in.get(f"/settings/api-keys/{key.prefix}/edit", htmx=True).text
    scope_id = f"edit-{key.prefix}-key-scope"
    assert f'id="{scope_id}"' in form
    assert 'hx-include="closest form"' in form
    assert f"change from:#{scope_id}" in form


def ask_scoped(client: PanelClient, abilities: list[str], **scope: Any) -> Any:
    """GET the preview as the form sends it with a data scope: each part "chosen" when given."""
    query: dict[str, Any] = {"abilities": abilities, "hidden_fields": scope.get("hidden_fields", [])}
    for part in ("warehouses", "marketplaces"):
        if part in scope:
            query |= {f"{part}_mode": "chosen", part: scope[part]}
    return client.client.get(PREVIEW, query_string=query, headers={"HX-Request": "true"})


SCOPED_LISTS = [m.ability("list") for m in MODULES]


@pytest.mark.both_databases
@pytest.mark.parametrize(
    "scope",
    [
        {"marketplaces": ["Amazon.ca"]},
        {"warehouses": ["FIRST"]},
        {"warehouses": ["FIRST"], "marketplaces": ["Amazon.com.mx"], "hidden_fields": ["costs"]},
    ],
    ids=["marketplace", "warehouse", "both-and-hidden"],
)
def test_counts_within_a_scope_are_the_totals_a_key_of_that_scope_gets(
    app: Flask, signed_in: PanelClient, seeded: None, make_key: Any, scope: dict[str, list[str]]
) -> None:
    with app.app_context():
        first = db.session.scalars(select(Warehouse.code).order_by(Warehouse.code)).first()
    scope = {part: [first if v == "FIRST" else v for v in values] for part, values in scope.items()}
    response = ask_scoped(signed_in, SCOPED_LISTS, **scope)
    assert response.status_code == 200
    counts = {a: c for a, c, _ in preview_items(response.text) if c is not None}
    key = make_key(abilities=SCOPED_LISTS, rate_limit=1000, **scope)
    api = app.test_client()
    narrowed = 0
    for module in MODULES:
        body = api.get(f"/api/v1/{module.slug}", headers={"X-API-Key": key.raw_key}).get_json()
        assert counts[module.ability("list")] == body["meta"]["total"], module.slug
        narrowed += counts[module.ability("list")] < row_count(app, module.slug)
    # The scope shows: some lists hold fewer records than the whole table.
    assert narrowed > 0
    assert "Counted within the scope:" in response.text


@pytest.mark.both_databases
def test_a_scope_that_leaves_no_record_shows_the_zeros(
    app: Flask, signed_in: PanelClient, seeded: None, make_warehouse: Any
) -> None:
    empty = make_warehouse("EMPTY1")
    ticked = ["inventory:list", "sales-orders:list", "products:list"]
    response = ask_scoped(signed_in, ticked, warehouses=[empty])
    items = preview_items(response.text)
    assert [(a, c) for a, c, _ in items if c is not None] == [
        ("products:list", row_count(app, "products")),
        ("inventory:list", 0),
        ("sales-orders:list", 0),
    ]
    assert "0 records now" in response.text


def test_a_scope_left_on_all_counts_every_record(app: Flask, signed_in: PanelClient, seeded: None) -> None:
    # "All" sends no narrowing, whatever boxes are still ticked under it.
    query = {"abilities": ["sales-orders:list"], "marketplaces_mode": "all", "marketplaces": ["Amazon.ca"]}
    response = signed_in.client.get(PREVIEW, query_string=query, headers={"HX-Request": "true"})
    assert preview_items(response.text)[0][1] == row_count(app, "sales-orders")
    assert "Counted within the scope" not in response.text


def test_edit_form_previews_within_the_keys_scope(
    app: Flask, signed_in: PanelClient, seeded: None, make_key: Any, make_warehouse: Any
) -> None:
    key = make_key(abilities=["inventory:list"], warehouses=[make_warehouse("EMPTY2")]).key
    form = signed_in.get(f"/settings/api-keys/{key.prefix}/edit", htmx=True).text
    assert preview_items(form)[0][:2] == ("inventory:list", 0)
    assert row_count(app, "inventory") > 0


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        ({"warehouses": ["NOPE9"]}, "NOPE9"),
        ({"marketplaces": ["Ebay.fr"]}, "Ebay.fr"),
        ({"hidden_fields": ["salaries"]}, "salaries"),
    ],
)
def test_an_unknown_scope_name_is_a_clear_400(
    signed_in: PanelClient, scope: dict[str, list[str]], message: str
) -> None:
    response = ask_scoped(signed_in, ["products:list"], **scope)
    assert response.status_code == 400
    assert message in response.text
