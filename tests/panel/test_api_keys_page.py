"""The API Keys page: columns, live search, status filter, sorting and paging in the URL."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from app.extensions import db
from app.keys import rolling
from app.models.api_keys import ApiKey
from app.models.types import utcnow
from app.panel.list_params import MAX_PAGE
from app.panel.listing import STATUS_OPTIONS
from tests.panel.conftest import PanelClient

COLUMNS = ["Name", "Key Prefix", "Owner", "Status", "Rate Limit", "Expires At", "Last Used At"]


def _names(html: str) -> list[str]:
    return re.findall(r'<td data-label="Name" class="key-name"><a href="[^"]*">([^<]*)</a></td>', html)


def _set(app: Flask, prefix: str, **values: Any) -> None:
    with app.app_context():
        db.session.execute(update(ApiKey).where(ApiKey.prefix == prefix).values(**values))
        db.session.commit()


def test_page_shows_the_seven_columns_then_actions(signed_in: PanelClient) -> None:
    page = signed_in.get("/settings/api-keys")
    headers = re.findall(r'<th scope="col"[^>]*>\s*<a class="sort"[^>]*>([^<]+)</a>', page.text)
    assert headers == COLUMNS
    assert '<span class="visually-hidden">Actions</span>' in page.text


def test_page_has_search_box_status_filter_and_docs_link(signed_in: PanelClient) -> None:
    page = signed_in.get("/settings/api-keys").text
    assert 'type="search" name="q"' in page
    assert 'hx-trigger="input changed delay:300ms, search"' in page
    # Where the answer goes is said once, on the filters form, and inherited by its controls.
    filters = re.search(r'<form id="key-filters"[^>]*>', page).group(0)
    assert 'hx-sync="#key-search:replace"' in filters
    assert 'hx-push-url="true"' in filters and 'hx-target="#key-table"' in filters
    assert page.count('hx-target="#key-table"') == 2  # the filters form and the sort headers
    assert '<label for="key-search">Search</label>' in page
    assert '<label for="key-status">Status</label>' in page
    assert 'href="/api/docs"' in page and "View API Documentation" in page
    assert 'href="/settings/api-keys" aria-current="page">API Keys</a>' in page


def test_row_shows_status_rate_limit_and_times_with_exact_utc_on_hover(
    app: Flask, signed_in: PanelClient, make_key: Any
) -> None:
    created = make_key(name="Timed", rate_limit=1500, expires_at=utcnow() + timedelta(days=30))
    _set(app, created.key.prefix, last_used_at=utcnow() - timedelta(hours=2))
    page = signed_in.get("/settings/api-keys").text
    assert '<span class="badge badge--active">Active</span>' in page
    assert "1,500/min" in page
    assert re.search(
        r'<time datetime="[^"]+" title="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC">2 hours ago</time>', page
    )
    # Over a week away: the date itself.
    assert re.search(r'title="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC">\d{1,2} [A-Z][a-z]{2} \d{4}</time>', page)


@pytest.mark.both_databases
def test_status_shows_active_inactive_and_expired(app: Flask, signed_in: PanelClient, make_key: Any) -> None:
    expired = make_key(name="Expired one", expires_at=utcnow() + timedelta(days=1))
    _set(app, expired.key.prefix, expires_at=utcnow() - timedelta(days=1))
    inactive = make_key(name="Inactive one")
    signed_in.post(f"/settings/api-keys/{inactive.key.prefix}/deactivate")
    page = signed_in.get("/settings/api-keys").text
    assert 'badge--expired">Expired<' in page
    assert 'badge--inactive">Inactive<' in page


def test_htmx_search_returns_only_the_table_and_the_url_alone_returns_the_page(
    signed_in: PanelClient, make_key: Any
) -> None:
    make_key(name="Shopify storefront")
    make_key(name="Warehouse scanner")
    fragment = signed_in.get("/settings/api-keys?q=shop", htmx=True)
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="key-table"')
    assert "<html" not in fragment.text
    assert _names(fragment.text) == ["Shopify storefront"]
    assert "HX-Request" in fragment.headers["Vary"]
    assert fragment.headers["HX-Push-Url"] == "/settings/api-keys?q=shop"

    full = signed_in.get("/settings/api-keys?q=shop")
    assert full.text.startswith("<!doctype html>")
    assert _names(full.text) == ["Shopify storefront"]
    assert 'value="shop"' in full.text
    assert "HX-Request" in full.headers["Vary"]


def test_pushed_url_leaves_out_defaults_and_empty_values(signed_in: PanelClient) -> None:
    response = signed_in.get(
        "/settings/api-keys?status=working&q=&sort=created_at&dir=desc&page=1", htmx=True
    )
    assert response.headers["HX-Push-Url"] == "/settings/api-keys"
    response = signed_in.get("/settings/api-keys?status=active&q=a+b&sort=name&dir=asc", htmx=True)
    assert response.headers["HX-Push-Url"] == "/settings/api-keys?q=a+b&status=active&sort=name&dir=asc"


def test_history_restore_gets_the_whole_page(signed_in: PanelClient) -> None:
    response = signed_in.client.get(
        "/settings/api-keys?q=x", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert response.text.startswith("<!doctype html>")


@pytest.mark.both_databases
def test_search_matches_name_prefix_owner_name_and_email(
    signed_in: PanelClient, make_key: Any, make_user: Any
) -> None:
    sync = make_user(email="sync@stockgate.internal", name="Nightly sync", is_system=True)
    by_sync = make_key(name="Bridge", owner=sync)
    other = make_key(name="Other")
    for query in ("bridge", by_sync.key.prefix.lower(), "nightly", "stockgate.internal"):
        names = _names(signed_in.get(f"/settings/api-keys?q={query}", htmx=True).text)
        assert names == ["Bridge"], query
    assert _names(signed_in.get(f"/settings/api-keys?q={other.key.prefix}", htmx=True).text) == ["Other"]


@pytest.mark.both_databases
@pytest.mark.parametrize(
    "query", ["%", "_", "' OR 1=1--", "x" * 10_000, "\\", "%_%", "\u00e9\u4e2d\U0001f600"]
)
def test_odd_searches_return_normal_results(signed_in: PanelClient, make_key: Any, query: str) -> None:
    make_key(name="Plain key")
    make_key(name="100% literal_match")
    response = signed_in.client.get(
        "/settings/api-keys", query_string={"q": query}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    names = _names(response.text)
    if query == "%":
        assert names == ["100% literal_match"]
    elif query == "_":
        # Every key prefix (sgk_...) holds a literal underscore.
        assert sorted(names) == ["100% literal_match", "Plain key"]
    else:
        assert names == []


@pytest.mark.both_databases
def test_status_filter_sort_and_page_compose_in_the_url(signed_in: PanelClient, make_key: Any) -> None:
    for n in range(30):
        make_key(name=f"Batch {n:02d}")
    make_key(name="Lonely other")
    first = signed_in.get("/settings/api-keys?q=batch&sort=name&dir=asc", htmx=True).text
    assert _names(first) == [f"Batch {n:02d}" for n in range(25)]
    assert 'href="/settings/api-keys?q=batch&amp;sort=name&amp;dir=asc&amp;page=2"' in first
    second = signed_in.get("/settings/api-keys?q=batch&sort=name&dir=asc&page=2", htmx=True).text
    assert _names(second) == [f"Batch {n:02d}" for n in range(25, 30)]
    assert 'rel="next"' not in second
    assert 'href="/settings/api-keys?q=batch&amp;sort=name&amp;dir=asc" hx-get' in second  # previous page
    # The sort travels with the next search (hidden inputs included by hx-include).
    assert '<input type="hidden" class="list-param" name="sort" value="name">' in second
    descending = signed_in.get("/settings/api-keys?q=batch&sort=name&dir=desc", htmx=True).text
    assert _names(descending)[0] == "Batch 29"


@pytest.mark.both_databases
def test_status_filter_hides_and_shows_revoked(signed_in: PanelClient, make_key: Any) -> None:
    kept = make_key(name="Kept")
    gone = make_key(name="Gone")
    signed_in.delete(f"/settings/api-keys/{gone.key.prefix}")
    assert _names(signed_in.get("/settings/api-keys", htmx=True).text) == [kept.key.name]
    assert _names(signed_in.get("/settings/api-keys?status=revoked", htmx=True).text) == ["Gone"]
    assert _names(signed_in.get("/settings/api-keys?status=inactive", htmx=True).text) == []


@pytest.mark.both_databases
@pytest.mark.parametrize("query", ["status=bogus", "sort=key_hash", "dir=sideways", "page=-3", "page=0"])
def test_junk_list_params_fall_back_to_defaults(signed_in: PanelClient, make_key: Any, query: str) -> None:
    # A page not written in digits ("abc", "1_0") is refused instead: see test_hostile_input.py.
    for name in ("Bravo", "Alpha", "Charlie"):
        make_key(name=name)
    signed_in.delete(f"/settings/api-keys/{make_key(name='Revoked').key.prefix}")
    default = signed_in.get("/settings/api-keys", htmx=True)
    response = signed_in.get(f"/settings/api-keys?{query}", htmx=True)
    assert response.status_code == 200
    # The default list (page 1, revoked keys hidden, the default order), not an empty page.
    assert _names(response.text) == _names(default.text)
    assert sorted(_names(response.text)) == ["Alpha", "Bravo", "Charlie"]
    # Nor is the junk carried on into the next search, sort or page link.
    junk = query.partition("=")[2]
    assert f'value="{junk}"' not in response.text
    assert f"={junk}" not in response.text


@pytest.mark.both_databases
def test_a_page_past_the_cap_is_the_last_page_allowed_never_an_overflow(
    signed_in: PanelClient, make_key: Any
) -> None:
    make_key(name="Only key")
    response = signed_in.get("/settings/api-keys?page=99999999999", htmx=True)
    assert response.status_code == 200
    assert _names(response.text) == []  # far past the end, so no rows...
    # ...and the page asked for is the cap: its previous page is the one before it.
    assert f'href="/settings/api-keys?page={MAX_PAGE - 1}"' in response.text
    assert "99999999999" not in response.text


def test_empty_table_says_so(signed_in: PanelClient) -> None:
    assert "No API keys yet" in signed_in.get("/settings/api-keys").text
    assert "No API keys match this search" in signed_in.get("/settings/api-keys?q=zzz").text


def test_every_panel_page_sends_security_headers(signed_in: PanelClient, client: Any) -> None:
    for response in (signed_in.get("/settings/api-keys"), client.get("/login")):
        csp = response.headers["Content-Security-Policy"]
        for directive in (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ):
            assert directive in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_hsts_only_in_production(app_config: dict[str, Any], tmp_path: Any) -> None:
    """Production (behind HTTPS) sends HSTS; development over plain HTTP must not."""
    from app import create_app

    for env, expected in (("development", None), ("production", "max-age=31536000; includeSubDomains")):
        application = create_app({**app_config, "STOCKGATE_ENV": env})
        response = application.test_client().get("/login")
        assert response.headers.get("Strict-Transport-Security") == expected


def test_pages_have_no_inline_script_or_event_handlers(signed_in: PanelClient) -> None:
    for url in ("/settings/api-keys", "/settings/api-keys/new", "/login"):
        html = signed_in.get(url).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
        assert not re.search(r"\s(on\w+|hx-on[:\w-]*)=", html)
        assert "js:" not in html and "javascript:" not in html


def test_htmx_is_configured_for_the_csp_and_error_responses(signed_in: PanelClient) -> None:
    html = signed_in.get("/settings/api-keys").text
    match = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", html)
    assert match
    import json

    config = json.loads(match.group(1))
    assert config["allowEval"] is False
    assert config["includeIndicatorStyles"] is False
    assert config["historyRestoreAsHxRequest"] is False
    rules = {rule["code"]: rule for rule in config["responseHandling"]}
    codes = list(rules)
    assert codes.index("422") < codes.index("[45]..")
    assert rules["422"]["swap"] is True
    # Other errors swap into the alert area (the panel's own also say so with HX-Retarget).
    assert rules["[45].."] == {
        "code": "[45]..",
        "swap": True,
        "error": True,
        "target": "#flash",
        "swapOverride": "innerHTML",
    }
    assert "/static/vendor/htmx-2.0.11.min.js" in html
    assert "/static/js/panel.js" in html


def test_default_filter_is_all_working_and_hides_revoked_and_dead_keys(
    app: Flask, signed_in: PanelClient, make_key: Any
) -> None:
    """SPEC §7: "All working" is the default and hides revoked keys and keys past their roll
    cutover; the status filter (options from listing.STATUS_OPTIONS) still reaches them."""
    make_key(name="Kept")
    gone = make_key(name="Gone").key.prefix
    dead = make_key(name="Dead").key.prefix
    signed_in.delete(f"/settings/api-keys/{gone}")
    with app.app_context():
        rolling.roll_key(dead, actor="tests", grace="0")
    page = signed_in.get("/settings/api-keys").text
    options = re.findall(r'<option value="([^"]+)"\s*(selected)?>([^<]+)</option>', page)
    assert options[0] == ("working", "selected", "All working")
    offered = [value for value in STATUS_OPTIONS if value != "over_lifetime"]  # no policy set
    assert [value for value, _, _ in options] == offered
    assert sorted(_names(page)) == ["Dead", "Kept"]  # the new key that replaced Dead, and Kept
    assert f'id="key-{dead}"' not in page and f'id="key-{gone}"' not in page
    assert _names(signed_in.get("/settings/api-keys?status=rolled", htmx=True).text) == ["Dead"]
    assert f'id="key-{dead}"' in signed_in.get("/settings/api-keys?status=all", htmx=True).text
    assert _names(signed_in.get("/settings/api-keys?status=revoked", htmx=True).text) == ["Gone"]


def test_templates_build_every_url_with_url_for() -> None:
    """No template spells out a path of the app (a moved route would leave dead links)."""
    templates = Path(__file__).resolve().parents[2] / "app" / "templates"
    spelled = re.compile(r'(?:href|action|hx-(?:get|post|put|patch|delete))="/[^/]')
    found = [
        f"{path.relative_to(templates)}:{number}"
        for path in sorted(templates.rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if spelled.search(line)
    ]
    assert found == []
