"""flask keys usage and flask keys deactivate-unused (SPEC §13): output, audit, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models.api_keys import ApiKey, KeyStatus
from tests.audit_helpers import stored_events
from tests.usage.usage_rows import add_usage

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


def test_usage_of_an_unused_key_says_so(runner, make_key):
    created = make_key(abilities=["products:list"])
    result = runner.invoke(args=["keys", "usage", created.key.prefix, "--days", "1"])
    assert result.exit_code == 0
    assert result.stdout == "unused abilities: products:list\n"
    assert "No requests in the last 1 day(s)." in result.stderr


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
