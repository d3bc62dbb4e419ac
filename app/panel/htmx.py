"""A small reading of htmx's request headers and the response helpers the views use."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Request, Response, make_response, request


@dataclass(frozen=True)
class HtmxDetails:
    """What htmx told us about this request (django-htmx style)."""

    request: bool
    history_restore: bool

    @classmethod
    def from_request(cls, req: Request) -> HtmxDetails:
        """Read the ``HX-*`` headers of ``req``."""
        return cls(
            request=req.headers.get("HX-Request") == "true",
            history_restore=req.headers.get("HX-History-Restore-Request") == "true",
        )

    @property
    def wants_fragment(self) -> bool:
        """True when htmx asked for a fragment (a history restore wants the whole page)."""
        return self.request and not self.history_restore


def htmx() -> HtmxDetails:
    """The htmx details of the current request."""
    return HtmxDetails.from_request(request)


def vary_on_htmx(response: Response) -> Response:
    """Mark a response whose body depends on ``HX-Request`` so caches keep both variants."""
    response.vary.add("HX-Request")
    return response


def no_store(response: Response) -> Response:
    """Forbid every cache (browser, proxy, back/forward) from keeping this response."""
    # A view may already have said so more strictly ("no-store, private"): keep its value.
    if "no-store" not in response.headers.get("Cache-Control", ""):
        response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def htmx_redirect(location: str, status: int = 401) -> Response:
    """Tell htmx to load ``location`` as a whole page (a 302 would land inside a fragment)."""
    response = make_response("", status)
    response.headers["HX-Redirect"] = location
    return response


def client_refresh() -> Response:
    """An empty 200 telling htmx to reload the whole page (django-htmx's HttpResponseClientRefresh)."""
    response = make_response("", 200)
    response.headers["HX-Refresh"] = "true"
    return response


def retarget(response: Response, target: str) -> Response:
    """Swap ``response`` into ``target`` (a CSS selector) instead of the element's own target."""
    response.headers["HX-Retarget"] = target
    return response


def reswap(response: Response, swap: str) -> Response:
    """Swap ``response`` with ``swap`` (an ``hx-swap`` value) instead of the element's own."""
    response.headers["HX-Reswap"] = swap
    return response
