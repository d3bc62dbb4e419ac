"""The one place that builds the OpenAPI document (SPEC §8), from the catalogue and the API's schemas.

Every operation comes from ``app.catalogue.MODULES``: its path, tag, required ability, query
parameters (the API's own list-args schema, so ranges, defaults and the ``sort`` enum are the
ones the API enforces), and its response schema (the module's marshmallow output schema,
wrapped in the SPEC §6 envelopes). Errors use the API's ``ErrorSchema``. Paths are added as
explicit operation dicts rather than through apispec's FlaskPlugin, which needs a request
context and docstring YAML.

The built document is cached per application (``app.extensions``). ``servers`` is the
configured ``PUBLIC_BASE_URL``, or ``/`` (relative to wherever the document was fetched from):
never the request's Host, so the served document is the same for every request.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from marshmallow import Schema, fields, validate

from app.api import introspection
from app.api.errors import (
    ERROR_CODES,
    METHOD_NOT_ALLOWED_MESSAGE,
    REQUEST_ID_HEADER,
    UNAVAILABLE_MESSAGE,
    ErrorSchema,
)
from app.api.guard import EXPIRES_HEADER, MISSING_ABILITY_MESSAGE, NO_KEY_MESSAGE, key_rate_limited
from app.api.listing import TOTAL_CAP
from app.api.params import INVALID_PARAMETERS_MESSAGE, list_args_schema
from app.api.views import MAX_ID, NO_RECORD_MESSAGE
from app.catalogue import MODULES, Module
from app.docs.examples import EXAMPLE_KEY, example_record
from app.validation.errors import flatten_errors

OPENAPI_VERSION = "3.0.3"
API_VERSION = "1.0.0"
API_PREFIX = "/api/v1"
EXTENSION_KEY = "stockgate.openapi"

RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
# Response headers: name -> (description, schema).
HEADERS: dict[str, tuple[str, dict[str, Any]]] = {
    "X-RateLimit-Limit": (
        "Requests this key may make per minute (on a refused key: failed attempts allowed per "
        "minute from this address).",
        {"type": "integer", "minimum": 1, "example": 60},
    ),
    "X-RateLimit-Remaining": (
        "Requests left in the current window.",
        {"type": "integer", "minimum": 0, "example": 59},
    ),
    "X-RateLimit-Reset": (
        "When the window frees up again, as Unix epoch seconds (UTC).",
        {"type": "integer", "minimum": 0, "example": 1795772460},
    ),
    REQUEST_ID_HEADER: (
        "This request's id: yours when you sent a valid `X-Request-Id`, else a new one. Error "
        "bodies repeat it as `error.request_id`, and the server's access log names it: quote it "
        "when you ask for support.",
        {
            "type": "string",
            "pattern": "^[A-Za-z0-9._-]{1,128}$",
            "example": "7f3c2a9e1b4d4e8f9a6b5c4d3e2f1a0b",
        },
    ),
    "Retry-After": (
        "Seconds to wait before retrying (429 and 503 only).",
        {"type": "integer", "minimum": 0, "example": 42},
    ),
    "ETag": (
        "A strong validator of this exact answer (a hash of the body): it changes when any record "
        "in it, the total or the query changes. Send it back in `If-None-Match` to get a 304 when "
        "nothing changed. A gzip-encoded answer's ETag ends in `:gzip`; both validate.",
        {"type": "string", "example": '"5d41402abc4b2a76b9719d911017c592ae0bc5e1"'},
    ),
    "WWW-Authenticate": (
        'The accepted schemes: `Bearer realm="stockgate"` (with `error="invalid_token"` when a key '
        'was sent but refused, RFC 6750) and `ApiKey realm="stockgate", header="X-API-Key"`.',
        {"type": "string"},
    ),
}
# About the calling key, sent only when they apply (an expiry; a roll's grace period), so
# optional wherever they are referenced.
KEY_HEADERS: dict[str, tuple[str, dict[str, Any]]] = {
    EXPIRES_HEADER: (
        "When the calling key expires (ISO 8601, UTC, `Z`): on every response to a key that has "
        "an expiry, once the key is identified, errors included. Renew before it bites.",
        {"type": "string", "format": "date-time", "example": "2027-01-31T00:00:00Z"},
    ),
    "Deprecation": (
        "Only on responses to an old key during its roll's grace period: `@<Unix seconds>` of the "
        "cutover (RFC 9745). Switch to the new key before then.",
        {"type": "string", "example": "@1795772460"},
    ),
    "Sunset": (
        "With `Deprecation`: the cutover as an HTTP-date (RFC 8594); afterwards the old key "
        "answers 401 `key_rolled`.",
        {"type": "string", "example": "Sat, 16 Nov 2026 12:21:00 GMT"},
    ),
}
# RFC 6750 challenges on a 403 and on some 400s: component name -> (description, required).
CHALLENGE_HEADERS: dict[int, tuple[str, str, bool]] = {
    403: (
        "WWW-Authenticate-InsufficientScope",
        '`Bearer realm="stockgate", error="insufficient_scope", scope="<ability>"` (RFC 6750): '
        "the ability this operation needs.",
        True,
    ),
    400: (
        "WWW-Authenticate-InvalidRequest",
        '`Bearer realm="stockgate", error="invalid_request"` (RFC 6750), when two different keys '
        "were sent or a key was sent in the URL.",
        False,
    ),
}

# status -> (component name, title, when it happens). The codes each status carries come
# from the API's own ``ERROR_CODES``, so a new code is documented without touching this file.
ERRORS: dict[int, tuple[str, str, str]] = {
    400: (
        "BadRequest",
        "Bad request",
        "A query parameter is invalid or unknown (`details` names each one and what is wrong), "
        "the key was sent in the query string instead of a header, or two different keys were sent.",
    ),
    401: (
        "Unauthorized",
        "Unauthorized",
        "No key, a malformed or unknown key, a wrong secret, or a key that is inactive, revoked, "
        "expired or rolled (past its cutover; the message names the new key's prefix). Carries a "
        "`WWW-Authenticate` header.",
    ),
    403: (
        "Forbidden",
        "Forbidden",
        "The key is valid but lacks the ability this operation needs (`forbidden`: the message "
        "and `details.required_ability` name it), or the key has allowed IPs and the request came "
        "from another address (`ip_not_allowed`: `details.address` is the address seen).",
    ),
    404: (
        "NotFound",
        "Not found",
        "No record with this id (the message names the module and the id), an id that is not a "
        "positive integer (the message says so), or no such endpoint.",
    ),
    405: (
        "MethodNotAllowed",
        "Method not allowed",
        "The API is read-only: POST, PUT, PATCH and DELETE are refused. Carries an `Allow` header.",
    ),
    429: (
        "TooManyRequests",
        "Too many requests",
        "The key used up its requests per minute, or this address sent too many failed "
        "attempts. Wait `Retry-After` seconds.",
    ),
    503: (
        "ServiceUnavailable",
        "Service unavailable",
        "The database or the rate-limit storage is briefly unavailable, or the server is busy "
        "checking other new keys; nothing was wrong with the request. Retry after `Retry-After` "
        "seconds.",
    ),
}


def error_codes(status: int) -> list[str]:
    """The API's error codes answered with ``status``, in the API's order."""
    return [code for code, (code_status, _) in ERROR_CODES.items() if code_status == status]


class PageMetaSchema(Schema):
    """Pagination facts of a list response."""

    page = fields.Integer(required=True, validate=validate.Range(min=1), metadata={"example": 1})
    per_page = fields.Integer(
        required=True, validate=validate.Range(min=1, max=100), metadata={"example": 25}
    )
    total = fields.Integer(
        required=True,
        allow_none=True,
        validate=validate.Range(min=0),
        metadata={
            "description": f"How many records match the filters, counted up to {TOTAL_CAP:,}: when "
            "more match, `meta.total` and `meta.pages` are null, so a page costs the same however "
            "many records there are. `links.next` still leads to the next page until it is null; "
            "cursor mode never counts.",
            "example": 1,
        },
    )
    pages = fields.Integer(
        required=True,
        allow_none=True,
        validate=validate.Range(min=0),
        metadata={"description": "Number of pages; null when `total` is.", "example": 1},
    )


class CursorMetaSchema(Schema):
    """Cursor-mode facts of a list response: no totals, only where to continue."""

    per_page = fields.Integer(
        required=True, validate=validate.Range(min=1, max=100), metadata={"example": 25}
    )
    next_cursor = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "Send it as `cursor` (with the same `sort`) for the next page; null on "
            "the last page.",
            "example": None,
        },
    )


class PageLinksSchema(Schema):
    """Links to this page and its neighbours; ``next``/``prev`` are null at the ends."""

    self = fields.String(
        required=True,
        metadata={
            "description": "This page: a path with its query, or an absolute URL when the server "
            "has a public base URL configured."
        },
    )
    next = fields.String(required=True, allow_none=True, metadata={"description": "Next page, or null."})
    prev = fields.String(required=True, allow_none=True, metadata={"description": "Previous page, or null."})


def list_path(module: Module) -> str:
    """The OpenAPI path of a module's list operation, e.g. ``/api/v1/products``."""
    return f"{API_PREFIX}/{module.slug}"


def show_path(module: Module) -> str:
    """The OpenAPI path of a module's show operation, e.g. ``/api/v1/products/{id}``."""
    return f"{API_PREFIX}/{module.slug}/{{id}}"


def schema_name(module: Module) -> str:
    """The component name of a module's record schema, e.g. ``Product``."""
    schema = module.schema if isinstance(module.schema, type) else type(module.schema)
    return schema.__name__.removesuffix("Schema")


def operation_id(module: Module, action: str) -> str:
    """A stable operationId for client generators: ``listPurchaseOrders``, ``showPurchaseOrder``."""
    if action == "show":
        return f"show{schema_name(module)}"
    return "list" + "".join(part.capitalize() for part in module.slug.split("-"))


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _rate_limit_headers() -> dict[str, Any]:
    return {name: _ref("headers", name) for name in RATE_LIMIT_HEADERS}


def _success_headers() -> dict[str, Any]:
    """Headers of every successful answer: its request id, the key's bucket, and what applies
    to the key."""
    return {
        REQUEST_ID_HEADER: _ref("headers", REQUEST_ID_HEADER),
        **_rate_limit_headers(),
        **{name: _ref("headers", name) for name in KEY_HEADERS},
    }


def _cacheable_headers() -> dict[str, Any]:
    """Headers of a list or show answer: the success headers and its ``ETag``."""
    return {**_success_headers(), "ETag": _ref("headers", "ETag")}


def _add_components(spec: APISpec) -> None:
    """Security schemes, headers, shared schemas and the reusable error responses."""
    spec.components.security_scheme(
        "ApiKeyHeader",
        {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": f"The full key, e.g. `X-API-Key: {EXAMPLE_KEY}`.",
        },
    )
    spec.components.security_scheme(
        "BearerAuth",
        {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "sgk_ key",
            "description": f"The same key as a bearer token: `Authorization: Bearer {EXAMPLE_KEY}`.",
        },
    )
    for name, (description, schema) in HEADERS.items():
        # Required: the API sends each header on every response that references it.
        spec.components.header(name, {"description": description, "required": True, "schema": schema})
    for name, (description, schema) in KEY_HEADERS.items():
        spec.components.header(name, {"description": description, "required": False, "schema": schema})
    for name, description, required in CHALLENGE_HEADERS.values():
        spec.components.header(
            name, {"description": description, "required": required, "schema": {"type": "string"}}
        )
    spec.components.schema("Error", schema=ErrorSchema)
    spec.components.schema("PageMeta", schema=PageMetaSchema)
    spec.components.schema("CursorMeta", schema=CursorMetaSchema)
    spec.components.schema("PageLinks", schema=PageLinksSchema)
    examples = _error_examples()
    for status, (name, title, explanation) in ERRORS.items():
        codes = error_codes(status)
        headers: dict[str, Any] = {REQUEST_ID_HEADER: _ref("headers", REQUEST_ID_HEADER)}
        if status == 401:
            headers["WWW-Authenticate"] = _ref("headers", "WWW-Authenticate")
        if status in CHALLENGE_HEADERS:
            headers["WWW-Authenticate"] = _ref("headers", CHALLENGE_HEADERS[status][0])
        if status == 429:
            headers.update(_rate_limit_headers())
        if status in (429, 503):
            headers["Retry-After"] = _ref("headers", "Retry-After")
        if status != 405:  # a 405 is answered by the router, before any key is read
            headers.update({name: _ref("headers", name) for name in KEY_HEADERS})
        response: dict[str, Any] = {
            "description": f"{title}. {explanation} Error codes: {', '.join(f'`{c}`' for c in codes)}.",
            "content": {
                "application/json": {
                    "schema": "Error",
                    "example": examples[codes[0]],
                }
            },
            "x-error-codes": list(codes),
            "x-status": status,
        }
        if headers:
            response["headers"] = headers
        spec.components.response(name, response)
    spec.components.parameter(
        "IfNoneMatch",
        "header",
        {
            "name": "If-None-Match",
            "description": "The `ETag` of an answer you kept: if the answer would be the same, "
            "you get a 304 with no body (it still counts against the rate limit).",
            "schema": {"type": "string", "example": '"5d41402abc4b2a76b9719d911017c592ae0bc5e1"'},
        },
    )
    spec.components.response(
        "NotModified",
        {
            "description": "Not modified: the `If-None-Match` ETag is still the answer's. No body; "
            "keep using the copy you have. Counts against the rate limit like any request.",
            "headers": {**_success_headers(), "ETag": _ref("headers", "ETag")},
            "x-status": 304,
        },
    )
    spec.components.parameter(
        "RequestId",
        "header",
        {
            "name": REQUEST_ID_HEADER,
            "description": "Your own id for this request (1-128 characters of `A-Z a-z 0-9 . _ -`), "
            "echoed in the `X-Request-Id` response header and in error bodies; any other value is "
            "replaced by a new id.",
            "schema": {"type": "string", "example": "sync-2026-01-31-0001"},
        },
    )
    spec.components.parameter(
        "RecordId",
        "path",
        {
            "name": "id",
            "description": "The record's id (a positive integer).",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID, "example": 42},
        },
    )


EXAMPLE_REQUEST_ID = "7f3c2a9e1b4d4e8f9a6b5c4d3e2f1a0b"


def _error_examples() -> dict[str, dict[str, Any]]:
    """code -> the example body of the status it is the first code of, made from the API's own
    messages (``tests/docs/test_error_examples.py`` asks the API for each and compares)."""
    products = next(module for module in MODULES if module.slug == "products")
    too_small = list_args_schema(products).validate({"per_page": "0"})
    rate_limited = key_rate_limited(60, 42)  # the Retry-After header's example
    examples: dict[str, tuple[str, Any]] = {
        "bad_request": (INVALID_PARAMETERS_MESSAGE, flatten_errors(too_small)),
        "missing_key": (NO_KEY_MESSAGE, None),
        "forbidden": (
            MISSING_ABILITY_MESSAGE.format(ability=products.ability("show")),
            {"required_ability": products.ability("show")},
        ),
        "not_found": (NO_RECORD_MESSAGE.format(id=42, module=products.name), {"id": 42}),
        # Flask routes OPTIONS on every rule, so the router lists it.
        "method_not_allowed": (
            METHOD_NOT_ALLOWED_MESSAGE.format(method="POST", allowed="GET, HEAD, OPTIONS"),
            None,
        ),
        "rate_limited": (rate_limited.message, rate_limited.details),
        "service_unavailable": (UNAVAILABLE_MESSAGE.format(which="database"), None),
    }
    return {
        code: {
            "error": {"code": code, "message": message, "details": details, "request_id": EXAMPLE_REQUEST_ID}
        }
        for code, (message, details) in examples.items()
    }


def _sort_enum(module: Module) -> list[str]:
    return [value for name in module.sortable for value in (name, f"-{name}")]


def _list_description(module: Module) -> str:
    searchable = ", ".join(f"`{name}`" for name in module.searchable) or "no fields"
    sortable = ", ".join(f"`{name}`" for name in module.sortable) or "`id`"
    return (
        f"Requires the `{module.ability('list')}` ability.\n\n"
        f"Returns one page of {module.name.lower()}, {module.default_sort.lstrip('-')} "
        f"{'descending' if module.default_sort.startswith('-') else 'ascending'} unless `sort` says "
        f"otherwise. `q` searches {searchable}; `sort` accepts {sortable} (prefix `-` for descending); "
        f"`updated_since` returns only records changed at or after that instant.\n\n"
        "**Cursor mode** (for syncing): send `cursor` empty for the first page, then each "
        "page's `meta.next_cursor` (also in `links.next`) until it is null. `meta` is then "
        "`{per_page, next_cursor}`, with no totals. No record is skipped or repeated because "
        "others changed between pages; a cursor is bound to its list and `sort`.\n\n"
        "Answers carry an `ETag`; send it in `If-None-Match` for a 304 when nothing changed. "
        "With `Accept-Encoding: gzip`, answers over 1 KB are gzip-encoded."
    )


def _error_refs(*statuses: int) -> dict[str, Any]:
    return {str(status): _ref("responses", ERRORS[status][0]) for status in statuses}


def _list_operation(module: Module, record: dict[str, Any]) -> dict[str, Any]:
    name = schema_name(module)
    example = {
        "data": [record],
        "meta": {"page": 1, "per_page": 25, "total": 1, "pages": 1},
        "links": {"self": f"{list_path(module)}?page=1", "next": None, "prev": None},
    }
    return {
        "operationId": operation_id(module, "list"),
        "tags": [module.name],
        "summary": f"List {module.name}",
        "description": _list_description(module),
        "x-required-ability": module.ability("list"),
        "parameters": [{"in": "query", "schema": list_args_schema(module)}, "IfNoneMatch", "RequestId"],
        "responses": {
            "200": {
                "description": f"A page of {module.name.lower()}.",
                "headers": _cacheable_headers(),
                "content": {"application/json": {"schema": f"{name}List", "example": example}},
            },
            "304": _ref("responses", "NotModified"),
            **_error_refs(400, 401, 403, 429, 503),
        },
    }


def _show_operation(module: Module, record: dict[str, Any]) -> dict[str, Any]:
    name = schema_name(module)
    return {
        "operationId": operation_id(module, "show"),
        "tags": [module.name],
        "summary": f"Show one {name_of_one(module)}",
        "description": (
            f"Requires the `{module.ability('show')}` ability.\n\n"
            f"Returns the {name_of_one(module)} with this id, or 404 `not_found` (also for an id "
            "that is not a positive integer, such as `abc` or `0`). The answer carries an "
            "`ETag`; send it in `If-None-Match` for a 304 when the record did not change."
        ),
        "x-required-ability": module.ability("show"),
        "parameters": ["RecordId", "IfNoneMatch", "RequestId"],
        "responses": {
            "200": {
                "description": f"The {name_of_one(module)}.",
                "headers": _cacheable_headers(),
                "content": {"application/json": {"schema": f"{name}Detail", "example": {"data": record}}},
            },
            "304": _ref("responses", "NotModified"),
            **_error_refs(400, 401, 403, 404, 429, 503),
        },
    }


def name_of_one(module: Module) -> str:
    """How one record of the module reads in prose, from its schema: ``inventory level``."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", schema_name(module)).lower()


def _add_module(spec: APISpec, module: Module) -> None:
    """Register a module's record schema, its two envelopes, its tag and its two paths."""
    name = schema_name(module)
    spec.components.schema(name, schema=module.schema)
    spec.components.schema(
        f"{name}List",
        {
            "type": "object",
            "description": f"A page of {module.name.lower()} (list envelope).",
            "required": ["data", "meta", "links"],
            "properties": {
                "data": {
                    "type": "array",
                    "description": "The records on this page (empty past the last page).",
                    "items": _ref("schemas", name),
                },
                "meta": {
                    "description": f"Page mode: `PageMeta` (with totals, counted up to {TOTAL_CAP:,}). "
                    "Cursor mode (`cursor` sent): `CursorMeta`.",
                    "oneOf": [_ref("schemas", "PageMeta"), _ref("schemas", "CursorMeta")],
                },
                "links": _ref("schemas", "PageLinks"),
            },
        },
    )
    spec.components.schema(
        f"{name}Detail",
        {
            "type": "object",
            "description": f"One {name_of_one(module)} (show envelope).",
            "required": ["data"],
            "properties": {"data": _ref("schemas", name)},
        },
    )
    spec.tag(
        {
            "name": module.name,
            "description": f"Abilities `{module.ability('list')}` and `{module.ability('show')}`.",
            "x-slug": module.slug,
        }
    )
    record = example_record(module.schema)
    spec.path(path=list_path(module), operations={"get": _list_operation(module, record)})
    spec.path(path=show_path(module), operations={"get": _show_operation(module, record)})


KEY_TAG = "Your key"
KEY_PATH = f"{API_PREFIX}{introspection.PATH}"
KEY_OPERATION_ID = "showKey"
KEY_EXAMPLE = {
    "data": {
        "prefix": "sgk_AbCdEf12",
        "name": "Nightly stock sync",
        "owner": {"name": "Amazon SP-API sync"},
        "abilities": ["inventory:list", "products:list", "products:show"],
        "rate_limit": {"limit": 60, "remaining": 59, "reset": 1795772460},
        "expires_at": "2027-01-31T00:00:00Z",
        "status": "active",
        "sunset_at": None,
        "allowed_ips": ["203.0.113.0/24"],
        "scope": {"warehouses": ["TOR1"], "marketplaces": ["Amazon.ca"], "hidden_fields": ["costs"]},
    }
}


def _add_introspection(spec: APISpec) -> None:
    """``GET /api/v1/key``: any valid key, no ability (``x-required-ability`` is null)."""
    spec.components.schema("KeyInfo", schema=introspection.KeyInfoSchema)
    spec.components.schema("KeyInfoDetail", schema=introspection.KeyInfoEnvelopeSchema)
    spec.tag(
        {
            "name": KEY_TAG,
            "description": "What the calling key is and may do. Any valid key may ask; no ability needed.",
            "x-slug": "key",
        }
    )
    operation = {
        "operationId": KEY_OPERATION_ID,
        "tags": [KEY_TAG],
        "parameters": ["RequestId"],
        "summary": "Describe the calling key",
        "description": (
            "No ability needed: any valid key may call it, and it counts against the key's rate "
            "limit like any request.\n\n"
            "Returns the key's prefix, name, owner, abilities, rate limit (with where its bucket "
            "stands after this request), expiry, status (`active`, or `rolling` with its cutover "
            "in `sunset_at` after the key was replaced by a roll) and allowed IPs. Never the secret."
        ),
        "x-required-ability": None,
        "responses": {
            "200": {
                "description": "The calling key.",
                "headers": _success_headers(),
                "content": {"application/json": {"schema": "KeyInfoDetail", "example": KEY_EXAMPLE}},
            },
            **_error_refs(400, 401, 403, 429, 503),
        },
    }
    spec.path(path=KEY_PATH, operations={"get": operation})


# One paragraph, no hard wraps: renderers and YAML keep it as written.
DESCRIPTION = (
    "Read-only JSON API over the Stockgate back office: fifteen modules, each with a list and a "
    "show operation. Every request needs an API key (create one in the panel under Settings → API "
    "Keys, or with `flask keys create`), sent as `X-API-Key: <key>` or `Authorization: Bearer <key>`. "
    "Each operation needs one ability (`x-required-ability`; none for `GET /api/v1/key`, which "
    "describes the calling key), and each key has its own rate limit in requests per minute. "
    "Timestamps are UTC ISO 8601 with `Z`; money is a decimal string with a "
    "currency. Lists page by number or, for syncing, by cursor (`cursor`, `next_cursor`); list "
    "and show answers carry an `ETag` for `If-None-Match` (304), and JSON over 1 KB is "
    "gzip-encoded for clients that send `Accept-Encoding: gzip`. A key may also carry a data "
    "scope (`scope` in `GET /api/v1/key`): limited to warehouses or Amazon marketplaces, it sees "
    "only their records (lists, totals, cursors; any other record is a 404 as if missing), and "
    "the field groups it hides (properties marked `x-hidden-by-scope`) are absent from every "
    "record, cannot be sorted by, and are not searched by `q`."
)


def build_spec() -> APISpec:
    """Build the APISpec from the catalogue; no request or database needed."""
    spec = APISpec(
        title="Stockgate API",
        version=API_VERSION,
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()],
        info={"description": DESCRIPTION},
        security=[{"ApiKeyHeader": []}, {"BearerAuth": []}],
    )
    _add_components(spec)
    for module in MODULES:
        _add_module(spec, module)
    _add_introspection(spec)
    return spec


def _finish(document: dict[str, Any]) -> dict[str, Any]:
    """Tidy what apispec derives from the list-args schema for query parameters.

    ``load_default=None`` becomes ``default: null, nullable: true``, which means nothing in a
    query string (a parameter is either sent or not), so both go; and ``sort`` always gets
    its enum, even if the API's schema should one day stop declaring it.
    """
    by_path = {list_path(m): m for m in MODULES}
    for path, item in document["paths"].items():
        module = by_path.get(path)
        if module is None:
            continue
        for parameter in item["get"].get("parameters", []):
            schema = parameter.get("schema", {})
            if schema.get("default", "") is None:
                del schema["default"]
                schema.pop("nullable", None)
            if parameter.get("name") == "sort" and "enum" not in schema:
                schema["enum"] = _sort_enum(module)
    _mark_hideable(document["components"]["schemas"])
    return document


# SPEC §16: the extension that names the field group a key's scope may hide a property by.
HIDDEN_BY_SCOPE = "x-hidden-by-scope"


def _mark_hideable(schemas: dict[str, Any]) -> None:
    """Mark each property a scope can hide with ``x-hidden-by-scope: <group>`` (the catalogue's
    ``field_groups``; ``lines.unit_cost`` on the line schema the ``lines`` items refer to)."""
    for module in MODULES:
        for group, names in module.field_groups:
            for name in names:
                schema = schemas[schema_name(module)]
                if "." in name:
                    outer, name = name.split(".", 1)
                    schema = schemas[schema["properties"][outer]["items"]["$ref"].rsplit("/", 1)[-1]]
                schema["properties"][name][HIDDEN_BY_SCOPE] = group


def cached_document(app: Flask) -> dict[str, Any]:
    """The document for ``app``, built once and kept in ``app.extensions`` (without servers)."""
    document = app.extensions.get(EXTENSION_KEY)
    if document is None:
        document = _finish(build_spec().to_dict())
        app.extensions[EXTENSION_KEY] = document
    return document


# Top-level keys in the order people read them; anything else follows.
KEY_ORDER = ("openapi", "info", "servers", "security", "tags", "paths", "components")


def document_for(app: Flask, server_url: str | None = None) -> dict[str, Any]:
    """The document with ``servers`` at ``server_url``, else ``PUBLIC_BASE_URL``, else ``/``."""
    server_url = server_url or app.config.get("PUBLIC_BASE_URL") or "/"
    cached = {**cached_document(app), "servers": [{"url": server_url.rstrip("/") or "/"}]}
    document = {key: cached[key] for key in KEY_ORDER if key in cached}
    document.update({key: value for key, value in cached.items() if key not in document})
    return document


def to_json(document: dict[str, Any]) -> str:
    """Serialise the document as indented JSON."""
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def to_yaml(document: dict[str, Any]) -> str:
    """Serialise the document as YAML (libyaml's C dumper when present: ~10x faster)."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(document, Dumper=dumper, sort_keys=False, allow_unicode=True)
