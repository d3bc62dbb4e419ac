"""The document and the running app agree: same routes, same abilities, enforced as documented."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import Rule

from app.catalogue import ALL_ABILITIES, ENDPOINT_ABILITIES, KEY_ONLY_ENDPOINTS
from tests.docs.docs_helpers import OPERATION_COUNT


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Room for two new keys per operation from one address: every bcrypt check counts against
    the address's budget (``API_AUTH_FAILURE_LIMIT``, counted before bcrypt runs)."""
    return {**app_config, "API_AUTH_FAILURE_LIMIT": "1000/minute"}


_FLASK_ARG = re.compile(r"<(?:([a-z]+)(?:\([^)]*\))?:)?[^<>:]+>")
_OPENAPI_ARG = re.compile(r"\{[^{}]+\}")


def flask_shape(rule: Rule) -> str:
    """``/api/v1/products/<int:record_id>`` -> ``/api/v1/products/{int}``."""
    return _FLASK_ARG.sub(lambda m: "{" + (m.group(1) or "string") + "}", rule.rule)


def openapi_shape(document: dict[str, Any], path: str, op: dict[str, Any]) -> str:
    """``/api/v1/products/{id}`` with an integer id -> ``/api/v1/products/{int}``."""
    types = {}
    for raw in op.get("parameters", []):
        param = document["components"]["parameters"][raw["$ref"].rsplit("/", 1)[-1]] if "$ref" in raw else raw
        if param["in"] == "path":
            types[param["name"]] = {"integer": "int", "string": "string"}[param["schema"]["type"]]
    return _OPENAPI_ARG.sub(lambda m: "{" + types[m.group(0)[1:-1]] + "}", path)


def api_rules(app: Flask) -> dict[str, Rule]:
    """The API's rules by shape, without the ``{string}`` twin of each show rule (``app.api.views``):
    it only answers what ids are, so it is no path of its own."""
    rules = {flask_shape(rule): rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1")}
    return {shape: rule for shape, rule in rules.items() if not _is_show_twin(rules, shape)}


def _is_show_twin(rules: dict[str, Rule], shape: str) -> bool:
    twin = shape.removesuffix("{string}") + "{int}"
    return shape.endswith("{string}") and twin in rules and rules[twin].endpoint == rules[shape].endpoint


def test_each_show_rule_has_one_string_twin_with_the_same_endpoint(docs_app):
    """The twin answers ids such as ``abc`` and ``-1`` through the same view (and guard)."""
    rules = [rule for rule in docs_app.url_map.iter_rules() if rule.rule.startswith("/api/v1")]
    shapes = {flask_shape(rule): rule for rule in rules}
    twins = [shape for shape in shapes if _is_show_twin(shapes, shape)]
    assert len(twins) == 15
    assert len(rules) == 31 + 15


def documented(document: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        openapi_shape(document, path, item["get"]): (path, item["get"])
        for path, item in document["paths"].items()
    }


def test_every_api_route_is_documented_and_every_documented_path_exists(docs_app, document):
    """Same set of paths (with typed path parameters) on both sides; GET on every one."""
    rules = api_rules(docs_app)
    docs = documented(document)
    assert len(rules) == OPERATION_COUNT
    assert set(rules) == set(docs)
    for shape, rule in rules.items():
        assert rule.methods is not None and "GET" in rule.methods
        assert set(docs[shape][1]) >= {"x-required-ability", "responses"}
        assert rule.methods - {"GET", "HEAD", "OPTIONS"} == set(), "write methods would need documenting"


def test_documented_ability_is_the_one_the_guard_enforces(docs_app, document):
    """x-required-ability of each operation equals the API's endpoint -> ability registry."""
    rules = api_rules(docs_app)
    for shape, (path, op) in documented(document).items():
        endpoint = rules[shape].endpoint
        if endpoint in KEY_ONLY_ENDPOINTS:
            assert op["x-required-ability"] is None, path
            continue
        assert ENDPOINT_ABILITIES[endpoint] == op["x-required-ability"], path
    assert sorted(ENDPOINT_ABILITIES.values()) == sorted(ALL_ABILITIES)


def test_guard_refuses_each_operation_without_its_documented_ability(app, client, make_key):
    """Behaviour, not just the registry: lacking exactly the documented ability is a 403 naming it;
    holding only it is enough to pass the guard."""
    document = client.get("/api/openapi.json").get_json()
    for path, item in document["paths"].items():
        ability = item["get"]["x-required-ability"]
        if ability is None:
            # Introspection needs no ability: a key with a single unrelated one may call it.
            only = make_key(name="one ability", abilities=["brands:show"])
            assert client.get(path, headers={"X-API-Key": only.raw_key}).status_code == 200
            continue
        url = path.replace("{id}", "1")
        others = make_key(name=f"all but {ability}", abilities=[a for a in ALL_ABILITIES if a != ability])
        only = make_key(name=f"only {ability}", abilities=[ability])
        refused = client.get(url, headers={"X-API-Key": others.raw_key})
        assert refused.status_code == 403, path
        assert refused.get_json()["error"]["details"]["required_ability"] == ability
        allowed = client.get(url, headers={"Authorization": f"Bearer {only.raw_key}"})
        assert allowed.status_code in (200, 404), (path, allowed.get_json())


def test_rate_limited_answer_matches_the_documented_429(app, make_key):
    """A key over its limit gets exactly the documented 429: error body, Retry-After, X-RateLimit-*."""
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    conformance = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operation = schema["/api/v1/brands"]["GET"]
    key = make_key(name="Tight", abilities=["brands:list"], rate_limit=1)
    headers = {"X-API-Key": key.raw_key}
    first = operation.Case().call(headers=headers)
    assert first.status_code == 200
    operation.Case().validate_response(first, checks=conformance)
    second = operation.Case().call(headers=headers)
    assert second.status_code == 429
    assert second.json()["error"]["code"] == "rate_limited"
    sent = {name.lower(): values for name, values in second.headers.items()}
    assert int(sent["retry-after"][0]) > 0
    operation.Case().validate_response(second, checks=conformance)


@pytest.mark.both_databases
def test_cursor_mode_and_the_304_match_the_document(app, make_key):
    """A cursor-mode page, its last page and a 304 each conform to the documented responses."""
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    from app.extensions import db
    from app.models.products import Brand

    conformance = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    with app.app_context():
        db.session.add_all([Brand(name=f"Brand {n}", country="DE") for n in range(3)])
        db.session.commit()
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operation = schema["/api/v1/brands"]["GET"]
    headers = {"X-API-Key": make_key(abilities=["brands:list"]).raw_key}
    first = operation.Case(query={"per_page": 2, "cursor": ""}).call(headers=headers)
    assert first.status_code == 200 and first.json()["meta"]["next_cursor"]
    operation.Case().validate_response(first, checks=conformance)
    last = operation.Case(query={"per_page": 2, "cursor": first.json()["meta"]["next_cursor"]}).call(
        headers=headers
    )
    assert last.status_code == 200 and last.json()["meta"]["next_cursor"] is None
    operation.Case().validate_response(last, checks=conformance)
    etag = {name.lower(): values for name, values in first.headers.items()}["etag"][0]
    revalidating = {**headers, "If-None-Match": etag}
    again = operation.Case(query={"per_page": 2, "cursor": ""}).call(headers=revalidating)
    assert again.status_code == 304
    operation.Case().validate_response(again, checks=conformance)
