"""How a refused htmx request must look: an HTML fragment for the alert area, not text for a script."""

from __future__ import annotations

import html

from werkzeug.test import TestResponse


def assert_refused(response: TestResponse, status: int, message: str | None = None) -> str:
    """Assert ``response`` is the panel's error fragment (status, HX-Retarget to #flash, HX-Reswap);
    return its message."""
    assert response.status_code == status, response.text
    assert response.mimetype == "text/html"
    assert response.headers["HX-Retarget"] == "#flash"
    assert response.headers["HX-Reswap"] == "innerHTML"
    body = response.text.strip()
    assert body.startswith('<p class="flash__message">') and body.endswith("</p>"), body
    text = html.unescape(body.removeprefix('<p class="flash__message">').removesuffix("</p>"))
    if message is not None:
        assert message in text, text
    return text
