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


def wait_until(condition, timeout: float = 5.0) -> None:
    """Poll ``condition`` until it holds (threads take a moment to queue)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_gate_admits_waiters_first_come_first_served():
    """Requests enter in the order they queued, and one leaving for a wait queues behind them."""
    request_gate = RequestGate()
    release_first = threading.Event()
    order: list[str] = []

    def app(environ, start_response):
        start_response("200 OK", [])
        name = environ["PATH_INFO"].strip("/")
        order.append(name)
        if name == "first":
            release_first.wait(5)
            # A plain lock would be taken straight back here, ahead of the queued requests.
            with request_gate.outside():
                pass
            order.append("first again")
        return [b"ok"]

    gated = request_gate.wrap(app)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(call, gated, "/first")]
        wait_until(lambda: order == ["first"])
        for number, name in enumerate(("second", "third", "fourth"), start=1):
            futures.append(pool.submit(call, gated, f"/{name}"))
            wait_until(lambda number=number: request_gate.waiting() == number)
        release_first.set()
        assert [future.result(timeout=5) for future in futures] == [b"ok"] * 4
    assert order == ["first", "second", "third", "fourth", "first again"]
    assert request_gate.waiting() == 0


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


def test_quick_reads_stay_inside_the_gate_and_slow_ones_and_writes_go_outside(tmp_path):
    """A read known to be quick runs in the gate; a slow read or a write lets other requests in."""
    from sqlalchemy import event, text

    from app.extensions import db

    app = create_app(base_config(f"sqlite:///{tmp_path / 'quick.db'}"))
    with app.app_context():
        # SQLite calls this back while it executes the statement: it reports where it ran.
        event.listen(
            db.engine,
            "connect",
            lambda dbapi_connection, _record: dbapi_connection.create_function(
                "gate_held", 0, lambda: int(gate.held())
            ),
        )
        db.engine.dispose()
        with db.engine.begin() as connection:
            connection.execute(text("CREATE TABLE seen (held INTEGER)"))

    slow_read = (
        "SELECT (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000)"
        " SELECT count(*) FROM n), gate_held()"
    )

    @app.get("/_where")
    def where():
        quick = [db.session.execute(text("SELECT gate_held()")).scalar_one() for _ in range(3)]
        slow = [db.session.execute(text(slow_read)).one()[1] for _ in range(2)]
        db.session.execute(text("INSERT INTO seen (held) VALUES (gate_held())"))
        written = db.session.execute(text("SELECT held FROM seen")).scalar_one()
        db.session.rollback()
        return {"quick": quick, "slow": slow, "write": written}

    # The first run of a statement is timed outside the gate; once known quick it stays inside.
    assert app.test_client().get("/_where").get_json() == {
        "quick": [0, 1, 1],
        "slow": [0, 0],
        "write": 0,
    }


class RecordingScheduler:
    """What a gate-running server (app.gate_worker) would be told, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def queued(self) -> None:
        self.events.append("queued")

    def left_to_wait(self, handed_over: bool) -> None:
        self.events.append(f"left_to_wait(handed_over={handed_over})")


def test_a_scheduler_hears_who_waits_and_who_queues():
    """Leaving with nobody queued, leaving to a queued thread, and queuing are each reported."""
    request_gate = RequestGate()
    scheduler = RecordingScheduler()
    request_gate.scheduler = scheduler
    request_gate.enter()
    with request_gate.outside():  # nobody queued: the server must find someone to carry on
        pass
    assert scheduler.events == ["left_to_wait(handed_over=False)"]

    second_inside = threading.Event()

    def second() -> None:
        request_gate.enter()  # the gate is held: this thread queues
        second_inside.set()
        request_gate.leave()

    thread = threading.Thread(target=second)
    thread.start()
    wait_until(lambda: request_gate.waiting() == 1)
    assert scheduler.events[-1] == "queued"
    with request_gate.outside():  # the queued thread takes over
        assert second_inside.wait(5)
    thread.join(5)
    assert scheduler.events[1:] == ["queued", "left_to_wait(handed_over=True)"]
    assert request_gate.held() and request_gate.leave() is False
