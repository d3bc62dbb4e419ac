"""One way through an API request (issue 25): a warm list runs the API's own code, no other room's."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from flask.testing import FlaskClient

APP_DIR = Path(__file__).resolve().parents[2] / "app"
# Rooms that serve admins, developers or the shell: none of their code belongs on an API request.
OTHER_ROOMS = ("panel", "docs", "audit", "accounts", "cli", "seed", "health")


@contextmanager
def files_called() -> Iterator[set[str]]:
    """Collect the ``app/`` files whose Python functions run inside the block (relative to ``app/``)."""
    called: set[str] = set()
    root = str(APP_DIR)

    def profile(frame: FrameType, event: str, _arg: object) -> None:
        if event == "call" and frame.f_code.co_filename.startswith(root):
            called.add(os.path.relpath(frame.f_code.co_filename, root))

    sys.setprofile(profile)
    try:
        yield called
    finally:
        sys.setprofile(None)


def warm_list(client: FlaskClient, raw_key: str) -> set[str]:
    """The files one warm ``GET /api/v1/products`` runs code in (after three untraced requests)."""
    headers = {"X-API-Key": raw_key}
    for _ in range(3):
        assert client.get("/api/v1/products", headers=headers).status_code == 200
    with files_called() as called:
        response = client.get("/api/v1/products", headers=headers)
    assert response.status_code == 200 and response.get_json()["data"]
    return called


def test_a_warm_list_runs_no_code_of_the_panel_docs_or_other_rooms(
    seeded: dict[str, int], client: FlaskClient, make_key: Any, backend: str
) -> None:
    called = warm_list(client, make_key(abilities=["products:list"]).raw_key)
    assert not {path for path in called if path.split(os.sep)[0] in OTHER_ROOMS}, called
    # Nor the hops a proven, unscoped key needs none of: no app-wide limiter filter, no second
    # syntax check of a key bcrypt already proved, no data scope, no Host handling.
    assert not called & {"extensions.py", "keys/format.py", "api/scope.py", "catalogue.py", "web/hosts.py"}
    assert {"api/guard.py", "keys/verification.py", "api/views.py", "api/listing.py"} <= called


def test_a_scoped_key_asks_the_scope_and_an_unscoped_one_does_not(
    seeded: dict[str, int], client: FlaskClient, make_key: Any, backend: str
) -> None:
    scoped = make_key(abilities=["products:list"], hidden_fields=["costs"]).raw_key
    unscoped = make_key(abilities=["products:list"]).raw_key
    assert "api/scope.py" in warm_list(client, scoped)
    assert "api/scope.py" not in warm_list(client, unscoped)
