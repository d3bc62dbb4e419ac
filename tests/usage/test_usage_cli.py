"""flask keys usage and flask keys deactivate-unused (SPEC §13): output, audit, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.keys import rolling, service
from app.models.api_keys import ApiKey, KeyStatus
from app.usage import unused
from tests.audit_helpers import stored_events
from tests.conftest import TEST_ACTOR
from tests.usage.usage_rows import add_usage, created_days_ago, days_ago

# Both databases: the usage reports' queries behind the CLI.
pytestmark = pytest.mark.both_databases


def one_line_error(result) -> str:
    assert result.exit_code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_usage_prints_one_line_per_day_and_operation_then_unused_abilities(app, runner, make_key, call):
    created = make_key(abilities=["products:list", "products:show", "brands:list"], rate_limit=1000)
    created_days_ago(app, created.key.prefix, 90)
    key = created.raw_key
    for _ in range(3):
        call("/api/v1/products", key)
    call("/api/v1/products?sort=nope", key)
    call("/api/v1/products/999", key)
    call("/api/v1/customers", key)
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    add_usage(app, created.key.prefix, (two_days_ago, "products:list", 429, 6))
    add_usage(app, created.key.prefix, (datetime.now(UTC) - timedelta(days=40), "brands:list", 200, 9))
    result = runner.invoke(args=["keys", "usage", created.key.prefix])
    assert result.exit_code == 0, result.output
    today = datetime.now(UTC).date().isoformat()
    assert result.stdout.splitlines() == [
        f"{two_days_ago.date().isoformat()}  products:list  succeeded=0 refused=0 limited=6 bad_requests=0",
        f"{today}  customers:list  succeeded=0 refused=1 limited=0 bad_requests=0",
        f"{today}  products:list  succeeded=3 refused=0 limited=0 bad_requests=1",
        f"{today}  products:show  succeeded=0 refused=0 limited=0 bad_requests=1",
        # brands:list was used 40 days ago: outside the 30-day window.
        "unused abilities: brands:list",
    ]
    wide = runner.invoke(args=["keys", "usage", created.key.prefix, "--days", "60"])
    assert wide.stdout.splitlines()[-1] == "unused abilities: none"
    assert "brands:list  succeeded=9" in wide.stdout
    assert created.raw_key not in result.output + wide.output


def test_usage_of_an_unused_key_says_so(app, runner, make_key):
    created = make_key(abilities=["products:list"])
    created_days_ago(app, created.key.prefix, 2)
    result = runner.invoke(args=["keys", "usage", created.key.prefix, "--days", "1"])
    assert result.exit_code == 0
    assert result.stdout == "unused abilities: products:list\n"
    assert "No requests in the last 1 day(s)." in result.stderr


@pytest.mark.parametrize(("age", "history"), [(0, "0 days"), (1, "1 day"), (12, "12 days")])
def test_usage_of_a_key_younger_than_the_window_does_not_judge_its_abilities(
    app, runner, make_key, call, age, history
):
    """A key created minutes (or days) ago has not had the time to use its abilities: none is
    called unused, the line says how much history there is."""
    created = make_key(abilities=["products:list", "customers:list"])
    created_days_ago(app, created.key.prefix, age)
    call("/api/v1/products", created.raw_key)
    result = runner.invoke(args=["keys", "usage", created.key.prefix])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == f"unused abilities: not judged yet ({history} of history)"


def test_usage_of_a_rolled_key_counts_from_its_chains_first_key(app, runner, make_key):
    """A rolled key inherits its predecessor's history: a new key of an old chain is judged."""
    old = make_key(abilities=["products:list", "customers:list"]).key.prefix
    created_days_ago(app, old, 200)
    add_usage(app, old, (days_ago(3), "products:list", 200, 5))
    with app.app_context():
        new = rolling.roll_key(old, actor=TEST_ACTOR, grace="1h").key.prefix
    result = runner.invoke(args=["keys", "usage", new])
    assert result.stdout.splitlines()[-1] == "unused abilities: customers:list"


def test_usage_of_a_chains_newest_key_splits_it_by_key_and_an_old_key_shows_its_own(app, runner, make_key):
    """During a grace period the newest key's usage tells each key's share apart, so the admin
    sees the old key still called; the old key's usage is its own requests only."""
    old = make_key(abilities=["products:list"]).key.prefix
    created_days_ago(app, old, 60)
    add_usage(app, old, (days_ago(2), "products:list", 200, 40), (days_ago(0, 1), "products:list", 200, 3))
    with app.app_context():
        rolled = rolling.roll_key(old, actor=TEST_ACTOR, grace="7d")
        new = rolled.key.prefix
        sunset = service.get_key(old).sunset_at
    add_usage(app, new, (days_ago(0), "products:list", 200, 5), (days_ago(0), "products:list", 429, 1))

    newest = runner.invoke(args=["keys", "usage", new])
    assert newest.exit_code == 0, newest.output
    lines = newest.stdout.splitlines()
    today = datetime.now(UTC).date().isoformat()
    assert f"{today}  products:list  succeeded=8 refused=0 limited=1 bad_requests=0" in lines
    (new_line,) = [line for line in lines if line.startswith(new)]
    (old_line,) = [line for line in lines if line.startswith(old)]
    assert new_line.startswith(f"{new} (this key): 6 requests in the last 30 day(s), last ")
    assert old_line.startswith(
        f"{old} (old key, rolling until {sunset.strftime('%Y-%m-%dT%H:%M:%SZ')}): "
        "43 requests in the last 30 day(s), last "
    )
    assert lines[-1] == "unused abilities: none"

    own = runner.invoke(args=["keys", "usage", old])
    assert own.exit_code == 0, own.output
    assert f"{today}  products:list  succeeded=3 refused=0 limited=0 bad_requests=0" in own.stdout
    assert not [line for line in own.stdout.splitlines() if line.startswith("sgk_")]
    assert f"`flask keys usage {new}` shows its whole roll chain" in own.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--days", "0"], "between 1 and 365"),
        (["--days", "366"], "between 1 and 365"),
        (["--days", "ten"], "--days"),
        (["--days", "\uff11"], "--days"),  # a fullwidth digit one
        (["--days"], "--days"),
    ],
)
def test_usage_bad_days_is_one_line(runner, make_key, args, needle):
    created = make_key()
    assert needle in one_line_error(runner.invoke(args=["keys", "usage", created.key.prefix, *args]))


@pytest.mark.parametrize("prefix", ["sgk_ZZZZZZZZ", "nonsense", "sgk_\x00bad"])
def test_usage_of_an_unknown_prefix_is_one_line(runner, prefix):
    assert one_line_error(runner.invoke(args=["keys", "usage", prefix]))


def _age(app, prefix: str, *, created_days: int, used_days: int | None) -> None:
    now = datetime.now(UTC)
    with app.app_context():
        db.session.execute(
            update(ApiKey)
            .where(ApiKey.prefix == prefix)
            .values(
                created_at=now - timedelta(days=created_days),
                last_used_at=None if used_days is None else now - timedelta(days=used_days),
            )
        )
        db.session.commit()


def _statuses(app) -> dict[str, KeyStatus]:
    with app.app_context():
        return {key.prefix: key.status for key in db.session.scalars(select(ApiKey))}


def test_deactivate_unused_switches_off_only_stale_working_keys(app, runner, make_key):
    """Keys unused for 90 days and created before that go; recent, fresh and expired keys stay."""
    stale = make_key(name="Stale").key.prefix
    never = make_key(name="Never used").key.prefix
    fresh = make_key(name="Fresh").key.prefix
    new = make_key(name="New, never used").key.prefix
    expired = make_key(name="Expired").key.prefix
    _age(app, stale, created_days=200, used_days=91)
    _age(app, never, created_days=120, used_days=None)
    _age(app, fresh, created_days=200, used_days=3)
    _age(app, new, created_days=10, used_days=None)
    _age(app, expired, created_days=200, used_days=100)
    with app.app_context():
        db.session.execute(
            update(ApiKey)
            .where(ApiKey.prefix == expired)
            .values(expires_at=datetime.now(UTC) - timedelta(days=1))
        )
        db.session.commit()

    dry = runner.invoke(args=["keys", "deactivate-unused", "--days", "90", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    first = dry.stdout.splitlines()[0]
    assert first.startswith(f"Would deactivate {never} (Never used): never used, created ")
    assert dry.stdout.splitlines()[1].startswith(f"Would deactivate {stale} (Stale): last used ")
    assert len(dry.stdout.splitlines()) == 2
    assert set(_statuses(app).values()) == {KeyStatus.ACTIVE}
    assert stored_events(app, action="key.deactivated") == []

    result = runner.invoke(args=["keys", "deactivate-unused", "--days", "90"])
    assert result.exit_code == 0, result.output
    assert [line.split(" (")[0] for line in result.stdout.splitlines()] == [
        f"Deactivated {never}",
        f"Deactivated {stale}",
    ]
    statuses = _statuses(app)
    assert statuses[stale] is statuses[never] is KeyStatus.INACTIVE
    assert statuses[fresh] is statuses[new] is statuses[expired] is KeyStatus.ACTIVE
    audited = stored_events(app, action="key.deactivated")
    assert sorted(event["key_prefix"] for event in audited) == sorted([stale, never])
    assert {event["actor"] for event in audited} == {"cli"}
    assert all(event["details"]["reason"] == "unused" and event["details"]["days"] == 90 for event in audited)

    again = runner.invoke(args=["keys", "deactivate-unused", "--days", "90"])
    assert again.stdout == "" and "0 key(s) deactivated." in again.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([], "--days"),
        (["--days", "0"], "between 1 and 3,650"),
        (["--days", "99999"], "between 1 and 3,650"),
        (["--days", "-5"], "--days"),
        (["--days", "3 "], "--days"),
    ],
)
def test_deactivate_unused_bad_days_is_one_line_and_writes_nothing(app, runner, make_key, args, needle):
    prefix = make_key().key.prefix
    _age(app, prefix, created_days=5000, used_days=None)
    assert needle in one_line_error(runner.invoke(args=["keys", "deactivate-unused", *args]))
    assert _statuses(app)[prefix] is KeyStatus.ACTIVE


def test_deactivate_unused_never_touches_a_key_created_less_than_n_days_ago(app, runner, make_key):
    """ "Or never used and created more than N days ago": a key younger than N days stays, even
    with a last use older than N days (as an imported or restored key can show)."""
    young_never = make_key(name="Young, never used").key.prefix
    young_stale = make_key(name="Young, stale use").key.prefix
    old_never = make_key(name="Old, never used").key.prefix
    _age(app, young_never, created_days=29, used_days=None)
    _age(app, young_stale, created_days=10, used_days=100)
    _age(app, old_never, created_days=31, used_days=None)
    result = runner.invoke(args=["keys", "deactivate-unused", "--days", "30"])
    assert result.exit_code == 0, result.output
    assert [line.split(" (")[0] for line in result.stdout.splitlines()] == [f"Deactivated {old_never}"]
    statuses = _statuses(app)
    assert statuses[young_never] is statuses[young_stale] is KeyStatus.ACTIVE


def test_deactivate_unused_leaves_a_rolling_key_to_its_grace_period(app, runner, make_key):
    """A rolling key is cut over (End grace), never deactivated: the key service refuses it."""
    old = make_key(name="Rolling").key.prefix
    _age(app, old, created_days=200, used_days=150)
    with app.app_context():
        new = rolling.roll_key(old, actor=TEST_ACTOR, grace="7d").key.prefix
    _age(app, new, created_days=100, used_days=None)
    result = runner.invoke(args=["keys", "deactivate-unused", "--days", "90"])
    assert [line.split(" (")[0] for line in result.stdout.splitlines()] == [f"Deactivated {new}"]
    assert _statuses(app)[old] is KeyStatus.ACTIVE


def test_deactivate_unused_locks_each_key_and_spares_one_used_meanwhile(app, make_key, monkeypatch):
    """Each key is taken with the key service's lock, as every edit takes it, and checked again
    once locked: a key that a request used between the search and the lock stays active."""
    # Locked first (lowest id): on SQLite a lock is the database's write lock, which the
    # request below would wait for.
    revived = make_key(name="Used meanwhile").key.prefix
    stale = make_key(name="Stale").key.prefix
    _age(app, stale, created_days=200, used_days=120)
    _age(app, revived, created_days=200, used_days=100)
    locked: list[str] = []
    lock_key = service.lock_key

    def lock_after_a_request(prefix: str) -> ApiKey:
        locked.append(prefix)
        if prefix == revived:  # a request authenticates with it just before the lock
            with db.engine.begin() as other:
                other.execute(
                    update(ApiKey).where(ApiKey.prefix == revived).values(last_used_at=datetime.now(UTC))
                )
        return lock_key(prefix)

    monkeypatch.setattr(service, "lock_key", lock_after_a_request)
    with app.app_context():
        done = unused.deactivate_unused(90, actor="cli")
        assert [key.prefix for key in done] == [stale]
    assert sorted(locked) == sorted([stale, revived])
    statuses = _statuses(app)
    assert statuses[stale] is KeyStatus.INACTIVE and statuses[revived] is KeyStatus.ACTIVE
    assert [event["key_prefix"] for event in stored_events(app, action="key.deactivated")] == [stale]
