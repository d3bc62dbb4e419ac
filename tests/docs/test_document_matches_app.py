"""The document and the running app agree: same routes, same abilities, enforced as documented."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from werkzeug.routing import Rule

from app.api.views import ENDPOINT_ABILITIES
from app.catalogue import ALL_ABILITIES

_FLASK_ARG = re.compile(r"<(?:([a-z]+):)?[^<>]+>")
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
    return {flask_shape(rule): rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1")}


def documented(document: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        openapi_shape(document, path, item["get"]): (path, item["get"])
        for path, item in document["paths"].items()
    }


def test_every_api_route_is_documented_and_every_documented_path_exists(docs_app, document):
    """Same set of paths (with typed path parameters) on both sides; GET on every one."""
    rules = api_rules(docs_app)
    docs = documented(document)
    assert len(rules) == 30
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
        assert ENDPOINT_ABILITIES[endpoint] == op["x-required-ability"], path
    assert sorted(ENDPOINT_ABILITIES.values()) == sorted(ALL_ABILITIES)


def test_guard_refuses_each_operation_without_its_documented_ability(app, client, make_key):
    """Behaviour, not just the registry: lacking exactly the documented ability is a 403 naming it;
    holding only it is enough to pass the guard."""
    document = client.get("/api/openapi.json").get_json()
    for path, item in document["paths"].items():
        ability = item["get"]["x-required-ability"]
        url = path.replace("{id}", "1")
        others = make_key(name=f"all but {ability}", abilities=[a for a in ALL_ABILITIES if a != ability])
        only = make_key(name=f"only {ability}", abilities=[ability])
        refused = client.get(url, headers={"X-API-Key": others.raw_key})
        assert refused.status_code == 403, path
        assert refused.get_json()["error"]["details"]["required_ability"] == ability
        allowed = client.get(url, headers={"Authorization": f"Bearer {only.raw_key}"})
        assert allowed.status_code in (200, 404), (path, allowed.get_json())
