"""One key's documentation is the public page cut to its operations; the public page is untouched."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flask import Flask

from app.catalogue import ALL_ABILITIES
from app.docs import page, spec
from app.docs.examples import placeholder_key
from app.keys.format import KEY_PATTERN, generate_key_id, parse_key


def _operations(doc: dict[str, Any]) -> set[str]:
    return {f"{e.method} {e.path}" for section in doc["sections"] for e in section.endpoints}


def test_filter_keeps_the_granted_operations_and_the_introspection(docs_app: Flask) -> None:
    document = spec.document_for(docs_app)
    doc = page.build_for_key(document, "sgk_AbCd1234", ["products:show", "warehouses:list"])
    assert _operations(doc) == {"GET /api/v1/products/{id}", "GET /api/v1/warehouses", "GET /api/v1/key"}
    assert [s.name for s in doc["sections"]] == ["Products", "Warehouses", spec.KEY_TAG]
    assert doc["first_list"].path == "/api/v1/warehouses"


def test_filter_never_changes_the_shared_document(docs_app: Flask) -> None:
    document = spec.document_for(docs_app)
    before = copy.deepcopy(document)
    page.build_for_key(document, "sgk_AbCd1234", ["products:list"])
    page.for_abilities(document, [])
    assert document == before
    assert spec.cached_document(docs_app)["paths"].keys() == before["paths"].keys()


def test_a_key_with_every_ability_sees_every_operation(docs_app: Flask) -> None:
    document = spec.document_for(docs_app)
    assert _operations(page.build_for_key(document, "sgk_AbCd1234", ALL_ABILITIES)) == _operations(
        page.build(document)
    )


def test_public_page_examples_still_read_the_key_from_the_environment(docs_app: Flask) -> None:
    doc = page.build(spec.document_for(docs_app))
    assert doc["curl_key"] == page.KEY_VARIABLE
    assert all(page.KEY_VARIABLE in e.curl for s in doc["sections"] for e in s.endpoints)


def test_a_keys_page_shows_its_prefix_but_its_curl_lines_read_the_environment(docs_app: Flask) -> None:
    doc = page.build_for_key(spec.document_for(docs_app), "sgk_AbCd1234", ["products:list"])
    assert doc["example_key"] == placeholder_key("sgk_AbCd1234")
    assert doc["curl_key"] == page.KEY_VARIABLE
    curls = [e.curl for s in doc["sections"] for e in s.endpoints]
    assert curls and all(page.KEY_VARIABLE in c and "sgk_AbCd1234" not in c for c in curls)


@pytest.mark.parametrize("_", range(20))
def test_placeholder_is_never_shaped_like_a_key(_: int) -> None:
    placeholder = placeholder_key(f"sgk_{generate_key_id()}")
    assert KEY_PATTERN.search(placeholder) is None
    assert parse_key(placeholder) is None
