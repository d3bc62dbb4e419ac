"""Assertions shared by the API tests."""

from __future__ import annotations

from typing import Any

from werkzeug.test import TestResponse


def assert_error(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    """Assert a JSON error envelope with ``status`` and ``code``; return the error object."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    assert body["error"]["request_id"] == response.headers["X-Request-Id"]
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]
