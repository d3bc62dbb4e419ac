"""The project files one warm ``GET /api/v1/products?per_page=25`` runs code in (issue 25, §2).

Builds the app on a fresh SQLite file (or ``DATABASE_URL``) with a little demo data and one key,
sends the request three times to warm every cache, then traces the fourth with
``sys.setprofile``: every Python function called, grouped by its file under ``app/``.

Usage: ``python bench/request_walk.py [PATH]`` (default ``/api/v1/products?per_page=25``;
``DATABASE_URL`` an empty database to use instead of a new SQLite file).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PATH = "/api/v1/products?per_page=25"


def walk(app: Any, raw_key: str, path: str = PATH) -> dict[str, set[str]]:
    """The functions a warm request to ``path`` calls, by project file (relative to the repo)."""
    client = app.test_client()
    headers = {"X-API-Key": raw_key}
    for _ in range(3):
        assert client.get(path, headers=headers).status_code == 200
    app_dir = str(ROOT / "app")
    called: dict[str, set[str]] = {}

    def profile(frame: FrameType, event: str, _arg: object) -> None:
        filename = frame.f_code.co_filename
        if event == "call" and filename.startswith(app_dir):
            called.setdefault(os.path.relpath(filename, ROOT), set()).add(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        response = client.get(path, headers=headers)
    finally:
        sys.setprofile(None)
    assert response.status_code == 200 and len(response.get_json()["data"]) > 0
    return called


def main() -> None:
    """Print the walk of one warm list request: the number of files, then each with its functions."""
    from app import accounts, create_app
    from app.extensions import db
    from app.keys import service
    from app.seed import seed_demo

    database = os.environ.get("DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/walk.db"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database,
            "SECRET_KEY": "request-walk-" + "x" * 32,
            "API_KEY_BCRYPT_ROUNDS": 4,
            "USAGE_FLUSH_SECONDS": 0,
        }
    )
    with app.app_context():
        db.create_all()
        seed_demo(scale=1)
        owner = accounts.create_user("walk@example.com", "Walk", actor="cli")
        raw_key = service.create_key(
            name="walk", owner=owner.email, abilities=["products:list"], actor="cli"
        ).raw_key
    path = sys.argv[1] if len(sys.argv) > 1 else PATH
    called = walk(app, raw_key, path)
    print(f"{len(called)} project files in one warm GET {path}")
    for filename, names in sorted(called.items()):
        print(f"  {filename}: {', '.join(sorted(names))}")


if __name__ == "__main__":
    main()
