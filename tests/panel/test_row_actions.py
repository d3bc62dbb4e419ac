"""Row actions: activate, deactivate, edit inline, revoke with confirmation."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from app.extensions import db
from app.keys import rolling, service
from app.models.api_keys import ApiKey, KeyStatus
from app.models.audit import AuditEvent
from app.models.types import utcnow
from tests.panel.conftest import PanelClient
from tests.panel.refusals import assert_refused


@pytest.fixture
def key(make_key: Any) -> ApiKey:
    """An active key with two abilities."""
    return make_key(name="Warehouse scanner", abilities=["inventory:list", "warehouses:list"]).key


def _audit_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def _edit_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Warehouse scanner v2",
        "abilities": ["inventory:list", "inventory:show"],
        "rate_limit": "250",
        "expires_at": "",
    }
    data.update(changes)
    return data


def test_deactivate_then_activate_returns_the_updated_row(
    signed_in: PanelClient, key: ApiKey, load_key: Any
) -> None:
    response = signed_in.post(f"/settings/api-keys/{key.prefix}/deactivate")
    assert response.status_code == 200
    assert response.text.lstrip().startswith(f'<tr id="key-{key.prefix}"')
    assert 'badge--inactive">Inactive<' in response.text
    assert ">Activate</button>" in response.text
    assert load_key(key.prefix).status is KeyStatus.INACTIVE

    response = signed_in.post(f"/settings/api-keys/{key.prefix}/activate")
    assert 'badge--active">Active<' in response.text
    assert load_key(key.prefix).status is KeyStatus.ACTIVE


def test_revoke_asks_for_confirmation_and_returns_an_empty_200(
    signed_in: PanelClient, key: ApiKey, load_key: Any
) -> None:
    page = signed_in.get("/settings/api-keys").text
    assert re.search(rf'hx-delete="/settings/api-keys/{key.prefix}"[^>]*hx-confirm="Revoke', page, re.S)
    response = signed_in.delete(f"/settings/api-keys/{key.prefix}")
    assert response.status_code == 200
    assert response.text == ""
    stored = load_key(key.prefix)
    assert stored.status is KeyStatus.REVOKED
    assert stored.revoked_at is not None


def test_revoked_key_cannot_be_revoked_again_or_reactivated(
    signed_in: PanelClient, key: ApiKey, load_key: Any
) -> None:
    signed_in.delete(f"/settings/api-keys/{key.prefix}")
    for response in (
        signed_in.delete(f"/settings/api-keys/{key.prefix}"),
        signed_in.post(f"/settings/api-keys/{key.prefix}/activate"),
        signed_in.post(f"/settings/api-keys/{key.prefix}", _edit_data()),
    ):
        assert_refused(response, 409, "revoked")
    assert load_key(key.prefix).status is KeyStatus.REVOKED


@pytest.mark.parametrize(
    ("method", "action"), [("POST", "/activate"), ("POST", "/deactivate"), ("DELETE", ""), ("POST", "")]
)
def test_actions_on_an_unknown_key_are_404(signed_in: PanelClient, method: str, action: str) -> None:
    url = f"/settings/api-keys/sgk_ZZZZZZZZ{action}"
    response = signed_in.client.open(url, method=method, data=_edit_data(), headers=signed_in.headers())
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "action"), [("POST", "/activate"), ("POST", "/deactivate"), ("DELETE", ""), ("POST", "")]
)
@pytest.mark.parametrize("token", [None, "forged"])
def test_actions_without_a_valid_csrf_token_change_nothing(
    signed_in: PanelClient, key: ApiKey, load_key: Any, method: str, action: str, token: str | None
) -> None:
    headers = {"HX-Request": "true"} | ({"X-CSRFToken": token} if token else {})
    response = signed_in.client.open(
        f"/settings/api-keys/{key.prefix}{action}", method=method, data=_edit_data(), headers=headers
    )
    assert response.status_code == 400
    assert "Reload the page" in response.text
    stored = load_key(key.prefix)
    assert stored.status is KeyStatus.ACTIVE
    assert stored.name == "Warehouse scanner"


def test_edit_opens_inline_with_the_current_values(signed_in: PanelClient, key: ApiKey) -> None:
    html = signed_in.get(f"/settings/api-keys/{key.prefix}/edit", htmx=True).text
    assert html.lstrip().startswith(f'<tr id="key-{key.prefix}" class="key-row key-row--editing">')
    assert 'value="Warehouse scanner"' in html
    assert re.search(r'value="inventory:list"\s+id="[^"]+"\s+checked', html)
    assert not re.search(r'value="products:list"\s+id="[^"]+"\s+checked', html)
    # ids stay unique when several editors are open at once.
    assert f'id="edit-{key.prefix}-name"' in html
    cancel = signed_in.get(f"/settings/api-keys/{key.prefix}/row", htmx=True).text
    assert cancel.lstrip().startswith(f'<tr id="key-{key.prefix}" class="key-row')


@pytest.mark.both_databases
def test_edit_saves_name_abilities_rate_limit_and_expiry(
    signed_in: PanelClient, key: ApiKey, load_key: Any
) -> None:
    expiry = (utcnow() + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    response = signed_in.post(f"/settings/api-keys/{key.prefix}", _edit_data(expires_at=expiry))
    assert response.status_code == 200
    assert "Warehouse scanner v2" in response.text
    assert "250/min" in response.text
    stored = load_key(key.prefix)
    assert stored.name == "Warehouse scanner v2"
    assert stored.abilities == ["inventory:list", "inventory:show"]
    assert stored.rate_limit == 250
    assert stored.expires_at.strftime("%Y-%m-%dT%H:%M") == expiry


def test_edit_can_clear_the_expiry(signed_in: PanelClient, make_key: Any, load_key: Any) -> None:
    key = make_key(name="Temp", expires_at=utcnow() + timedelta(days=3)).key
    response = signed_in.post(f"/settings/api-keys/{key.prefix}", _edit_data(expires_at=""))
    assert response.status_code == 200
    assert load_key(key.prefix).expires_at is None


def test_editing_an_expired_key_may_keep_its_past_expiry(
    app: Flask, signed_in: PanelClient, key: ApiKey, load_key: Any
) -> None:
    past = (utcnow() - timedelta(days=2)).replace(second=0, microsecond=0)
    with app.app_context():
        db.session.execute(update(ApiKey).where(ApiKey.prefix == key.prefix).values(expires_at=past))
        db.session.commit()
    response = signed_in.post(
        f"/settings/api-keys/{key.prefix}", _edit_data(expires_at=past.strftime("%Y-%m-%dT%H:%M"))
    )
    assert response.status_code == 200
    stored = load_key(key.prefix)
    assert stored.name == "Warehouse scanner v2"
    assert stored.expires_at == past


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", " ", "Name is required."),
        ("name", "x" * 201, "Name must be at most 100 characters."),
        ("abilities", [], "Choose at least one ability."),
        ("abilities", ["bogus:list"], "Unknown ability: bogus:list."),
        ("rate_limit", "0", "Rate limit must be between 1 and 100,000 requests/min."),
        ("rate_limit", "abc", "Rate limit must be a whole number."),
        ("expires_at", "2001-01-01T00:00", "Expires At must be in the future."),
        ("expires_at", "soon", "Not a valid datetime value."),
    ],
)
def test_edit_with_a_bad_value_returns_the_editor_with_the_error_and_changes_nothing(
    signed_in: PanelClient, key: ApiKey, load_key: Any, field: str, value: Any, message: str
) -> None:
    response = signed_in.post(f"/settings/api-keys/{key.prefix}", _edit_data(**{field: value}))
    assert response.status_code == 422
    assert "key-row--editing" in response.text
    assert f'<p class="field__error" id="edit-{key.prefix}-{field}-error">{message}</p>' in response.text
    stored = load_key(key.prefix)
    assert stored.name == "Warehouse scanner"
    assert stored.rate_limit == 60
    assert stored.abilities == ["inventory:list", "warehouses:list"]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_key_past_its_cutover_offers_revoke_only_and_refuses_the_rest(
    app: Flask, signed_in: PanelClient, make_key: Any, load_key: Any
) -> None:
    """A dead (rolled, past cutover) key's row and page offer Revoke only; a hand-made POST of
    any other action is a 409 saying why, and nothing is written."""
    created = make_key(name="Feed", abilities=["inventory:list", "warehouses:list"])
    prefix = created.key.prefix
    with app.app_context():
        rolling.roll_key(prefix, actor="tests", grace="0")
    # Dead keys are out of the default list ("All working"); the status filter reaches them.
    assert f'<tr id="key-{prefix}"' not in signed_in.get("/settings/api-keys").text
    listing = signed_in.get("/settings/api-keys?status=rolled").text
    row = re.search(rf'<tr id="key-{prefix}".*?</tr>', listing, re.S)
    page = signed_in.get(f"/settings/api-keys/{prefix}").text
    actions = re.search(r'<div id="key-actions".*?</div>', page, re.S)
    assert row is not None and actions is not None
    for markup in (row.group(0), actions.group(0)):
        assert ">Revoke</button>" in markup
        for action in ("Edit", "Activate", "Deactivate", "Roll", "End grace now"):
            assert f">{action}</" not in markup
    before, events = load_key(prefix), _audit_count(app)
    refused = [
        signed_in.post(f"/settings/api-keys/{prefix}/activate"),
        signed_in.post(f"/settings/api-keys/{prefix}/deactivate"),
        signed_in.post(f"/settings/api-keys/{prefix}", _edit_data()),
        signed_in.get(f"/settings/api-keys/{prefix}/edit", htmx=True),
        signed_in.post(f"/settings/api-keys/{prefix}/abilities/grant", {"ability": "customers:list"}),
        signed_in.post(f"/settings/api-keys/{prefix}/abilities/remove-unused"),
    ]
    for response in refused:
        assert response.status_code == 409, response.text
        assert f"key {prefix} is rolled and past its cutover; it can only be revoked" in response.text
    after = load_key(prefix)
    assert (after.status, after.name, after.abilities, after.rate_limit) == (
        before.status,
        before.name,
        before.abilities,
        before.rate_limit,
    )
    assert _audit_count(app) == events
    assert signed_in.delete(f"/settings/api-keys/{prefix}").status_code == 200


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_rows_actions_sit_in_one_labelled_menu_sharing_the_rows_target(
    signed_in: PanelClient, key: ApiKey
) -> None:
    """One "⋯" button per row opens a popover (no script) whose buttons inherit its hx-target
    and hx-swap; each closes the menu; Roll alone sends its answer elsewhere."""
    page = signed_in.get("/settings/api-keys").text
    row = re.search(rf'<tr id="key-{key.prefix}".*?</tr>', page, re.S).group(0)
    menu_id = f"key-menu-{key.prefix}"
    assert re.search(
        rf'<button type="button" class="[^"]*row-menu__toggle" popovertarget="{menu_id}"\s+'
        r'aria-label="Actions for Warehouse scanner">',
        row,
    )
    menu = re.search(
        rf'<div id="{menu_id}" class="row-menu" popover hx-target="closest tr" hx-swap="outerHTML">.*?</div>',
        row,
        re.S,
    )
    assert menu is not None
    buttons = re.findall(r"<button[^>]*>[^<]*</button>", menu.group(0))
    assert [re.search(r">([^<]*)<", b).group(1) for b in buttons] == ["Deactivate", "Edit", "Roll", "Revoke"]
    for button in buttons:
        assert f'popovertarget="{menu_id}" popovertargetaction="hide"' in button
        assert "aria-label=" in button
    # Only Roll names its own target (the form slot); the others inherit the menu's.
    assert [b for b in buttons if "hx-target" in b] == [b for b in buttons if ">Roll<" in b]
    assert row.count('hx-target="closest tr"') == 1 and row.count('hx-swap="outerHTML"') == 1


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_dead_keys_row_links_to_the_key_that_replaced_it(
    app: Flask, signed_in: PanelClient, make_key: Any
) -> None:
    prefix = make_key(name="Feed").key.prefix
    with app.app_context():
        new_prefix = rolling.roll_key(prefix, actor="tests", grace="0").key.prefix
    listing = signed_in.get("/settings/api-keys?status=rolled").text
    row = re.search(rf'<tr id="key-{prefix}".*?</tr>', listing, re.S).group(0)
    assert 'badge--rolled">Rolled<' in row
    assert re.search(
        rf'replaced by <a href="/settings/api-keys/{new_prefix}"\s+'
        rf'aria-label="replaced by {new_prefix} \(Feed\)"><code>{new_prefix}</code></a>',
        row,
    )
    # The new key is in the default list; its row names no predecessor.
    default = signed_in.get("/settings/api-keys").text
    assert f'<tr id="key-{new_prefix}"' in default and "replaced by" not in default


@pytest.mark.parametrize("backend", ["sqlite"])
def test_an_unexpected_failure_is_a_line_in_the_alert_area_not_a_page_in_the_row(
    app: Flask, signed_in: PanelClient, key: ApiKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as in production

    def broken(prefix: str, actor: str) -> ApiKey:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(service, "deactivate_key", broken)
    response = signed_in.post(f"/settings/api-keys/{key.prefix}/deactivate")
    assert assert_refused(response, 500) == "Something went wrong on the server. Try again."
    assert "disk on fire" not in response.text


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_refusal_without_htmx_is_a_page_with_a_way_back(signed_in: PanelClient, key: ApiKey) -> None:
    signed_in.delete(f"/settings/api-keys/{key.prefix}")
    response = signed_in.post(f"/settings/api-keys/{key.prefix}/activate", htmx=False)
    assert response.status_code == 409
    assert response.text.startswith("<!doctype html>")
    assert '<h1 id="error-title">Conflict</h1>' in response.text
    assert "revocation is final" in response.text and ">Back to API Keys</a>" in response.text
    assert "HX-Retarget" not in response.headers
