"""Documentation for one key: the docs cut to its operations, its prefix with a placeholder secret."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any

import pytest
from flask import Flask

from app.docs.views import EXTENSION_KEY
from app.extensions import db
from app.keys import service
from app.keys.format import KEY_PATTERN
from app.models.users import User
from tests.panel.conftest import PanelClient

_OPERATION = re.compile(
    r'<h4 class="endpoint-title"><span class="method">(\w+)</span> <code>([^<]+)</code></h4>'
)
# The key a curl line sends: -H "X-API-Key: ..." (quotes escaped or not, as Jinja wrote them).
_CURL_KEY = re.compile(r'-H (?:"|&#34;)X-API-Key: (.*?)(?:"|&#34;)')


def docs_url(prefix: str) -> str:
    """The docs page of the key with ``prefix``."""
    return f"/settings/api-keys/{prefix}/docs"


def operations(html: str) -> set[str]:
    """The endpoints the page documents, as ``GET /path``."""
    return {f"{method} {path}" for method, path in _OPERATION.findall(html)}


@pytest.fixture
def sync_key(make_key: Any) -> service.CreatedKey:
    """A key that may show products and list inventory, nothing else."""
    return make_key(name="Nightly sync", abilities=["products:show", "inventory:list"])


def test_docs_show_only_the_keys_operations_and_its_introspection(
    signed_in: PanelClient, sync_key: service.CreatedKey
) -> None:
    response = signed_in.get(docs_url(sync_key.key.prefix))
    assert response.status_code == 200
    assert operations(response.text) == {
        "GET /api/v1/products/{id}",
        "GET /api/v1/inventory",
        "GET /api/v1/key",
    }
    assert "Documentation for this key" in response.text
    assert "may call the\n    3 operations below" in response.text
    # Modules the key cannot call are left out of the navigation and the abilities table too.
    assert 'href="#module-inventory"' in response.text and 'href="#module-products"' in response.text
    assert "#module-customers" not in response.text and "customers:list" not in response.text
    abilities = response.text.split('<section id="abilities"', 1)[1].split("</section>", 1)[0]
    assert re.findall(r"<td><code>([^<]+)</code></td>", abilities) == ["products:show", "inventory:list"]


def test_every_curl_line_sends_the_environment_variable_the_page_tells_you_to_set(
    app: Flask, signed_in: PanelClient, sync_key: service.CreatedKey
) -> None:
    """SPEC §13: ``$STOCKGATE_API_KEY`` in every curl line, never a pasted placeholder; the
    placeholder (prefix and ``<your secret>``) only where the key is set and shown."""
    prefix = sync_key.key.prefix
    html = signed_in.get(docs_url(prefix)).text
    placeholder = f"{prefix}_&lt;your secret&gt;"
    sent = _CURL_KEY.findall(html)
    assert len(sent) >= 3
    assert set(sent) == {"$STOCKGATE_API_KEY"}
    assert f"export STOCKGATE_API_KEY='{placeholder}'" in html
    assert f"Authorization: Bearer {placeholder}" in html
    assert sync_key.raw_key not in html
    assert sync_key.raw_key[len(prefix) + 1 :] not in html
    with app.app_context():
        assert service.get_key(prefix).key_hash not in html
    assert KEY_PATTERN.search(html) is None, "nothing on the page is shaped like a key"


def test_the_placeholder_sent_unchanged_is_refused_as_a_malformed_key(
    app: Flask, sync_key: service.CreatedKey
) -> None:
    response = app.test_client().get(
        "/api/v1/inventory", headers={"X-API-Key": f"{sync_key.key.prefix}_<your secret>"}
    )
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_key"


def test_the_public_docs_stay_cached_and_unchanged(
    app: Flask, signed_in: PanelClient, sync_key: service.CreatedKey
) -> None:
    public = app.test_client()
    before = public.get("/api/docs")
    assert signed_in.get(docs_url(sync_key.key.prefix)).status_code == 200
    after = public.get("/api/docs")
    assert after.data == before.data and after.headers["ETag"] == before.headers["ETag"]
    assert sync_key.key.prefix.encode() not in after.data
    assert b"$STOCKGATE_API_KEY" in after.data
    # The per-key page is never kept in the public page's render cache.
    assert set(app.extensions[EXTENSION_KEY]) == {"page"}
    assert app.extensions[EXTENSION_KEY]["page"].body == before.data


def test_docs_for_a_key_are_never_stored_and_run_under_the_strict_csp(
    signed_in: PanelClient, sync_key: service.CreatedKey
) -> None:
    response = signed_in.get(docs_url(sync_key.key.prefix))
    assert response.headers["Cache-Control"] == "no-store, private"
    assert "ETag" not in response.headers
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert re.findall(r"<script", response.text) == []
    assert "style=" not in response.text


def test_key_page_links_to_its_docs(signed_in: PanelClient, sync_key: service.CreatedKey) -> None:
    page = signed_in.get(f"/settings/api-keys/{sync_key.key.prefix}").text
    assert f'href="{docs_url(sync_key.key.prefix)}"' in page
    assert ">Documentation for this key</a>" in page
    docs = signed_in.get(docs_url(sync_key.key.prefix)).text
    assert f'href="/settings/api-keys/{sync_key.key.prefix}">Back to Nightly sync</a>' in docs


def test_anonymous_visitor_is_sent_to_sign_in(client: Any, sync_key: service.CreatedKey) -> None:
    url = docs_url(sync_key.key.prefix)
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={url}"
    assert b"api/v1" not in response.data


def test_non_admin_is_refused(
    app: Flask, signed_in: PanelClient, admin: User, sync_key: service.CreatedKey
) -> None:
    with app.app_context():
        db.session.get(User, admin.id).is_admin = False
        db.session.commit()
    response = signed_in.get(docs_url(sync_key.key.prefix))
    assert response.status_code == 403
    assert "api/v1" not in response.text


def test_revoked_key_has_no_docs(signed_in: PanelClient, sync_key: service.CreatedKey, app: Flask) -> None:
    with app.app_context():
        service.revoke_key(sync_key.key.prefix, actor="tests")
    response = signed_in.get(docs_url(sync_key.key.prefix))
    assert response.status_code == 404
    assert "is revoked" in response.text
    assert "api/v1/inventory" not in response.text


@pytest.mark.parametrize("prefix", ["sgk_ZZZZZZZZ", "not-a-prefix", "sgk_%00AAAAAA"])
def test_unknown_or_malformed_prefix_is_a_404(signed_in: PanelClient, prefix: str) -> None:
    response = signed_in.get(docs_url(prefix))
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store"


def test_inactive_key_docs_say_requests_are_refused(
    app: Flask, signed_in: PanelClient, sync_key: service.CreatedKey
) -> None:
    with app.app_context():
        service.deactivate_key(sync_key.key.prefix, actor="tests")
    html = signed_in.get(docs_url(sync_key.key.prefix)).text
    assert "<strong>Inactive:</strong>" in html and "401 key_inactive" in html


def test_key_without_list_abilities_has_no_pagination_section(signed_in: PanelClient, make_key: Any) -> None:
    key = make_key(abilities=["customers:show"]).key
    html = signed_in.get(docs_url(key.prefix)).text
    assert operations(html) == {"GET /api/v1/customers/{id}", "GET /api/v1/key"}
    assert 'id="lists"' not in html and 'href="#lists"' not in html


def _scoped_key(app: Flask, make_key: Any, **scope: list[str]) -> service.CreatedKey:
    """A key with every ability and the given data scope."""
    from app.catalogue import ALL_ABILITIES

    return make_key(name="Repricer", abilities=list(ALL_ABILITIES), **scope)


def _field_tables(html: str) -> str:
    """The page's response-field and parameter tables and its examples, joined."""
    tables = r'<table class="fields">.*?</table>|<table>.*?</table>|<pre class="json">.*?</pre>'
    return "\n".join(re.findall(tables, html, re.S))


def test_key_docs_say_the_keys_scope(
    app: Flask, signed_in: PanelClient, make_key: Any, make_warehouse: Any
) -> None:
    code = make_warehouse("TOR1")
    scope = {"warehouses": [code], "marketplaces": ["Amazon.ca"], "hidden_fields": ["costs"]}
    created = _scoped_key(app, make_key, **scope)
    html = signed_in.get(docs_url(created.key.prefix)).text
    paragraph = html.split('<p id="this-key-scope">', 1)[1].split("</p>", 1)[0]
    assert "warehouse TOR1" in paragraph and "marketplace Amazon.ca" in paragraph
    assert "none of the Costs fields" in paragraph and "404" in paragraph


def test_key_docs_of_an_unscoped_key_say_it_sees_everything(
    signed_in: PanelClient, sync_key: service.CreatedKey
) -> None:
    html = signed_in.get(docs_url(sync_key.key.prefix)).text
    assert "none: it sees every record and every field" in html


def _keys(value: Any) -> set[str]:
    """Every key of a JSON value, at any depth."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def _mentions(part: str, name: str) -> bool:
    """Whether a module's tables or examples name the record field ``name``: a field row
    (``data[].lines[].unit_cost``), a sort choice (``cost``, ``-cost``) or a key of an example's
    records (``data``; ``meta.total`` is the page's, not a record's)."""
    row = re.search(rf"<code>data(?:\[\])?\.(?:lines\[\]\.)?{re.escape(name)}</code>", part)
    choice = re.search(rf"<code>-?{re.escape(name)}</code>", part)
    shown = re.findall(r'<pre class="json"><code>(.*?)</code>', part, re.S)
    examples = [json.loads(unescape(e)) for e in shown]
    in_example = any(name in _keys(e.get("data")) for e in examples if isinstance(e, dict))
    return bool(row or choice or in_example)


@pytest.mark.parametrize("group", ["costs", "buyer-details", "contact-details"])
def test_key_docs_leak_no_field_of_a_hidden_group(
    app: Flask, signed_in: PanelClient, make_key: Any, group: str
) -> None:
    from app.catalogue import MODULES

    html = signed_in.get(docs_url(_scoped_key(app, make_key, hidden_fields=[group]).key.prefix)).text
    hidden = [
        (module, name.rsplit(".", 1)[-1])
        for module in MODULES
        for g, names in module.field_groups
        if g == group
        for name in names
    ]
    assert hidden
    for module, name in hidden:
        # Every operation of the module: no field row, sort choice or example key of the field.
        section = html.split(f'<section id="module-{module.slug}"', 1)[1].split("</section>", 1)[0]
        assert not _mentions(_field_tables(section), name), (module.slug, name)
    assert f"Hidden by the {group.replace('-', ' ').capitalize()} scope." not in html


def test_the_same_fields_show_for_a_key_hiding_nothing(
    signed_in: PanelClient, app: Flask, make_key: Any
) -> None:
    # The leak check above can see a field: here, with nothing hidden, it does.
    html = signed_in.get(docs_url(_scoped_key(app, make_key).key.prefix)).text
    section = html.split('<section id="module-products"', 1)[1].split("</section>", 1)[0]
    assert _mentions(_field_tables(section), "cost")
    assert "Hidden by the Costs scope." in html
