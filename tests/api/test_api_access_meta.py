"""Deny by default: every route is an API route with a declared ability, a panel route behind
sign-in, or on the explicit public list below. A new route that is none of these fails here."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, url_for

from app.catalogue import ABILITY_SET, ENDPOINT_ABILITIES, KEY_ONLY_ENDPOINTS
from tests.api.api_helpers import assert_error

# Reachable without a key or a session, on purpose.
PUBLIC_ENDPOINTS = frozenset({"static", "health.healthz", "health.readyz", "auth.login", "auth.index"})
PUBLIC_PREFIXES = ("docs.",)
# Blueprints of the admin panel: every route must demand a signed-in admin.
PANEL_PREFIXES = ("panel.", "auth.", "audit_log.", "users.")


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Room for one refused request per route: past the address's budget every failure is a 429."""
    return {**app_config, "API_AUTH_FAILURE_LIMIT": "1000/minute"}


def _is_public(endpoint: str) -> bool:
    return endpoint in PUBLIC_ENDPOINTS or endpoint.startswith(PUBLIC_PREFIXES)


def _sample_url(app: Flask, rule: Any) -> str:
    values = {name: 1 if name.endswith("id") else "x" for name in rule.arguments}
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def test_every_route_is_an_api_route_with_an_ability_a_signed_in_panel_route_or_public(
    app: Flask, call: Any
) -> None:
    unclassified = []
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint
        if _is_public(endpoint):
            continue
        if endpoint.startswith("api."):
            ability = ENDPOINT_ABILITIES.get(endpoint)
            # Key-only endpoints (introspection) need a valid key and no ability, on purpose.
            assert ability in ABILITY_SET or endpoint in KEY_ONLY_ENDPOINTS, (
                f"{endpoint} declares no known ability"
            )
            assert rule.rule.startswith("/api/v1/"), rule.rule
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, f"{endpoint} accepts writes"
            # Without a key the guard refuses it.
            assert_error(call(_sample_url(app, rule)), 401, "missing_key")
            continue
        if endpoint.startswith(PANEL_PREFIXES):
            method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
            response = call(_sample_url(app, rule), method=method)
            signed_out = response.status_code in (401, 403) or (
                response.status_code in (302, 303) and "login" in response.headers.get("Location", "")
            )
            # A CSRF refusal (400) on a write also keeps a signed-out visitor out.
            assert signed_out or (method != "GET" and response.status_code == 400), (
                f"{endpoint} ({rule.rule}) answered {response.status_code} without sign-in"
            )
            continue
        unclassified.append(f"{endpoint} {rule.rule}")
    assert unclassified == [], "routes neither API, panel nor public: " + ", ".join(unclassified)


def test_every_declared_ability_has_a_route(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert set(ENDPOINT_ABILITIES) <= endpoints
    assert set(ENDPOINT_ABILITIES.values()) == ABILITY_SET
    assert endpoints >= KEY_ONLY_ENDPOINTS
