"""The request gate: one request at a time in the application, bcrypt and other waits outside."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from app import create_app
from app.request_gate import RequestGate, gate
from tests.conftest import base_config


def call(app, path: str = "/") -> bytes:
    """Call a WSGI app directly; return its body."""
    statuses: list[str] = []
    body = app({"PATH_INFO": path}, lambda status, headers: statuses.append(status))
    return b"".join(body)


def test_one_request_at_a_time():
    """Eight threads call a gated app that sleeps (GIL released): never two inside at once."""
    request_gate = RequestGate()
    inside, most = 0, 0
    count_lock = threading.Lock()

    def app(environ, start_response):
        nonlocal inside, most
        with count_lock:
            inside += 1
            most = max(most, inside)
        time.sleep(0.01)
        with count_lock:
            inside -= 1
        start_response("200 OK", [])
        return [b"ok"]

    gated = request_gate.wrap(app)
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(lambda _: call(gated), range(24))) == [b"ok"] * 24
    assert most == 1


def test_outside_lets_another_request_in_and_comes_back():
    """A request waiting in ``outside()`` lets a second one run, then holds the gate again."""
    request_gate = RequestGate()
    second_ran = threading.Event()
    held_after: list[bool] = []

    def app(environ, start_response):
        start_response("200 OK", [])
        if environ["PATH_INFO"] == "/slow":
            with request_gate.outside():
                assert not request_gate.held()
                second_ran.wait(5)
            held_after.append(request_gate.held())
            return [b"slow" if second_ran.is_set() else b"starved"]
        second_ran.set()
        return [b"fast"]

    gated = request_gate.wrap(app)
    with ThreadPoolExecutor(max_workers=2) as pool:
        slow = pool.submit(call, gated, "/slow")
        time.sleep(0.05)  # let the slow request enter first
        fast = pool.submit(call, gated, "/fast")
        assert fast.result(timeout=5) == b"fast"
        assert slow.result(timeout=5) == b"slow"
    assert held_after == [True]


def test_gate_is_released_when_the_app_raises():
    """An exception leaves the gate open for the next request."""
    request_gate = RequestGate()

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("boom")
        start_response("200 OK", [])
        return [b"ok"]

    gated = request_gate.wrap(app)
    with pytest.raises(RuntimeError):
        call(gated, "/boom")
    assert not request_gate.held()
    with ThreadPoolExecutor(max_workers=1) as pool:  # another thread can take it
        assert pool.submit(call, gated).result(timeout=5) == b"ok"


def test_outside_without_the_gate_and_nested_calls_do_not_block():
    """``outside()`` outside a request is a no-op; an app calling itself does not deadlock."""
    request_gate = RequestGate()
    with request_gate.outside():
        assert not request_gate.held()

    def inner(environ, start_response):
        start_response("200 OK", [])
        return [b"inner"]

    gated_inner = request_gate.wrap(inner)

    def outer(environ, start_response):
        start_response("200 OK", [])
        return [b"outer+" + call(gated_inner)]

    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(call, request_gate.wrap(outer)).result(timeout=5) == b"outer+inner"


@pytest.mark.parametrize(
    "database_url,gated",
    [("sqlite:///{tmp}/gate.db", True), ("postgresql+psycopg://nobody@127.0.0.1:1/none", False)],
)
def test_create_app_gates_sqlite_only(tmp_path, database_url, gated):
    """SQLite apps run requests behind the gate; PostgreSQL apps let threads overlap."""
    app = create_app(base_config(database_url.format(tmp=tmp_path)))

    @app.get("/_gate")
    def gate_state():
        return {"held": gate.held()}

    assert app.test_client().get("/_gate").get_json() == {"held": gated}


def test_sqlite_statements_run_outside_the_gate(tmp_path):
    """A long SQLite statement (no GIL) lets another request through the gate meanwhile."""
    from sqlalchemy import text

    from app.extensions import db

    app = create_app(base_config(f"sqlite:///{tmp_path / 'slow.db'}"))
    finished: dict[str, float] = {}

    @app.get("/_slow")
    def slow():
        # A recursive count that keeps SQLite busy for a while inside one execute().
        count = db.session.execute(
            text(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000)"
                " SELECT count(*) FROM n"
            )
        ).scalar_one()
        finished["slow"] = time.monotonic()
        return {"count": count}

    @app.get("/_fast")
    def fast():
        finished["fast"] = time.monotonic()
        return {"gate_held": gate.held()}

    with ThreadPoolExecutor(max_workers=2) as pool:
        slow_response = pool.submit(lambda: app.test_client().get("/_slow"))
        time.sleep(0.1)  # the slow statement is running now
        fast_response = pool.submit(lambda: app.test_client().get("/_fast"))
        assert fast_response.result(timeout=30).get_json() == {"gate_held": True}
        assert slow_response.result(timeout=30).get_json() == {"count": 3_000_000}
    assert finished["fast"] < finished["slow"], "the fast request waited for the statement"
