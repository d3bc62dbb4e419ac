"""gunicorn.conf.py: stock workers, unsafe start-ups refused; proxies are trusted only when told."""

import gc
import os
import runpy
import subprocess
import sys

import pytest

from app import create_app
from bench.harness import BIN, ROOT
from tests.conftest import base_config

GUNICORN = str(BIN / "gunicorn")


@pytest.mark.parametrize(("threads", "worker_class"), [("", "sync"), ("1", "sync"), ("4", "gthread")])
def test_production_runs_gunicorns_stock_workers(monkeypatch, threads, worker_class):
    """One thread per worker is gunicorn's sync worker; more threads, its threaded worker."""
    monkeypatch.setenv("GUNICORN_THREADS", threads)
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert settings["worker_class"] == worker_class
    assert settings["control_socket_disable"] is True


def test_gunicorn_refuses_memory_storage_with_several_workers(tmp_path):
    """memory:// under two workers would allow twice the limit: start-up stops with one line."""
    env = {
        **os.environ,
        "WEB_CONCURRENCY": "2",
        "RATELIMIT_STORAGE_URI": "memory://",
        "BIND": "127.0.0.1:0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "SECRET_KEY": "test",
    }
    result = subprocess.run(
        [GUNICORN, "wsgi:app"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    reason = [line for line in result.stderr.splitlines() if line.startswith("Stockgate:")]
    assert len(reason) == 1
    assert "memory://" in reason[0] and "2 workers" in reason[0]


THREADS_REASON = "Stockgate: GUNICORN_THREADS must be a whole number of at least 1, not {!r}."


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("GUNICORN_THREADS", "abc", THREADS_REASON.format("abc")),
        ("GUNICORN_THREADS", "0", THREADS_REASON.format("0")),
        # gunicorn reads WEB_CONCURRENCY itself, before gunicorn.conf.py, and says so in one line
        # (except for text that is no number at all: gunicorn 27 then fails with a traceback).
        ("WEB_CONCURRENCY", "-2", "Error: Value must be positive: -2"),
    ],
)
def test_a_bad_worker_or_thread_count_stops_start_up_with_one_line(tmp_path, name, value, reason):
    """GUNICORN_THREADS=abc and the like: a one-line reason, not a traceback."""
    env = {**os.environ, name: value, "BIND": "127.0.0.1:0", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    result = subprocess.run(
        [GUNICORN, "wsgi:app"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert (result.stderr.strip(), result.stdout.strip()) == (reason, "")


def test_production_without_secret_key_refuses_to_start(tmp_path):
    """STOCKGATE_ENV=production without SECRET_KEY fails with a one-line reason."""
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update({"STOCKGATE_ENV": "production", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "Stockgate: SECRET_KEY must be set when STOCKGATE_ENV=production"
    ]


@pytest.mark.parametrize("hops,expected", [(0, "127.0.0.1"), (1, "203.0.113.9")])
def test_forwarded_for_is_trusted_only_with_configured_hops(tmp_path, hops, expected):
    """By default X-Forwarded-For is ignored; PROXY_FIX_HOPS=1 trusts one proxy."""
    config = base_config(f"sqlite:///{tmp_path / 'x.db'}")
    config["PROXY_FIX_HOPS"] = hops
    app = create_app(config)

    @app.get("/_whoami")
    def whoami():
        from flask import request

        return request.remote_addr or ""

    response = app.test_client().get("/_whoami", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.get_data(as_text=True) == expected


def test_workers_freeze_the_loaded_app_out_of_the_garbage_collector():
    """gunicorn.conf.py's post_worker_init hides the loaded app from full collections."""
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert gc.get_freeze_count() == 0
    try:
        settings["post_worker_init"](None)
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
