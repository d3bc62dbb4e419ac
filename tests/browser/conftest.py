"""Browser fixtures: a live server and Debian's chromium driven by Playwright.

Every browser test runs once, on the server ``make run`` starts -- waitress as it ships, one
process -- in a process of its own, one server per module. It serves a SQLite file in WAL
mode (``:memory:`` is per connection), which the test's own app reads to check what the panel
did. (What the browser sees does not depend on the database or on werkzeug in a thread; the
database matrix and the servers are tested under tests/api, tests/panel and tests/serving.)

Each module signs in through the form once and its pages start from that browser state
(Playwright's ``storage_state``: the session cookie); ``sign_in`` itself stays tested by the
story that starts signed out (``signed_out_page_and_console``). Without /usr/bin/chromium the
suite skips locally and fails under ``CI=true``, so CI can never pass with the browser tests
left out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from app import accounts, create_app
from app.extensions import db, limiter
from app.keys import service
from app.models.api_keys import ApiKey
from app.models.types import utcnow
from bench.harness import WAITRESS, Server

SECRET_KEY = "browser-test-secret"
ADMIN_EMAIL = "ada@example.com"
ADMIN_PASSWORD = "correct horse battery"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@dataclass(frozen=True)
class LiveServer:
    """A running panel: its base URL and the app (for checks against the database)."""

    url: str
    app: Any


def _seed(app: Any) -> None:
    """An admin, a system account and a handful of keys in every state."""
    with app.app_context():
        db.create_all()
        admin = accounts.create_user(
            ADMIN_EMAIL, "Ada Lovelace", password=ADMIN_PASSWORD, is_admin=True, actor="tests"
        )
        accounts.create_user("grace@example.com", "Grace Hopper", actor="tests")
        accounts.create_user(
            "sync@stockgate.internal", "Nightly inventory sync", is_system=True, actor="tests"
        )
        keys = [
            ("Shopify storefront", "grace@example.com", ["products:list", "products:show", "inventory:list"]),
            ("Warehouse scanner", "sync@stockgate.internal", ["inventory:list", "warehouses:list"]),
            ("Amazon SP-API bridge", "sync@stockgate.internal", ["amazon-ledger:list", "sales-orders:list"]),
            ("Finance export", ADMIN_EMAIL, ["sales-orders:list", "sales-orders:show", "customers:list"]),
            ("Old reporting job", "grace@example.com", ["products:list"]),
            ("Replenishment planner", "sync@stockgate.internal", ["replenishment-plans:list"]),
        ]
        created = {
            name: service.create_key(
                name=name,
                owner=owner,
                abilities=abilities,
                rate_limit=600 if "Amazon" in name else 60,
                expires_at=utcnow() + timedelta(days=90) if "Finance" in name else None,
                created_by=admin,
                actor="tests",
            )
            for name, owner, abilities in keys
        }
        now = utcnow()
        service.deactivate_key(created["Replenishment planner"].key.prefix, actor="tests")
        db.session.execute(
            update(ApiKey)
            .where(ApiKey.prefix == created["Old reporting job"].key.prefix)
            .values(expires_at=now - timedelta(days=3))
        )
        for name, ago in (
            ("Shopify storefront", 5),
            ("Amazon SP-API bridge", 90),
            ("Warehouse scanner", 3000),
        ):
            db.session.execute(
                update(ApiKey)
                .where(ApiKey.prefix == created[name].key.prefix)
                .values(last_used_at=now - timedelta(minutes=ago))
            )
        db.session.commit()


@pytest.fixture(scope="module")
def live_server_env() -> dict[str, str]:
    """More environment for a module's served panel (a module overrides it, e.g. with a policy)."""
    return {}


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, live_server_env: dict[str, str]
) -> Iterator[LiveServer]:
    """The panel on 127.0.0.1 (a free port), seeded with demo keys, served by waitress as shipped."""
    database = tmp_path_factory.mktemp("live") / "panel.db"
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": SECRET_KEY,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
            "API_KEY_BCRYPT_ROUNDS": 4,
            "PASSWORD_BCRYPT_ROUNDS": 4,
            "RATELIMIT_STORAGE_URI": "memory://",
            "RATELIMIT_ENABLED": True,
        }
    )
    _seed(app)
    with app.app_context():
        limiter.reset()
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": SECRET_KEY,
        "API_KEY_BCRYPT_ROUNDS": "4",
        "PASSWORD_BCRYPT_ROUNDS": "4",
        "RATELIMIT_STORAGE_URI": "memory://",
        "STOCKGATE_ENV": "development",
        **live_server_env,
    }
    with Server(environment, kind=WAITRESS) as server:  # what `make run` starts
        yield LiveServer(url=server.url, app=app)
    with app.app_context():
        db.engine.dispose()


@dataclass
class Console:
    """Console messages and page errors seen during a test."""

    messages: list[str]

    def csp_violations(self) -> list[str]:
        """Messages in which chromium reports a Content Security Policy violation."""
        return [m for m in self.messages if "Content Security Policy" in m or "Refused to" in m]


@contextmanager
def recorded_page(browser: Any, live_server: LiveServer, state: Any = None) -> Iterator[tuple[Any, Console]]:
    """A fresh browser context (clipboard allowed, ``state`` loaded) and a page whose console is recorded."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, base_url=live_server.url, storage_state=state
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    console = Console(messages=[])
    page.on("console", lambda msg: console.messages.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: console.messages.append(f"pageerror: {exc}"))
    try:
        yield page, console
    finally:
        context.close()


@pytest.fixture(scope="module")
def signed_in_state(browser: Any, live_server: LiveServer) -> Any:
    """The browser state (session cookie) of one sign-in through the form, per module's server."""
    with recorded_page(browser, live_server) as (page, _console):
        sign_in(page)
        return page.context.storage_state()


@pytest.fixture
def page_and_console(
    browser: Any, live_server: LiveServer, signed_in_state: Any
) -> Iterator[tuple[Any, Console]]:
    """A page signed in as the seeded admin (call ``open_panel``), its console recorded."""
    with recorded_page(browser, live_server, signed_in_state) as page_and_console:
        yield page_and_console


@pytest.fixture
def signed_out_page_and_console(browser: Any, live_server: LiveServer) -> Iterator[tuple[Any, Console]]:
    """A page that has not signed in (call ``sign_in``), its console recorded."""
    with recorded_page(browser, live_server) as page_and_console:
        yield page_and_console


def sign_in(page: Any) -> None:
    """Sign in through the form as the seeded admin."""
    from playwright.sync_api import expect

    page.goto("/login")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="API Keys", exact=True)).to_be_visible()
    ready(page)


def open_panel(page: Any) -> None:
    """Open the API Keys page with the signed-in state of ``page_and_console``."""
    from playwright.sync_api import expect

    page.goto("/settings/api-keys")
    expect(page.get_by_role("heading", name="API Keys", exact=True)).to_be_visible()
    ready(page)


def ready(page: Any) -> None:
    """Wait until htmx has set up the page (it does so on DOMContentLoaded, before "load")."""
    page.wait_for_load_state("load")
