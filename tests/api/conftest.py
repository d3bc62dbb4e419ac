"""Fixtures for the API tests: keys with chosen abilities, and a caller that sends them."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.catalogue import ALL_ABILITIES


@pytest.fixture
def all_abilities_key(make_key: Any) -> Any:
    """A key holding every list and show ability, with a limit no test reaches by accident."""
    return make_key(name="Everything", abilities=list(ALL_ABILITIES), rate_limit=100_000)


@pytest.fixture
def call(client: FlaskClient) -> Any:
    """``call(path, key=None, method="GET", headers=None)``: request with ``X-API-Key`` when given."""

    def request(
        path: str,
        key: str | None = None,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> TestResponse:
        sent = dict(headers or {})
        if key is not None:
            sent["X-API-Key"] = key
        return client.open(path, method=method, headers=sent, **kwargs)

    return request
