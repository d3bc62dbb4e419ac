"""One generic list view and one show view, registered for every module of the catalogue.

For a module with slug ``products`` this registers ``GET /api/v1/products`` (endpoint
``api.products_list``) and ``GET /api/v1/products/<id>`` (``api.products_show``); the ability
each needs comes from ``app.catalogue.ENDPOINT_ABILITIES``. Only GET (and HEAD) are routed, so
write methods are 405.

Show has two rules with one endpoint: ``<int:record_id>`` (the documented one: ASCII digits)
and a ``<string:record_id>`` twin for any other single segment (``abc``, ``-1``, ``1.5``).
Werkzeug tries the int rule first. Both reach the same view through the guard, so the key is
checked first (no key: the 401 of any endpoint; no ``:show`` ability: the 403), and then a
segment that is not an id in 1..``MAX_ID`` gets a 404 ``not_found`` saying what ids are
(SPEC §6), never the router's "No such endpoint": the endpoint exists. The OpenAPI document
describes only the int rule (``tests/docs/test_document_matches_app.py`` knows the twin).

List and show answers carry a strong ``ETag`` (a SHA-1 of the body, so exact: any change to a
record on the page, the total or the query gives another one) and ``Cache-Control: private,
no-cache`` (a client may keep the answer but revalidates it; no shared cache keeps it), and
answer ``If-None-Match`` with a bodiless 304 through werkzeug's ``make_conditional``. The
guard has already counted the request against the key's limit, so a 304 costs one request.

The URL map merges no slashes and reads ids as ASCII digits only (``app.web.routing``), so
``/api/v1//products`` gets the API's JSON 404, not Werkzeug's HTML redirect.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, request

from app.api import listing, scope
from app.api.errors import ApiError
from app.api.guard import current_call
from app.api.params import ListArgs, parse_list_args
from app.catalogue import MODULES, Module
from app.keys.format import PREFIX_PATTERN
from app.validation import untrusted

# Clients may keep an answer but must revalidate it (If-None-Match) before reuse; ``private``
# keeps it out of shared caches, since every answer depends on the key's abilities.
CACHE_CONTROL = "private, no-cache"
# Largest id a path may name: integer primary keys are 32-bit on PostgreSQL.
MAX_ID = 2**31 - 1
# ``.format(id=..., module=...)``: the 404 for an id with no record.
NO_RECORD_MESSAGE = "No record with id {id} in {module}."
# ``.format(module=..., max_id=..., value=...)``: the 404 for a path segment that is not an id.
NOT_AN_ID_MESSAGE = "{module} ids are positive integers (1 to {max_id}); {value} is not one."
# How much of a bad id the 404 repeats.
SHOWN_ID_LENGTH = 40


def register_views(bp: Blueprint) -> None:
    """Register list and show for every catalogue module."""
    for module in MODULES:
        bp.add_url_rule(
            f"/{module.slug}",
            endpoint=module.endpoint("list"),
            view_func=_list_view(module),
            methods=["GET"],
        )
        show = _show_view(module)
        # Tried in this order (Werkzeug weighs int before string); see the module docstring.
        for converter in ("int", "string"):
            bp.add_url_rule(
                f"/{module.slug}/<{converter}:record_id>",
                endpoint=module.endpoint("show"),
                view_func=show,
                methods=["GET"],
            )


def _list_view(module: Module) -> Callable[[], Response]:
    def list_records() -> Response:
        """List the module's records: paginated, sorted, searchable, incremental."""
        within, hidden = _narrowing(module)
        args = parse_list_args(module, hidden)
        if args.cursor is not None:
            return _cursor_list(module, args, within, hidden)
        page = listing.fetch_page(module, args, within)
        # Past the total cap (SPEC §6) neither the total nor the number of pages is known.
        pages = None if page.total is None else math.ceil(page.total / args.per_page)
        # Past the end, prev points at the last page when it is known.
        prev = args.page - 1 if pages is None else min(args.page - 1, max(pages, 1))
        return conditional(
            jsonify(
                data=listing.dump(module, page.records, hidden, page.columns),
                meta={"page": args.page, "per_page": args.per_page, "total": page.total, "pages": pages},
                links={
                    "self": _page_url(args.page),
                    "next": _page_url(args.page + 1) if page.has_next else None,
                    "prev": _page_url(prev) if args.page > 1 else None,
                },
            )
        )

    list_records.__doc__ = (
        f"List {module.name}: paginated, sortable, searchable, incremental (updated_since)."
    )
    return list_records


def _show_view(module: Module) -> Callable[[int | str], Response]:
    def show_record(record_id: int | str) -> Response:
        """Show one record of the module by id."""
        if isinstance(record_id, str) or not 1 <= record_id <= MAX_ID:
            raise not_an_id(module, str(record_id))
        within, hidden = _narrowing(module)
        # Out of the key's scope reads as missing: never a 403 that confirms it exists (SPEC §16).
        record = listing.fetch_one(module, record_id, within)
        if record is None:
            message = NO_RECORD_MESSAGE.format(id=record_id, module=module.name)
            raise ApiError(404, "not_found", message, {"id": record_id})
        return conditional(jsonify(data=listing.dump(module, [record], hidden)[0]))

    show_record.__doc__ = f"Show one of the {module.name} by id."
    return show_record


def not_an_id(module: Module, segment: str) -> ApiError:
    """The 404 for a show path whose id segment is not a positive integer in range.

    The segment is repeated (its start, invisible characters escaped) unless it holds something
    shaped like a key prefix: keys are never echoed (SPEC §5).
    """
    if PREFIX_PATTERN.search(segment):
        shown = None
        value = "a value that looks like an API key"
    else:
        shown = untrusted.visible(segment[:SHOWN_ID_LENGTH])
        shown += "..." if len(segment) > SHOWN_ID_LENGTH else ""
        value = f"'{shown}'"
    message = NOT_AN_ID_MESSAGE.format(module=module.name, max_id=MAX_ID, value=value)
    return ApiError(404, "not_found", message, {"id": shown})


def _narrowing(module: Module) -> tuple[scope.Scope | None, frozenset[str]]:
    """The calling key's data scope (None when it narrows nothing) and the fields of ``module``
    it hides (SPEC §16)."""
    key = current_call().key
    assert key is not None  # the guard let the request through
    if not key.is_scoped:
        return None, frozenset()
    within = scope.of_key(key)
    return within, module.hidden_fields(within.hidden_groups)


def _cursor_list(
    module: Module, args: ListArgs, within: scope.Scope | None, hidden: frozenset[str]
) -> Response:
    """A list in cursor mode: ``meta`` holds ``per_page`` and ``next_cursor``, nothing counted."""
    page = listing.fetch_cursor_page(module, args, within)
    return conditional(
        jsonify(
            data=listing.dump(module, page.records, hidden, page.columns),
            meta={"per_page": args.per_page, "next_cursor": page.next_cursor},
            links={
                "self": _list_url({}),
                "next": _list_url({"cursor": page.next_cursor}) if page.next_cursor else None,
                # Cursors go forward only; a client that needs to go back keeps its cursors.
                "prev": None,
            },
        )
    )


def conditional(response: Response) -> Response:
    """Give a list or show answer its strong ETag and caching policy; 304 if the client has it."""
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.add_etag()
    return response.make_conditional(request)


def _page_url(page: int) -> str:
    """URL of the same list with the same query and another page; never on the request's Host."""
    return _list_url({"page": str(page)})


def _list_url(changes: dict[str, str]) -> str:
    """URL of the same list with the same query but ``changes``; never on the request's Host."""
    query = request.args.to_dict()
    query.update(changes)
    # Absolute on the configured origin, else relative; never on the request's Host (app.web.hosts).
    origin = current_app.config.get("PUBLIC_BASE_URL") or ""
    return f"{origin}{request.script_root}{request.path}?{urlencode(query)}"
