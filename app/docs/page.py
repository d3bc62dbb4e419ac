"""Turn the OpenAPI document into what the docs templates show.

The page reads only the document (never the catalogue or the schemas directly), so what a
developer reads is exactly what ``/api/openapi.json`` promises.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape

from app.docs.examples import EXAMPLE_KEY, placeholder_key
from app.docs.spec import HIDDEN_BY_SCOPE, KEY_HEADERS

# Curl lines start with this shell variable when the document names no absolute server: the
# page is the same for every request, so it cannot know the host the reader used.
SERVER_VARIABLE = "$STOCKGATE_URL"
# The key in the public page's curl lines: an environment variable, never a key on the page.
KEY_VARIABLE = "$STOCKGATE_API_KEY"

# A code span, kept whole: nothing inside it is read as markup.
_CODE_SPAN = re.compile(r"(`[^`]+`)")
_BOLD = re.compile(r"\*\*(\S(?:[^*]*\S)?)\*\*")


def prose(text: str | None) -> Markup:
    """Render a description, the CommonMark the document uses: paragraphs on blank lines,
    `backticks` as <code>, **double asterisks** as <strong>; all else escaped."""
    if not text:
        return Markup("")
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    html = []
    for paragraph in paragraphs:
        parts = _CODE_SPAN.split(" ".join(paragraph.split()))
        html.append("<p>" + "".join(_inline(part) for part in parts) + "</p>")
    # Safe: every piece of text was escaped by _inline; only our own tags are added.
    return Markup("".join(html))  # noqa: S704


def _inline(part: str) -> str:
    """One piece of a paragraph as HTML: a code span, or text in which ``**bold**`` is marked."""
    if part.startswith("`") and part.endswith("`") and len(part) > 2:
        return f"<code>{escape(part[1:-1])}</code>"
    return _BOLD.sub(r"<strong>\1</strong>", str(escape(part)))


@dataclass
class Parameter:
    """One documented parameter, flattened for a table row."""

    name: str
    location: str
    type: str
    required: bool
    description: str
    constraints: list[str]
    choices: list[str]
    default: Any = None


@dataclass
class Field:
    """One response field; nested objects and lists become dotted names (``lines[].sku``)."""

    name: str
    type: str
    nullable: bool
    description: str
    # The values the document allows (its ``enum``), see ``_choices``.
    choices: list[str] = field(default_factory=list)
    # The field group a key's data scope may hide it by (``x-hidden-by-scope``), in words.
    hidden_by: str = ""


@dataclass
class Endpoint:
    """One operation as the page shows it."""

    anchor: str
    method: str
    path: str
    summary: str
    description: str
    ability: str
    parameters: list[Parameter]
    fields: list[Field]
    responses: list[tuple[str, str]]
    curl: str
    example: str


@dataclass
class Section:
    """One module: its tag and its endpoints."""

    name: str
    slug: str
    description: str
    endpoints: list[Endpoint] = field(default_factory=list)


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (``#/components/...``) to its target."""
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _type_of(document: dict[str, Any], schema: dict[str, Any]) -> str:
    """A short human type: ``integer``, ``string (date-time)``, ``Product``, ``array of Line``."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "oneOf" in schema:
        return " or ".join(_type_of(document, choice) for choice in schema["oneOf"])
    if "enum" in schema and "type" not in schema:
        return "one of " + ", ".join(str(value) for value in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type_of(document, schema.get('items', {}))}"
    if "format" in schema:
        return f"{kind} ({schema['format']})"
    return str(kind)


def _constraints(schema: dict[str, Any]) -> list[str]:
    """Ranges and lengths as short phrases (allowed values are listed separately)."""
    notes = []
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        notes.append(f"{low:,} to {high:,}")
    elif low is not None:
        notes.append(f"at least {low:,}")
    elif high is not None:
        notes.append(f"at most {high:,}")
    if "maxLength" in schema:
        notes.append(f"up to {schema['maxLength']:,} characters")
    if schema.get("format") == "date-time":
        notes.append("ISO 8601, e.g. 2026-11-01T00:00:00Z")
    return notes


def _parameters(document: dict[str, Any], operation: dict[str, Any]) -> list[Parameter]:
    rows = []
    for raw in operation.get("parameters", []):
        parameter = _resolve(document, raw)
        schema = parameter.get("schema", {})
        rows.append(
            Parameter(
                name=parameter["name"],
                location=parameter["in"],
                type=_type_of(document, schema),
                required=bool(parameter.get("required")),
                description=parameter.get("description", schema.get("description", "")),
                constraints=_constraints(schema),
                choices=[str(value) for value in schema.get("enum", [])],
                default=schema.get("default"),
            )
        )
    return rows


def _choices(schema: dict[str, Any]) -> list[str]:
    """The allowed values of a field, without null (``nullable`` says that). An array's items
    are left out: the one such list (a key's abilities) is the Abilities section's table, which
    one key's page cuts to that key's abilities."""
    return [str(value) for value in schema.get("enum", []) if value is not None]


def _fields(
    document: dict[str, Any], schema: dict[str, Any], prefix: str = "", depth: int = 0
) -> list[Field]:
    """Flatten an object schema's properties; nested records are expanded a few levels deep."""
    schema = _resolve(document, schema)
    rows: list[Field] = []
    for name, raw in schema.get("properties", {}).items():
        prop = _resolve(document, raw) if "$ref" in raw else raw
        label = f"{prefix}{name}"
        rows.append(
            Field(
                name=label,
                type=_type_of(document, raw),
                nullable=bool(prop.get("nullable")),
                description=prop.get("description", ""),
                choices=_choices(prop),
                hidden_by=group_label(prop.get(HIDDEN_BY_SCOPE, "")),
            )
        )
        if depth >= 3:
            continue
        if prop.get("type") == "array" and "properties" in _resolve(document, prop.get("items", {})):
            rows += _fields(document, prop["items"], f"{label}[].", depth + 1)
        elif "properties" in prop:
            rows += _fields(document, prop, f"{label}.", depth + 1)
    return rows


def group_label(group: str) -> str:
    """A field group's name in words (``buyer-details`` -> "Buyer details"), read from its slug:
    the page reads only the document, which names groups by slug."""
    return group.replace("-", " ").capitalize()


def _hideable(document: dict[str, Any]) -> dict[str, list[str]]:
    """Each field group a scope may hide, in words, with the fields it holds (``Schema.field``)."""
    groups: dict[str, list[str]] = {}
    for schema_name, schema in document["components"].get("schemas", {}).items():
        for name, prop in schema.get("properties", {}).items():
            if HIDDEN_BY_SCOPE in prop:
                groups.setdefault(group_label(prop[HIDDEN_BY_SCOPE]), []).append(f"{schema_name}.{name}")
    return groups


def curl_example(server: str, path: str, query: dict[str, Any] | None = None) -> str:
    """A copy-paste curl command that reads the key from ``$STOCKGATE_API_KEY``, never a key."""
    url = server.rstrip("/") + path
    if query:
        url += "?" + urlencode(query)
    return f'curl -sS "{url}" \\\n  -H "X-API-Key: {KEY_VARIABLE}"'


def _example_query(parameters: list[Parameter]) -> dict[str, Any]:
    """A short, meaningful query for a list example: a page size and a sort."""
    query: dict[str, Any] = {}
    names = {p.name: p for p in parameters}
    if "per_page" in names:
        query["per_page"] = 10
    sort = names.get("sort")
    if sort is not None and sort.choices:
        # Newest first reads best in an example, when the module can sort by update time.
        query["sort"] = "-updated_at" if "-updated_at" in sort.choices else sort.choices[-1]
    return query


def _endpoint(document: dict[str, Any], server: str, path: str, method: str, op: dict[str, Any]) -> Endpoint:
    parameters = _parameters(document, op)
    ok = _resolve(document, op["responses"]["200"])
    media = ok["content"]["application/json"]
    envelope = _resolve(document, media["schema"])
    fields = _fields(document, envelope)
    concrete_path = path.replace("{id}", "42")
    query = _example_query(parameters) if "{id}" not in path else None
    responses = []
    for status, raw in op["responses"].items():
        response = _resolve(document, raw)
        responses.append((status, response.get("description", "")))
    return Endpoint(
        anchor=op["operationId"],
        method=method.upper(),
        path=path,
        summary=op.get("summary", ""),
        description=op.get("description", ""),
        ability=op.get("x-required-ability") or "",
        parameters=parameters,
        fields=fields,
        responses=responses,
        curl=curl_example(server, concrete_path, query),
        example=json.dumps(media.get("example"), indent=2, ensure_ascii=False),
    )


def build(document: dict[str, Any], example_key: str | None = None) -> dict[str, Any]:
    """Everything the page templates need, derived from the document alone.

    Every curl line sends ``$STOCKGATE_API_KEY`` (SPEC §13: never a pasted placeholder).
    ``example_key`` is what the key looks like where the page shows one (the authentication
    table, the ``export STOCKGATE_API_KEY=...`` line): one key's prefix and a placeholder
    secret on its page, ``EXAMPLE_KEY`` by default.
    """
    declared = document.get("servers", [{"url": "/"}])[0]["url"]
    absolute = declared.startswith(("http://", "https://"))
    server = declared.rstrip("/") if absolute else SERVER_VARIABLE
    sections = {
        tag["name"]: Section(tag["name"], tag.get("x-slug", tag["name"].lower()), tag.get("description", ""))
        for tag in document.get("tags", [])
    }
    for path, item in document["paths"].items():
        for method, op in item.items():
            section = sections[op["tags"][0]]
            section.endpoints.append(_endpoint(document, server, path, method, op))
    components = document["components"]
    errors = [
        {
            "status": response.get("x-status", 0),
            "name": name,
            "codes": response.get("x-error-codes", []),
            "description": response.get("description", ""),
            "example": json.dumps(response["content"]["application/json"].get("example"), indent=2),
        }
        for name, response in components.get("responses", {}).items()
        # The 304 is a shared response too, but not an error: it has no body to show.
        if "x-error-codes" in response
    ]
    # The first list operation (a key's page may hold show operations only, or none at all).
    first_list = next(
        (e for s in sections.values() for e in s.endpoints if e.ability and "{id}" not in e.path), None
    )
    return {
        "title": document["info"]["title"],
        "version": document["info"]["version"],
        "description": document["info"].get("description", ""),
        # The absolute base URL, or None when examples use SERVER_VARIABLE.
        "server": server if absolute else None,
        "curl_base": server,
        "server_variable": SERVER_VARIABLE,
        # A filtered document (one key's page) leaves some modules without operations.
        "sections": [section for section in sections.values() if section.endpoints],
        "errors": sorted(errors, key=lambda e: e["status"]),
        "headers": {
            name: header
            for name, header in components.get("headers", {}).items()
            if name.startswith("X-RateLimit") or name == "Retry-After"
        },
        # Headers about the calling key itself (its expiry, a roll's cutover), under Authentication.
        "key_headers": {
            name: header for name, header in components.get("headers", {}).items() if name in KEY_HEADERS
        },
        "security": components.get("securitySchemes", {}),
        # SPEC §16: the field groups a key's data scope may hide, with their fields.
        "hideable": _hideable(document),
        "example_key": example_key or EXAMPLE_KEY,
        "curl_key": KEY_VARIABLE,
        "first_list": first_list,
        # What page mode's totals promise (the cap on counting), as the document says it.
        "list_totals": components.get("schemas", {})
        .get("PageMeta", {})
        .get("properties", {})
        .get("total", {})
        .get("description", ""),
        # The query parameters shared by every list (If-None-Match is covered under Syncing).
        "list_parameters": [p for p in first_list.parameters if p.location == "query"] if first_list else [],
    }


def for_abilities(document: dict[str, Any], abilities: Iterable[str]) -> dict[str, Any]:
    """A copy of ``document`` with only the operations ``abilities`` allow, plus those needing none.

    The document is shared (rendered once per process): nothing in it is changed.
    """
    granted = set(abilities)
    paths = {}
    for path, item in document["paths"].items():
        allowed = {
            method: op
            for method, op in item.items()
            if op.get("x-required-ability") is None or op["x-required-ability"] in granted
        }
        if allowed:
            paths[path] = allowed
    used = {op["tags"][0] for item in paths.values() for op in item.values()}
    tags = [tag for tag in document.get("tags", []) if tag["name"] in used]
    return {**document, "paths": paths, "tags": tags}


def _hidden(schema: dict[str, Any], groups: frozenset[str]) -> set[str]:
    """The properties of ``schema`` that hiding ``groups`` leaves out (``x-hidden-by-scope``)."""
    properties = schema.get("properties", {})
    return {name for name, prop in properties.items() if prop.get(HIDDEN_BY_SCOPE) in groups}


def _prune_example(
    document: dict[str, Any], schema: dict[str, Any], example: Any, groups: frozenset[str]
) -> Any:
    """``example`` without the values of hidden properties, read along ``schema`` (the original's)."""
    schema = _resolve(document, schema)
    if isinstance(example, list) and "items" in schema:
        return [_prune_example(document, schema["items"], item, groups) for item in example]
    if not isinstance(example, dict) or "properties" not in schema:
        return example
    hidden = _hidden(schema, groups)
    properties = schema["properties"]
    return {
        name: _prune_example(document, properties[name], value, groups) if name in properties else value
        for name, value in example.items()
        if name not in hidden
    }


# The list parameter ``q`` names its fields as "...search in: a, b, c (..." (``app.docs.spec``).
_SEARCHED = re.compile(r"(search in: )([^(]*?)( \()")


def _scoped_parameters(parameters: list[dict[str, Any]], hidden: set[str]) -> list[dict[str, Any]]:
    """A list's parameters for a key that cannot see ``hidden``: no sort by them, ``q`` naming
    only visible fields (and gone when none is: the API refuses ``q`` then)."""
    kept = []
    for parameter in parameters:
        schema = parameter.get("schema", {})
        if parameter.get("name") == "sort" and "enum" in schema:
            choices = [c for c in schema["enum"] if str(c).lstrip("-") not in hidden]
            parameter = {**parameter, "schema": {**schema, "enum": choices}}
        elif parameter.get("name") == "q" and (found := _SEARCHED.search(parameter.get("description", ""))):
            visible = [f for f in found.group(2).split(", ") if f not in hidden]
            if not visible:
                continue
            text = parameter["description"]
            text = text[: found.start(2)] + ", ".join(visible) + text[found.end(2) :]
            parameter = {**parameter, "description": text}
        kept.append(parameter)
    return kept


def without_hidden(document: dict[str, Any], groups: Iterable[str]) -> dict[str, Any]:
    """A copy of ``document`` as a key hiding the field ``groups`` (SPEC §16) sees the API: the
    properties marked ``x-hidden-by-scope`` with one of them are gone from the schemas and the
    examples, and from lists' ``sort`` choices and ``q`` fields. The shared document is unchanged."""
    hiding = frozenset(groups)
    if not hiding:
        return document
    pruned = copy.deepcopy(document)
    for path, item in pruned["paths"].items():
        for method, op in item.items():
            original = document["paths"][path][method]
            ok = _resolve(document, original["responses"]["200"])
            media = ok["content"]["application/json"]
            envelope = _resolve(document, media["schema"])
            record = _resolve(document, envelope.get("properties", {}).get("data", {}))
            record = _resolve(document, record.get("items", record))
            if "parameters" in op:
                op["parameters"] = _scoped_parameters(op["parameters"], _hidden(record, hiding))
            if "example" in media:
                pruned_ok = _resolve(pruned, op["responses"]["200"])
                if "$ref" in op["responses"]["200"]:
                    # A shared response: give this operation its own copy to prune.
                    pruned_ok = op["responses"]["200"] = copy.deepcopy(pruned_ok)
                example = _prune_example(document, media["schema"], media["example"], hiding)
                pruned_ok["content"]["application/json"]["example"] = example
    for schema in pruned["components"]["schemas"].values():
        hidden = _hidden(schema, hiding)
        for name in hidden:
            del schema["properties"][name]
        if hidden and "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in hidden]
    return pruned


def build_for_key(
    document: dict[str, Any], prefix: str, abilities: Iterable[str], hidden_groups: Iterable[str] = ()
) -> dict[str, Any]:
    """One key's page: the operations it may call, without the fields its scope hides; its
    prefix and a placeholder secret where the key is shown, and ``$STOCKGATE_API_KEY`` in every
    curl line."""
    document = without_hidden(for_abilities(document, abilities), hidden_groups)
    return build(document, example_key=placeholder_key(prefix))
