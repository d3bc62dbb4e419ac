"""The app's URL map: ``<int:...>`` reads 1-20 ASCII digits only, and ``//`` is not merged.

Werkzeug's ``int`` converter matches ``\\d+``, which takes any Unicode decimal digit, so
``/api/v1/products/`` followed by Arabic-Indic (U+0661 U+0662) or fullwidth
(U+FF11 U+FF12) digits would show product 12. No client
means that; one resource should have one URL. Replacing ``int`` app-wide keeps every route,
present and future, on the same rule (see ``app.validation.untrusted``).
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter


class AsciiIntegerConverter(IntegerConverter):
    """Werkzeug's ``int`` converter (with ``min``, ``max``, ``signed``), for ASCII digits only."""

    # 20 digits hold any 64-bit id. A longer segment is no id: it goes on to a later rule (a
    # module's show answers it with its 404) instead of to int(), which refuses 4,300 digits.
    regex = "[0-9]{1,20}"


def init_app(app: Flask) -> None:
    """ASCII ids and no slash merging for every route; call before any blueprint is registered."""
    app.url_map.converters["int"] = AsciiIntegerConverter
    # Werkzeug answers ``/a//b`` with an HTML 308 to ``http://<Host header>/a/b``: an absolute
    # URL on whatever host the client sent, and HTML under /api/. Without merging, such paths
    # match nothing and get the ordinary 404 (JSON under /api/).
    app.url_map.merge_slashes = False
