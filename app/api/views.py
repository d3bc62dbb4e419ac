"""One generic list view and one show view, registered for every module of the catalogue.

For a module with slug ``products`` this registers ``GET /api/v1/products`` (endpoint
``api.products_list``) and ``GET /api/v1/products/<id>`` (``api.products_show``); the ability
each needs comes from ``app.catalogue.ENDPOINT_ABILITIES``. Only GET (and HEAD) are routed, so
write methods are 405.

The URL map merges no slashes and reads ids as ASCII digits only (``app.routing``), so
``/api/v1//products`` gets the API's JSON 404, not Werkzeug's HTML redirect.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request

from app.api import listing
from app.api.errors import ApiError
from app.api.params import parse_list_args
from app.catalogue import MODULES, Module
from app.hosts import public_url

# Largest id a path may name: integer primary keys are 32-bit on PostgreSQL.
MAX_ID = 2**31 - 1


def register_views(bp: Blueprint) -> None:
    """Register list and show for every catalogue module."""
    for module in MODULES:
        bp.add_url_rule(
            f"/{module.slug}",
            endpoint=module.endpoint("list"),
            view_func=_list_view(module),
            methods=["GET"],
        )
        bp.add_url_rule(
            # Out-of-range ids never reach the view: the router answers them with a JSON 404.
            f"/{module.slug}/<int(min=1, max={MAX_ID}):record_id>",
            endpoint=module.endpoint("show"),
            view_func=_show_view(module),
            methods=["GET"],
        )


def _list_view(module: Module) -> Callable[[], Response]:
    def list_records() -> Response:
        """List the module's records: paginated, sorted, searchable, incremental."""
        args = parse_list_args(module)
        page = listing.fetch_page(module, args)
        pages = math.ceil(page.total / args.per_page) if page.total else 0
        return jsonify(
            data=listing.dump(module, page.records),
            meta={"page": args.page, "per_page": args.per_page, "total": page.total, "pages": pages},
            links={
                "self": _page_url(args.page),
                "next": _page_url(args.page + 1) if args.page < pages else None,
                "prev": _page_url(min(args.page - 1, max(pages, 1))) if args.page > 1 else None,
            },
        )

    list_records.__doc__ = (
        f"List {module.name}: paginated, sortable, searchable, incremental (updated_since)."
    )
    return list_records


def _show_view(module: Module) -> Callable[[int], Response]:
    def show_record(record_id: int) -> Response:
        """Show one record of the module by id."""
        record = listing.fetch_one(module, record_id)
        if record is None:
            raise ApiError(
                404, "not_found", f"No record with id {record_id} in {module.name}.", {"id": record_id}
            )
        return jsonify(data=listing.dump(module, [record])[0])

    show_record.__doc__ = f"Show one of the {module.name} by id."
    return show_record


def _page_url(page: int) -> str:
    """URL of the same list with the same query and another page; never on the request's Host."""
    query = request.args.to_dict()
    query["page"] = str(page)
    return public_url(f"{request.script_root}{request.path}?{urlencode(query)}")
