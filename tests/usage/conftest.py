"""Fixtures for the usage tests: a client that calls the API with a key."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient


@pytest.fixture
def call(client: FlaskClient) -> Any:
    """``call(path, key, **kwargs)``: one GET with ``X-API-Key``; returns the status code."""

    def request(path: str, key: str, **kwargs: Any) -> int:
        return client.get(path, headers={"X-API-Key": key}, **kwargs).status_code

    return request
