"""Usage counting (SPEC §13): every request of a proven key, per key, operation, status and
UTC hour, exact on both databases, written only by flushes."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from app import create_app, usage
from app.extensions import db
from app.keys import rolling
from app.keys import service as keys_service
from app.models.usage import IP_REFUSED_OPERATION, KeyUsage
from app.seed import seed_demo
from app.usage import history, reports
from app.usage.counting import UsageBuffer
from app.usage.store import Cell
from tests.conftest import TEST_ACTOR

# Both databases: counting: the adding upsert and concurrent flushes.
pytestmark = pytest.mark.both_databases


def rows(app) -> Counter[tuple[int, str, int]]:
    """Every counted (key id, operation, status), summed over hours."""
    with app.app_context():
        usage.flush()
        return Counter(
            {
                (key_id, operation, status): total
                for key_id, operation, status, total in db.session.execute(
                    select(KeyUsage.key_id, KeyUsage.operation, KeyUsage.status, KeyUsage.count)
                )
            }
        )


def test_every_outcome_is_counted_exactly(app, make_key, call):
    """N requests of each outcome -> N counted under the right operation and status."""
    created = make_key(abilities=["products:list", "products:show"], rate_limit=17)
    key, key_id = created.raw_key, created.key.id
    for _ in range(3):
        assert call("/api/v1/products", key) == 200
    for _ in range(4):
        assert call("/api/v1/products/424242", key) == 404
    for _ in range(2):
        assert call("/api/v1/brands", key) == 403
    for _ in range(5):
        assert call("/api/v1/products?per_page=0", key) == 400
    assert call("/api/v1/key", key) == 200
    # The limit is 17 a minute: the 15 so far plus 2 more succeed, the rest are 429.
    statuses = Counter(call("/api/v1/products", key) for _ in range(6))
    assert statuses == Counter({200: 2, 429: 4})
    assert rows(app) == Counter(
        {
            (key_id, "products:list", 200): 5,
            (key_id, "products:show", 404): 4,
            (key_id, "brands:list", 403): 2,
            (key_id, "products:list", 400): 5,
            (key_id, "key", 200): 1,
            (key_id, "products:list", 429): 4,
        }
    )


def test_a_proven_key_refused_for_its_state_is_counted_as_401(app, make_key, call):
    created = make_key(abilities=["products:list"])
    assert call("/api/v1/products", created.raw_key) == 200
    with app.app_context():
        keys_service.deactivate_key(created.key.prefix, actor=TEST_ACTOR)
    assert call("/api/v1/products", created.raw_key) == 401
    assert rows(app) == Counter(
        {(created.key.id, "products:list", 200): 1, (created.key.id, "products:list", 401): 1}
    )


def test_an_ip_refusal_is_counted_apart_from_the_abilities(app, make_key, call):
    """403 ip_not_allowed counts under its own operation, whatever endpoint it asked for, so it
    neither marks an ability used nor offers one to grant (issue 24)."""
    created = make_key(abilities=["products:list"], allowed_ips=["203.0.113.0/24"])
    for path in ("/api/v1/products", "/api/v1/customers"):
        assert call(path, created.raw_key, environ_base={"REMOTE_ADDR": "192.0.2.1"}) == 403
    assert call("/api/v1/customers", created.raw_key, environ_base={"REMOTE_ADDR": "203.0.113.9"}) == 403
    assert rows(app) == Counter(
        {(created.key.id, IP_REFUSED_OPERATION, 403): 2, (created.key.id, "customers:list", 403): 1}
    )
    with app.app_context():
        report = reports.for_key(keys_service.get_key(created.key.prefix))
    assert [use.used for use in report.abilities] == [False]
    assert [refused.ability for refused in report.refused] == ["customers:list"]
    line = next(op for op in report.operations if op.operation == IP_REFUSED_OPERATION)
    assert line.label.startswith("Refused: address not allowed")


def test_unproven_and_missing_keys_are_not_counted(app, make_key, call, client):
    """A wrong secret for a real prefix, a malformed key and no key count for no key."""
    created = make_key(abilities=["products:list"])
    wrong = created.raw_key[:-1] + ("A" if created.raw_key[-1] != "A" else "B")
    assert call("/api/v1/products", wrong) == 401
    assert call("/api/v1/products", "sgk_nonsense") == 401
    assert client.get("/api/v1/products").status_code == 401
    assert rows(app) == Counter()


def test_nothing_is_written_per_request_only_by_a_flush(app, make_key, call):
    created = make_key(abilities=["products:list"])
    for _ in range(3):
        call("/api/v1/products", created.raw_key)
    with app.app_context():
        assert db.session.scalar(select(KeyUsage.count)) is None
    assert rows(app) == Counter({(created.key.id, "products:list", 200): 3})


def test_counts_land_in_the_utc_hour_of_the_request(app, make_key, call):
    created = make_key(abilities=["products:list"])
    before = datetime.now(UTC)
    call("/api/v1/products", created.raw_key)
    with app.app_context():
        usage.flush()
        row = db.session.scalars(select(KeyUsage)).one()
    assert row.hour == row.hour.replace(minute=0, second=0, microsecond=0)
    assert row.hour <= before.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    assert row.hour <= row.last_at < row.hour + timedelta(hours=1)
    assert before - timedelta(seconds=1) <= row.last_at <= datetime.now(UTC)


def test_two_processes_flushing_the_same_cells_add_up(app, app_config, make_key):
    """Two apps on one database (as two workers) each flush their counts: the upsert adds."""
    created = make_key(abilities=["products:list"])
    other = create_app(app_config)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    cell = Cell(created.key.id, hour, "products:list", 200)
    for application, count in ((app, 7), (other, 5), (app, 1)):
        with application.app_context():
            usage.buffer_of(application).add(cell, hour + timedelta(minutes=count), count)
            assert usage.flush() == 1
    with app.app_context():
        row = db.session.scalars(select(KeyUsage)).one()
    assert row.count == 13
    assert row.last_at == hour + timedelta(minutes=7)  # the latest, not the last written
    with other.app_context():
        db.engine.dispose()


def test_concurrent_flushes_never_lose_a_count(app, app_config, make_key):
    """8 threads, each with its own app, flush 50 times into the same cells at once."""
    created = make_key(abilities=["products:list"])
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    apps = [create_app(app_config) for _ in range(8)]

    def worker(application) -> None:
        with application.app_context():
            buffer = usage.buffer_of(application)
            for i in range(50):
                buffer.add(Cell(created.key.id, hour, "products:list", 200 if i % 2 else 404), hour)
                usage.flush()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(worker, apps))
    assert rows(app) == Counter(
        {(created.key.id, "products:list", 200): 200, (created.key.id, "products:list", 404): 200}
    )
    for application in apps:
        with application.app_context():
            db.engine.dispose()


def test_a_failed_flush_keeps_the_counts_for_the_next_one(app, backend, make_key, call, caplog):
    created = make_key(abilities=["products:list"])
    for _ in range(4):
        call("/api/v1/products", created.raw_key)
    with app.app_context():
        # A real failure: the table is gone for a moment.
        with db.engine.begin() as connection:
            connection.execute(text("ALTER TABLE key_usage_hourly RENAME TO key_usage_hourly_away"))
        try:
            assert usage.flush() == 0
        finally:
            with db.engine.begin() as connection:
                connection.execute(text("ALTER TABLE key_usage_hourly_away RENAME TO key_usage_hourly"))
    assert "usage flush failed" in caplog.text
    assert rows(app) == Counter({(created.key.id, "products:list", 200): 4})


def test_a_rolled_keys_history_is_its_successors(app, make_key, call):
    """The new key of a roll reads the old key's counts too (they share a bucket)."""
    old = make_key(abilities=["products:list"])
    for _ in range(3):
        call("/api/v1/products", old.raw_key)
    with app.app_context():
        new = rolling.roll_key(old.key.prefix, actor=TEST_ACTOR, grace="1h")
        new_raw, new_prefix = new.raw_key, new.key.prefix
    for _ in range(2):
        call("/api/v1/products", new_raw)
    with app.app_context():
        successor = keys_service.get_key(new_prefix)
        counts = history.daily_counts(history.chain_key_ids(successor), 30)
        again = rolling.roll_key(new_prefix, actor=TEST_ACTOR, grace="0")
        third = keys_service.get_key(again.key.prefix)
        assert set(history.chain_key_ids(third)) == {old.key.id, successor.id, third.id}
    assert sum(count.count for count in counts) == 5


def test_buffer_merges_counts_and_keeps_the_latest_time():
    buffer = UsageBuffer()
    hour = datetime(2026, 12, 5, 10, tzinfo=UTC)
    cell = Cell(1, hour, "products:list", 200)
    buffer.add(cell, hour + timedelta(minutes=5))
    buffer.add(cell, hour + timedelta(minutes=2), count=3)
    drained = buffer.drain()
    assert len(buffer) == 0
    assert drained[cell].count == 4 and drained[cell].last_at == hour + timedelta(minutes=5)
    buffer.give_back(drained)
    assert buffer.drain()[cell].count == 4


def test_outcomes_follow_the_spec():
    assert [history.outcome_of(s) for s in (200, 304, 401, 403, 429, 400, 404, 503)] == [
        "Succeeded",
        "Succeeded",
        "Refused",
        "Refused",
        "Limited",
        "Bad requests",
        "Bad requests",
        "Server errors",
    ]


def test_the_secret_is_never_stored_with_usage(app, make_key, call):
    created = make_key(abilities=["products:list"])
    call("/api/v1/products", created.raw_key)
    with app.app_context():
        usage.flush()
        dumped = repr(db.session.execute(text("SELECT * FROM key_usage_hourly")).all())
    assert created.raw_key not in dumped
    assert created.raw_key.split("_")[2] not in dumped


def test_a_304_is_counted_as_a_304_also_when_gzip_made_it(app, make_key, client):
    """gzip's own conditional check turns a 200 into a 304 after the view: the count sees it."""
    created = make_key(abilities=["products:list"])
    with app.app_context():
        seed_demo(scale=30)
    headers = {"X-API-Key": created.raw_key, "Accept-Encoding": "gzip"}
    first = client.get("/api/v1/products?per_page=100", headers=headers)
    assert first.status_code == 200 and first.headers["Content-Encoding"] == "gzip"
    revalidate = {**headers, "If-None-Match": first.headers["ETag"]}
    again = client.get("/api/v1/products?per_page=100", headers=revalidate)
    assert again.status_code == 304
    plain = client.get("/api/v1/products", headers={"X-API-Key": created.raw_key})
    again_plain = client.get(
        "/api/v1/products", headers={"X-API-Key": created.raw_key, "If-None-Match": plain.headers["ETag"]}
    )
    assert again_plain.status_code == 304
    assert rows(app) == Counter(
        {(created.key.id, "products:list", 200): 2, (created.key.id, "products:list", 304): 2}
    )
