"""The OpenAPI document: valid, complete, honest about abilities, errors, limits and keys."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from app import create_app
from app.catalogue import ALL_ABILITIES, MODULES
from app.docs import spec
from app.docs.examples import EXAMPLE_KEY
from app.extensions import limiter
from app.keys.format import KEY_PATTERN
from tests.conftest import base_config
from tests.docs.docs_helpers import OPERATION_COUNT

ERROR_STATUSES = ("400", "401", "403", "404", "405", "429")


def operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(path, op) for path, item in document["paths"].items() for op in item.values()]


def test_document_validates_against_the_openapi_schema(document):
    """openapi-spec-validator accepts the document as served."""
    validate(document)


def test_document_has_one_operation_per_ability_and_the_introspection(document):
    """Every module, list and show each: one GET operation per ability, each needing its own;
    plus ``GET /api/v1/key``, which needs none (``x-required-ability`` null)."""
    ops = operations(document)
    assert len(ops) == OPERATION_COUNT
    assert document["paths"]["/api/v1/key"]["get"]["x-required-ability"] is None
    assert sorted(op["x-required-ability"] for _, op in ops if op["x-required-ability"]) == sorted(
        ALL_ABILITIES
    )
    assert {len(item) for item in document["paths"].values()} == {1}
    assert all("get" in item for item in document["paths"].values())


def test_every_operation_names_its_ability_tag_and_summary(document):
    """Description and x-required-ability agree; every operation is tagged by its module."""
    tags = {tag["name"] for tag in document["tags"]}
    assert tags == {module.name for module in MODULES} | {spec.KEY_TAG}
    operation_ids = set()
    for _, op in operations(document):
        if op["x-required-ability"] is None:
            assert op["description"].startswith("No ability needed")
        else:
            assert f"`{op['x-required-ability']}`" in op["description"]
        assert op["summary"]
        assert op["tags"][0] in tags
        operation_ids.add(op["operationId"])
    assert len(operation_ids) == OPERATION_COUNT


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.slug)
def test_list_parameters_carry_types_ranges_defaults_and_sort_enum(document, module):
    """page/per_page/sort/updated_since/cursor(/q) come with the API's own ranges and defaults."""
    op = document["paths"][f"/api/v1/{module.slug}"]["get"]
    # The shared If-None-Match header is a reference (tested with the 304 below).
    params = {p["name"]: p for p in op["parameters"] if "$ref" not in p}
    assert params["page"]["schema"]["minimum"] == 1
    assert params["page"]["schema"]["default"] == 1
    assert params["per_page"]["schema"] == {
        "type": "integer",
        "default": 25,
        "minimum": 1,
        "maximum": 100,
        "example": 25,
    }
    sort = params["sort"]["schema"]
    assert sort["default"] == module.default_sort
    assert sort["enum"] == [v for name in module.sortable for v in (name, f"-{name}")]
    assert params["updated_since"]["schema"]["format"] == "date-time"
    assert ("q" in params) == bool(module.searchable)
    assert params["cursor"]["schema"]["type"] == "string"
    assert "default" not in params["cursor"]["schema"]
    assert all(p["in"] == "query" and not p["required"] for p in params.values())


def test_sync_is_documented_cursor_next_cursor_304_etag_and_if_none_match(document):
    """SPEC §14 in the document: cursor mode's meta, the 304, ETag and If-None-Match."""
    components = document["components"]
    assert set(components["schemas"]["CursorMeta"]["required"]) == {"per_page", "next_cursor"}
    assert components["schemas"]["CursorMeta"]["properties"]["next_cursor"]["nullable"] is True
    assert components["parameters"]["IfNoneMatch"]["in"] == "header"
    assert components["parameters"]["IfNoneMatch"]["name"] == "If-None-Match"
    assert "ETag" in components["headers"]
    not_modified = components["responses"]["NotModified"]
    assert "content" not in not_modified
    assert set(spec.RATE_LIMIT_HEADERS) | {"ETag"} <= set(not_modified["headers"])
    for module in MODULES:
        listed = components["schemas"][f"{spec.schema_name(module)}List"]
        assert listed["properties"]["meta"]["oneOf"] == [
            {"$ref": "#/components/schemas/PageMeta"},
            {"$ref": "#/components/schemas/CursorMeta"},
        ]
        for path in (spec.list_path(module), spec.show_path(module)):
            op = document["paths"][path]["get"]
            assert {"$ref": "#/components/parameters/IfNoneMatch"} in op["parameters"]
            assert op["responses"]["304"] == {"$ref": "#/components/responses/NotModified"}
            assert "ETag" in op["responses"]["200"]["headers"]


def test_show_operations_take_a_positive_integer_id(document):
    """The path id is a required integer from 1 to the largest key the tables hold."""
    for path, op in operations(document):
        if not path.endswith("{id}"):
            continue
        param, if_none_match, request_id = op["parameters"]
        assert if_none_match == {"$ref": "#/components/parameters/IfNoneMatch"}
        assert request_id == {"$ref": "#/components/parameters/RequestId"}
        resolved = document["components"]["parameters"][param["$ref"].rsplit("/", 1)[-1]]
        assert resolved["in"] == "path" and resolved["required"] is True
        assert resolved["schema"]["type"] == "integer"
        assert resolved["schema"]["minimum"] == 1
        assert resolved["schema"]["maximum"] == 2**31 - 1


def test_responses_use_the_spec_envelopes(document):
    """List: data/meta/links; show: data; both reference the module's record schema."""
    schemas = document["components"]["schemas"]
    for module in MODULES:
        record = spec.schema_name(module)
        listed = schemas[f"{record}List"]
        assert listed["required"] == ["data", "meta", "links"]
        assert listed["properties"]["data"]["items"]["$ref"].endswith(f"/{record}")
        shown = schemas[f"{record}Detail"]
        assert shown["required"] == ["data"]
        assert shown["properties"]["data"]["$ref"].endswith(f"/{record}")
    assert set(schemas["PageMeta"]["required"]) == {"page", "per_page", "total", "pages"}
    assert set(schemas["CursorMeta"]["required"]) == {"per_page", "next_cursor"}
    assert set(schemas["PageLinks"]["required"]) == {"self", "next", "prev"}


def test_page_totals_are_documented_as_null_past_the_cap(document):
    """SPEC §6: meta.total and meta.pages may be null; the description names the cap."""
    from app.api.listing import TOTAL_CAP

    meta = document["components"]["schemas"]["PageMeta"]["properties"]
    assert meta["total"]["nullable"] is True and meta["pages"]["nullable"] is True
    assert f"counted up to {TOTAL_CAP:,}" in meta["total"]["description"]
    assert "`links.next`" in meta["total"]["description"]


def test_error_responses_are_reusable_and_use_the_error_schema(document):
    """400/401/403/404/405/429 are components with the API's error shape and codes."""
    responses = document["components"]["responses"]
    by_status = {str(r["x-status"]): r for r in responses.values()}
    assert set(ERROR_STATUSES) <= set(by_status)
    for status in ERROR_STATUSES:
        body = by_status[status]["content"]["application/json"]
        assert body["schema"] == {"$ref": "#/components/schemas/Error"}
        assert body["example"]["error"]["code"] in by_status[status]["x-error-codes"]
    assert {"missing_key", "invalid_key", "key_inactive", "key_expired"} <= set(
        by_status["401"]["x-error-codes"]
    )
    assert "WWW-Authenticate" in by_status["401"]["headers"]
    # RFC 6750 challenges on the 403 (always) and on the 400 (for key trouble).
    headers = document["components"]["headers"]
    scope = headers[by_status["403"]["headers"]["WWW-Authenticate"]["$ref"].rsplit("/", 1)[-1]]
    assert 'error="insufficient_scope"' in scope["description"] and scope["required"] is True
    invalid = headers[by_status["400"]["headers"]["WWW-Authenticate"]["$ref"].rsplit("/", 1)[-1]]
    assert 'error="invalid_request"' in invalid["description"] and invalid["required"] is False
    assert "Retry-After" in by_status["429"]["headers"]
    for path, op in operations(document):
        expected = {"200", "400", "401", "403", "429"} | ({"404"} if path.endswith("{id}") else set())
        assert expected <= set(op["responses"])


def test_rate_limit_headers_are_documented_on_success_and_429(document):
    """X-RateLimit-Limit/Remaining/Reset on every success, plus Retry-After on 429."""
    headers = document["components"]["headers"]
    assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"} <= set(headers)
    for _, op in operations(document):
        assert set(spec.RATE_LIMIT_HEADERS) <= set(op["responses"]["200"]["headers"])


def test_key_expiry_header_and_ip_not_allowed_are_documented(document):
    """Stockgate-Key-Expires-At (optional) on successes and errors; ip_not_allowed under 403."""
    header = document["components"]["headers"]["Stockgate-Key-Expires-At"]
    assert header["required"] is False and header["schema"]["format"] == "date-time"
    for _, op in operations(document):
        assert "Stockgate-Key-Expires-At" in op["responses"]["200"]["headers"]
    responses = {r["x-status"]: r for r in document["components"]["responses"].values()}
    assert "ip_not_allowed" in responses[403]["x-error-codes"]
    assert "ip_not_allowed" in responses[403]["description"]
    for status in (400, 401, 403, 404, 429):
        assert "Stockgate-Key-Expires-At" in responses[status]["headers"]


def test_introspection_is_documented_with_its_schema(document):
    """GET /api/v1/key: the SPEC's fields, required, in a data envelope."""
    op = document["paths"]["/api/v1/key"]["get"]
    assert op["operationId"] == "showKey"
    assert {"200", "401", "403", "429"} <= set(op["responses"])
    schemas = document["components"]["schemas"]
    envelope = schemas["KeyInfoDetail"]
    assert envelope["required"] == ["data"]
    info = schemas[envelope["properties"]["data"]["$ref"].rsplit("/", 1)[-1]]
    assert (
        set(info["properties"])
        == set(info["required"])
        == {
            "prefix",
            "name",
            "owner",
            "abilities",
            "rate_limit",
            "expires_at",
            "status",
            "sunset_at",
            "allowed_ips",
            "scope",
        }
    )
    assert info["properties"]["status"]["enum"] == ["active", "rolling"]
    scope = schemas[info["properties"]["scope"]["$ref"].rsplit("/", 1)[-1]]
    assert (
        set(scope["properties"]) == set(scope["required"]) == {"warehouses", "marketplaces", "hidden_fields"}
    )
    assert info["properties"]["sunset_at"]["nullable"] is True


def test_both_key_headers_are_security_schemes(document):
    """X-API-Key (apiKey in header) and bearer are both accepted, either one."""
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKeyHeader"] == {
        **schemes["ApiKeyHeader"],
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }
    assert schemes["BearerAuth"]["type"] == "http" and schemes["BearerAuth"]["scheme"] == "bearer"
    assert document["security"] == [{"ApiKeyHeader": []}, {"BearerAuth": []}]


def test_no_real_looking_key_anywhere_in_the_document(document):
    """Examples show a placeholder that secret scanners and the key format both reject."""
    text = json.dumps(document)
    assert KEY_PATTERN.search(text) is None
    assert KEY_PATTERN.fullmatch(EXAMPLE_KEY) is None
    assert EXAMPLE_KEY in text


def test_every_example_matches_its_documented_schema(document):
    """Examples are derived from the schemas, so each validates against its own schema."""
    registry = Registry().with_resource(
        "urn:doc", Resource.from_contents(document, default_specification=DRAFT4)
    )
    checked = 0
    media_types = [
        media
        for _, op in operations(document)
        for response in op["responses"].values()
        for media in response.get("content", {}).values()
    ] + [
        media
        for r in document["components"]["responses"].values()
        for media in r.get("content", {}).values()  # the 304 has no body
    ]
    for media in media_types:
        schema = {"$ref": "urn:doc" + media["schema"]["$ref"]}
        OAS30Validator(schema, registry=registry).validate(media["example"])
        checked += 1
    assert checked >= len(ALL_ABILITIES) + 7


def test_servers_never_follow_the_host_the_document_is_served_from(docs_app):
    """Every client gets the same document: servers is relative unless PUBLIC_BASE_URL is set."""
    client = docs_app.test_client()
    first = client.get("/api/openapi.json", base_url="https://stock.example.com")
    second = client.get("/api/openapi.json", base_url="http://10.0.0.5:8080")
    assert first.get_json()["servers"] == [{"url": "/"}]
    assert first.data == second.data
    assert "servers" not in spec.cached_document(docs_app)


def test_yaml_and_json_are_the_same_document(docs_app):
    """/api/openapi.yaml parses to exactly what /api/openapi.json says."""
    client = docs_app.test_client()
    as_json = client.get("/api/openapi.json")
    as_yaml = client.get("/api/openapi.yaml")
    assert as_json.mimetype == "application/json"
    assert as_yaml.mimetype == "application/yaml"
    assert yaml.safe_load(as_yaml.get_data(as_text=True)) == as_json.get_json()


@pytest.mark.parametrize("path", ["/api/openapi.json", "/api/openapi.yaml", "/api/docs"])
def test_documentation_is_public_and_not_under_the_default_limit(tmp_path, path):
    """No key needed, and an app-wide default limit does not apply: only DOCS_RATE_LIMIT does."""
    application = create_app(
        {**base_config(f"sqlite:///{tmp_path / 'x.db'}"), "RATELIMIT_DEFAULT": "2/minute"}
    )
    try:
        with application.app_context():
            limiter.reset()
        client = application.test_client()
        statuses = [client.get(path).status_code for _ in range(5)]
        assert statuses == [200] * 5
    finally:
        # The limiter is module-global and keeps default limits once set: clear them for
        # the apps of later tests.
        limiter.limit_manager.set_default_limits([])
        with application.app_context():
            limiter.reset()


def test_unchanged_document_revalidates_with_304(docs_app):
    """Client generators polling the document get a 304 while it has not changed."""
    client = docs_app.test_client()
    first = client.get("/api/openapi.json")
    assert first.headers["Cache-Control"] == "no-cache" and first.headers["ETag"]
    again = client.get("/api/openapi.json", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    elsewhere = client.get(
        "/api/openapi.json",
        headers={"If-None-Match": first.headers["ETag"]},
        base_url="https://other.example.com",
    )
    assert elsewhere.status_code == 304, "the document is the same whatever the host"


def test_every_response_documents_its_request_id(document):
    """X-Request-Id on every documented response (SPEC §6), and error bodies carry it."""
    responses = document["components"]["responses"]
    for path, op in operations(document):
        for status, response in op["responses"].items():
            if "$ref" in response:
                response = responses[response["$ref"].rsplit("/", 1)[-1]]
            assert "X-Request-Id" in response.get("headers", {}), (path, status)
    body = document["components"]["schemas"]["ErrorBody"]
    assert "request_id" in body["properties"] and "request_id" in body["required"]


def test_fields_a_scope_can_hide_are_marked_with_their_group(document):
    """SPEC §16: ``x-hidden-by-scope`` names the group on exactly the catalogue's hideable fields."""
    schemas = document["components"]["schemas"]
    marked = {
        (name, prop, spec["x-hidden-by-scope"])
        for name, schema in schemas.items()
        for prop, spec in schema.get("properties", {}).items()
        if "x-hidden-by-scope" in spec
    }
    assert ("Product", "cost", "costs") in marked
    assert ("PurchaseOrderLine", "unit_cost", "costs") in marked
    assert ("Customer", "email", "buyer-details") in marked
    assert ("ReturnOrder", "customer_comments", "buyer-details") in marked
    assert ("Supplier", "phone", "contact-details") in marked
    assert ("Employee", "email", "contact-details") in marked
    assert not any(prop == "id" for _, prop, _ in marked)
    assert "x-hidden-by-scope" in document["info"]["description"]
