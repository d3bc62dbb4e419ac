"""Fixtures for the documentation tests: a database-free app, keys, and a live server.

Tests of the document itself need no database, so ``docs_app`` runs once (SQLite file, no
tables). Tests that call the API use the root ``app`` fixture and so run on both databases.
The live server (browser tests) serves a SQLite file database in WAL mode from a thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app import create_app
from app.catalogue import ALL_ABILITIES
from app.extensions import db, limiter
from tests.conftest import base_config, serve_in_thread


@pytest.fixture
def docs_app(tmp_path: Path) -> Iterator[Flask]:
    """An application for reading the document and the page; its database is never touched."""
    application = create_app(base_config(f"sqlite:///{tmp_path / 'docs.db'}"))
    with application.app_context():
        limiter.reset()
    yield application
    with application.app_context():
        limiter.reset()


@pytest.fixture
def document(docs_app: Flask) -> dict[str, Any]:
    """The OpenAPI document as a client downloads it from ``/api/openapi.json``."""
    response = docs_app.test_client().get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


@pytest.fixture
def all_abilities_key(make_key: Any) -> Any:
    """A key holding every ability, with a limit no test reaches by accident."""
    return make_key(name="Docs fuzzing", abilities=list(ALL_ABILITIES), rate_limit=100_000)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    """Serve a fresh app (SQLite file database) from a thread; yields its base URL."""
    application = create_app(base_config(f"sqlite:///{tmp_path / 'live.db'}"))
    with application.app_context():
        db.create_all()
        limiter.reset()
    with serve_in_thread(application) as url:
        yield url


@pytest.fixture
def seed_scale() -> int:
    """``seeded`` writes a larger slice here: fuzzing finds records on more pages."""
    return 20


@pytest.fixture
def browser_page(browser: Any) -> Iterator[Any]:
    """A fresh page in the session's chromium."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()
