"""One generic list view and one show view, registered for every module of the catalogue.

For a module with slug ``products`` this registers ``GET /api/v1/products`` (endpoint
``api.products_list``, ability ``products:list``) and ``GET /api/v1/products/<id>``
(``api.products_show``, ``products:show``). ``ENDPOINT_ABILITIES`` is the registry the guard
enforces and the docs and the deny-by-default test read. Modules whose model is not built
yet are skipped. Only GET (and HEAD) are routed, so write methods are 405.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request

from app.api import listing, reads
from app.api.errors import ApiError
from app.api.params import parse_list_args
from app.catalogue import MODULES, Module
from app.extensions import db

# Largest id a path may name: integer primary keys are 32-bit on PostgreSQL.
MAX_ID = 2**31 - 1

# endpoint ("api.products_list") -> ability ("products:list"); filled by ``register_views``.
ENDPOINT_ABILITIES: dict[str, str] = {}
# endpoint -> (module, action), for the docs.
ENDPOINT_MODULES: dict[str, tuple[Module, str]] = {}


def required_ability(endpoint: str) -> str | None:
    """Return the ability an API endpoint requires, or None when it declares none."""
    return ENDPOINT_ABILITIES.get(endpoint)


def list_endpoint(module: Module) -> str:
    """The endpoint name of ``module``'s list view, e.g. ``api.products_list``."""
    return f"api.{module.slug}_list"


def show_endpoint(module: Module) -> str:
    """The endpoint name of ``module``'s show view, e.g. ``api.products_show``."""
    return f"api.{module.slug}_show"


def register_views(bp: Blueprint) -> None:
    """Register list and show for every catalogue module whose model exists."""
    for module in MODULES:
        if module.model is None or module.schema is None:
            continue
        for action, rule, view in (
            ("list", f"/{module.slug}", _make_list_view(module)),
            ("show", f"/{module.slug}/<int:record_id>", _make_show_view(module)),
        ):
            endpoint = f"{module.slug}_{action}"
            bp.add_url_rule(rule, endpoint=endpoint, view_func=view, methods=["GET"])
            ENDPOINT_ABILITIES[f"{bp.name}.{endpoint}"] = module.ability(action)
            ENDPOINT_MODULES[f"{bp.name}.{endpoint}"] = (module, action)


# --- list ----------------------------------------------------------------------------------


def _make_list_view(module: Module) -> Callable[[], Response]:
    def list_records() -> Response:
        """List the module's records: paginated, sorted, searchable, incremental."""
        return _list(module)

    list_records.__name__ = f"{module.slug.replace('-', '_')}_list"
    list_records.__doc__ = (
        f"List {module.name}: paginated, sortable, searchable, incremental (updated_since)."
    )
    return list_records


def _list(module: Module) -> Response:
    args = parse_list_args(module)
    page = listing.fetch_page(module, args)
    pages = math.ceil(page.total / args.per_page) if page.total else 0
    base_url = request.base_url
    return jsonify(
        data=[page.dump(row) for row in page.rows],
        meta={"page": args.page, "per_page": args.per_page, "total": page.total, "pages": pages},
        links={
            "self": _page_url(base_url, args.page),
            "next": _page_url(base_url, args.page + 1) if args.page < pages else None,
            "prev": _page_url(base_url, min(args.page - 1, max(pages, 1))) if args.page > 1 else None,
        },
    )


def _page_url(base_url: str, page: int) -> str:
    """Absolute URL of the same list with the same query and another page."""
    query = request.args.to_dict()
    query["page"] = str(page)
    return f"{base_url}?{urlencode(query)}"


# --- show ----------------------------------------------------------------------------------


def _make_show_view(module: Module) -> Callable[[int], Response]:
    def show_record(record_id: int) -> Response:
        """Show one record of the module by id."""
        return _show(module, record_id)

    show_record.__name__ = f"{module.slug.replace('-', '_')}_show"
    show_record.__doc__ = f"Show one of the {module.name} by id."
    return show_record


def _show(module: Module, record_id: int) -> Response:
    record = None
    if 1 <= record_id <= MAX_ID:
        record = db.session.get(
            module.model,
            record_id,
            options=list(module.query_options),
            bind_arguments=reads.bind_arguments(),
        )
    if record is None:
        raise ApiError(
            404, "not_found", f"No record with id {record_id} in {module.name}.", {"id": record_id}
        )
    return jsonify(data=listing.dumper(module)(record))
