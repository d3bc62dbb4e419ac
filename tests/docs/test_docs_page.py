"""/api/docs: one readable page rendered from the document, safe under a strict CSP."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from app.catalogue import ALL_ABILITIES, FIELD_GROUPS, MODULES
from app.docs.page import prose
from app.keys.format import KEY_PATTERN
from app.web import security
from tests.docs.docs_helpers import OPERATION_COUNT


class Collector(HTMLParser):
    """Collect ids, inline styles/scripts and external resources of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.inline: list[str] = []
        self.resources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"] or "")
        if "style" in values or any(name.startswith("on") for name in values):
            self.inline.append(f"{tag} with inline style or handler")
        if tag in ("style", "script") and not values.get("src"):
            self.inline.append(f"inline <{tag}>")
        for name in ("src", "href"):
            if tag in ("link", "script", "img") and values.get(name):
                self.resources.append(values[name] or "")


@pytest.fixture
def page(docs_app):
    """The page of a server with a public base URL (curl lines are then absolute)."""
    docs_app.config["PUBLIC_BASE_URL"] = "https://stock.example.com"
    response = docs_app.test_client().get("/api/docs")
    assert response.status_code == 200
    return response


def test_docs_page_is_html_with_a_strict_csp_even_under_the_api_prefix(page):
    """The API answers JSON under /api/, but the docs page is HTML under the app's one CSP."""
    assert page.mimetype == "text/html"
    csp = page.headers["Content-Security-Policy"]
    assert csp == security.CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_docs_page_has_no_inline_style_or_script_and_only_local_resources(page):
    """Nothing the CSP would block: no inline code, styles from our own static file."""
    parser = Collector()
    parser.feed(page.get_data(as_text=True))
    assert parser.inline == []
    assert parser.resources and all(r.startswith("/") for r in parser.resources)


def test_every_module_has_a_section_with_both_endpoints_and_curl_examples(page):
    """Navigation by module; each endpoint with parameters, fields and a curl example."""
    html = page.get_data(as_text=True)
    parser = Collector()
    parser.feed(html)
    for module in MODULES:
        assert f"module-{module.slug}" in parser.ids
        assert f'href="#module-{module.slug}"' in html
        assert f"curl -sS &#34;https://stock.example.com/api/v1/{module.slug}?" in html
        assert f"https://stock.example.com/api/v1/{module.slug}/42&#34;" in html
    assert html.count('class="endpoint"') == OPERATION_COUNT  # GET /api/v1/key included
    assert html.count("X-API-Key: $STOCKGATE_API_KEY") >= OPERATION_COUNT


def test_guide_sections_cover_keys_auth_abilities_limits_errors_and_sync(page):
    """Getting started, both headers, every ability, limit headers, error codes, sync."""
    html = page.get_data(as_text=True)
    for anchor in ("getting-started", "authentication", "abilities", "rate-limits", "errors", "lists"):
        assert f'id="{anchor}"' in html
    assert "flask keys create" in html and "Settings → API Keys" in html
    assert "X-API-Key: sgk_XXXXXXXX_..." in html and "Authorization: Bearer sgk_XXXXXXXX_..." in html
    abilities = re.search(r'<table class="abilities">(.*?)</table>', html, re.S).group(1)
    assert abilities.count("<tr>") == 1 + OPERATION_COUNT  # the header, then one row per operation
    for ability in ALL_ABILITIES:
        assert f"<code>{ability}</code>" in abilities
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"):
        assert f"<code>{header}</code>" in html
    for code in ("missing_key", "invalid_key", "key_inactive", "key_expired", "forbidden", "rate_limited"):
        assert f"<code>{code}</code>" in html
    assert "updated_since" in html and "links.next" in html
    for challenge in ('error="invalid_token"', 'error="insufficient_scope"', 'error="invalid_request"'):
        assert html.count(challenge.replace('"', "&#34;")) + html.count(challenge) >= 1


def test_docs_page_describes_introspection_the_expiry_header_and_allowed_ips(page):
    """GET /api/v1/key with its fields and curl line, no ability; the expiry header; ip_not_allowed."""
    html = page.get_data(as_text=True)
    endpoint = re.search(r'<article id="showKey" class="endpoint">(.*?)</article>', html, re.S).group(1)
    assert "<code>/api/v1/key</code>" in endpoint and "no ability needed" in endpoint
    for field in ("data.prefix", "data.owner.name", "data.rate_limit.remaining", "data.sunset_at"):
        assert f"<code>{field}</code>" in endpoint
    assert "https://stock.example.com/api/v1/key&#34;" in endpoint
    assert 'href="#module-key"' in html
    assert "<code>Stockgate-Key-Expires-At</code>" in html
    assert "<code>ip_not_allowed</code>" in html


def test_docs_page_says_totals_are_counted_up_to_the_cap(page):
    """The lists section tells what the document says of `meta.total` past the cap."""
    html = page.get_data(as_text=True)
    lists = re.search(r'<section id="lists".*?</section>', html, re.S).group(0)
    assert "counted up to 10,000" in lists
    assert "<code>meta.total</code> and <code>meta.pages</code> are null" in lists


def test_docs_page_never_shows_a_real_looking_key(page):
    """Only the placeholder appears; it does not match the key format."""
    assert KEY_PATTERN.search(page.get_data(as_text=True)) is None


def test_unknown_paths_under_api_docs_stay_json(docs_app):
    """Errors near the docs are the API's JSON errors, not an HTML page."""
    client = docs_app.test_client()
    missing = client.get("/api/docs/nope")
    assert missing.status_code == 404 and missing.is_json
    posted = client.post("/api/docs")
    assert posted.status_code == 405 and posted.is_json


def test_descriptions_are_escaped_with_only_code_and_paragraphs_added():
    """Markup in a description is shown as text; backticks become <code>, blank lines <p>."""
    html = str(prose("Use `<b>` here.\n\n<script>alert(1)</script>"))
    assert html == "<p>Use <code>&lt;b&gt;</code> here.</p><p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"


def test_double_asterisks_are_bold_but_not_inside_code():
    """The OpenAPI descriptions are CommonMark: ``**Cursor mode**`` reads as bold, not asterisks."""
    html = str(prose("**Cursor mode** (for syncing); `**kept**`, 2 ** 3 and **<b>**."))
    assert html == (
        "<p><strong>Cursor mode</strong> (for syncing); <code>**kept**</code>, 2 ** 3 and "
        "<strong>&lt;b&gt;</strong>.</p>"
    )


def test_no_literal_double_asterisks_on_the_page(page):
    html = page.get_data(as_text=True)
    assert html.count("<strong>Cursor mode</strong>") == 15
    assert "**" not in html


def _allowed(html: str, operation: str, field: str) -> list[str]:
    """The values listed as allowed in ``field``'s row of ``operation``'s response fields."""
    article = html.split(f'<article id="{operation}"', 1)[1].split("</article>", 1)[0]
    row = article.split(f"<td><code>{field}</code></td>", 1)[1].split("</tr>", 1)[0]
    choices = re.search(r'<span class="choices">one of (.*?)</span>', row)
    return re.findall(r"<code>([^<]+)</code>", choices.group(1)) if choices else []


def test_response_fields_show_the_values_the_document_allows(page, document):
    """The document's enums (a status, a kind, a key's status) are on the page too."""
    html = page.get_data(as_text=True)
    schemas = document["components"]["schemas"]
    assert _allowed(html, "showProduct", "data.status") == schemas["Product"]["properties"]["status"]["enum"]
    assert _allowed(html, "listWarehouses", "data[].kind") == ["amazon_fba", "own", "third_party"]
    assert _allowed(html, "showKey", "data.status") == ["active", "rolling"]
    # A nullable enum lists its values; null is said once, by "or null".
    assert _allowed(html, "showReturnOrder", "data.lines[].condition") == [
        "sellable",
        "damaged",
        "defective",
        "missing",
    ]


def test_docs_page_has_a_syncing_section_with_shell_and_python_examples(page):
    """SPEC §14: the cursor loop, updated_since, ETags and gzip, with copy-paste examples."""
    html = page.get_data(as_text=True)
    assert 'href="#syncing"' in html
    section = re.search(r'<section id="syncing".*?</section>', html, re.S).group(0)
    for phrase in ("next_cursor", "updated_since", "If-None-Match", "ETag", "304", "Accept-Encoding: gzip"):
        assert phrase in section, phrase
    assert "#!/bin/sh" in section and '--data-urlencode "cursor=$cursor"' in section
    assert "import requests" in section and 'params["cursor"] = body["meta"]["next_cursor"]' in section
    assert "https://stock.example.com/api/v1/" in section


def test_docs_page_explains_data_scope_and_marks_the_fields_a_scope_can_hide(page):
    html = page.text
    section = html.split('<section id="data-scope"', 1)[1].split("</section>", 1)[0]
    for words in ("Warehouses:", "Marketplaces:", "Hidden fields:", "404 not_found", "400"):
        assert words in section.replace("<code>", "").replace("</code>", ""), words
    assert 'href="#data-scope"' in html
    # Each group of the catalogue, in the catalogue's words, with its fields.
    for label in FIELD_GROUPS.values():
        assert f'<tr data-group="{label}">' in section, label
    assert "<code>Product.cost</code>" in section and "<code>PurchaseOrderLine.unit_cost</code>" in section
    # The field tables say which scope hides a field.
    products = html.split('<section id="module-products"', 1)[1].split("</section>", 1)[0]
    cost_row = re.search(r"<code>data\[\]\.cost</code>.*?</tr>", products, re.S)
    assert cost_row is not None and "Hidden by the Costs scope." in cost_row.group(0)
    name_row = re.search(r"<code>data\[\]\.name</code>.*?</tr>", products, re.S)
    assert name_row is not None and "Hidden by" not in name_row.group(0)
