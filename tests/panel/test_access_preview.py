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
from app.models.products import Brand
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


def test_create_form_asks_for_the_preview_on_every_change(signed_in: PanelClient) -> None:
    form = signed_in.get("/settings/api-keys/new", htmx=True).text
    fieldset = re.search(r'<fieldset class="field abilities"[^>]*>', form).group(0)
    assert f'hx-get="{PREVIEW}"' in fieldset
    assert 'hx-trigger="change"' in fieldset
    # Its own target and swap: the form's hx-target="this" would otherwise be inherited.
    assert 'hx-target="find .access-preview"' in fieldset and 'hx-swap="innerHTML"' in fieldset
    assert 'hx-include="this"' in fieldset
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
