"""Template helpers: readable times (exact UTC on hover) and the layout's shared values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask
from markupsafe import Markup, escape

from app.keys.service import EXPIRING_SOON
from app.models.types import iso_utc, utcnow

_UNITS = (("day", 86_400), ("hour", 3_600), ("minute", 60))


def relative(value: datetime, now: datetime) -> str:
    """Say how far ``value`` is from ``now`` in words, or give the date when over a week."""
    seconds = (value - now).total_seconds()
    distance = abs(seconds)
    if distance >= 7 * 86_400:
        return f"{value.day} {value:%b %Y}"
    if distance < 60:
        return "just now"
    for unit, size in _UNITS:
        if distance >= size:
            count = int(distance // size)
            words = f"{count} {unit}{'' if count == 1 else 's'}"
            return f"in {words}" if seconds > 0 else f"{words} ago"
    return "just now"  # pragma: no cover  (the loop always returns)


def time_tag(value: datetime | None, empty: str = "Never") -> Markup:
    """A ``<time>`` element: readable text, the exact UTC time in its title."""
    if value is None:
        return Markup('<span class="muted">{}</span>').format(empty)
    value = value.astimezone(UTC)
    exact = f"{value:%Y-%m-%d %H:%M:%S} UTC"
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        iso_utc(value), exact, escape(relative(value, utcnow()))
    )


def expiry_notice(value: datetime | None, now: datetime | None = None) -> str | None:
    """ "Expires in N days" (or hours) for an expiry within ``EXPIRING_SOON``; None otherwise."""
    if value is None:
        return None
    left = value.astimezone(UTC) - (now or utcnow())
    if left <= timedelta(0) or left > EXPIRING_SOON:
        return None
    for unit, size in (("day", 86_400), ("hour", 3_600)):
        count = int(left.total_seconds() // size)
        if count >= 1:
            return f"Expires in {count} {unit}{'' if count == 1 else 's'}"
    return "Expires in under an hour"


# htmx 2 under a strict CSP: no eval, no injected <style>, and a history restore loads a
# whole page. 422 (validation) swaps into the element's own target. Other errors swap too:
# the panel answers them with an HTML fragment and HX-Retarget to the alert area
# (guards.error_response); an error that comes without (another blueprint's) lands there too,
# never inside a row or a form.
HTMX_CONFIG = {
    "allowEval": False,
    "allowScriptTags": False,
    "includeIndicatorStyles": False,
    "historyRestoreAsHxRequest": False,
    "selfRequestsOnly": True,
    "responseHandling": [
        {"code": "204", "swap": False},
        {"code": "[23]..", "swap": True},
        {"code": "422", "swap": True},
        {"code": "[45]..", "swap": True, "error": True, "target": "#flash", "swapOverride": "innerHTML"},
        {"code": "...", "swap": False},
    ],
}


def _layout_context() -> dict[str, object]:
    return {"htmx_config": HTMX_CONFIG}


def init_app(app: Flask) -> None:
    """Register the filters and layout values on ``app``'s Jinja environment."""
    app.add_template_filter(time_tag, "time_tag")
    app.add_template_filter(expiry_notice, "expiry_notice")
    app.context_processor(_layout_context)
