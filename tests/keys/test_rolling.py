"""Rolling a key (SPEC §12) through the service and ``flask keys roll``: copy, cutover, refusals."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app import audit
from app.extensions import db
from app.keys import rolling, service
from app.keys.hashing import check_secret
from app.keys.verification import KEY_ROLLED, verify
from app.models.api_keys import ApiKey
from app.models.audit import AuditEvent
from app.models.types import utcnow
from app.validation.errors import Conflict, InvalidInput, NotFound

# Both databases: rolling's conditional updates and chain queries.
pytestmark = pytest.mark.both_databases

KEY_RE = re.compile(r"sgk_[0-9A-Za-z]{8}_[0-9A-Za-z]{38}")


def _counts(app) -> tuple[int, int]:
    with app.app_context():
        keys = db.session.scalar(select(func.count()).select_from(ApiKey))
        events = db.session.scalar(select(func.count()).select_from(AuditEvent))
        return keys, events


def _key(prefix: str) -> ApiKey:
    return db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))


def _set(app, prefix: str, **values) -> None:
    with app.app_context():
        key = _key(prefix)
        for name, value in values.items():
            setattr(key, name, value)
        db.session.commit()


@pytest.fixture
def old(app, make_key):
    """An active key with every copyable field set."""
    created = make_key(
        name="ERP sync",
        abilities=["products:list", "brands:show"],
        rate_limit=120,
        expires_at=utcnow() + timedelta(days=60),
    )
    _set(app, created.key.prefix, description="Nightly ERP import", allowed_ips=["203.0.113.0/24"])
    return created


def test_roll_copies_the_key_and_sets_the_cutover(app, old):
    """The new key copies name, owner, abilities, limit, expiry, IPs, description; the old one
    points at it, stops in 24 hours, shares its bucket, and a key.rolled event is written."""
    with app.app_context():
        before = utcnow()
        created = rolling.roll_key(old.key.prefix, actor="admin@example.com")
        new = _key(created.key.prefix)
        previous = _key(old.key.prefix)
        assert new.prefix != previous.prefix
        assert check_secret(created.raw_key, new.key_hash) and new.key_hash.startswith("$2b$04$")
        assert created.raw_key != old.raw_key
        assert (new.name, new.owner_id, new.abilities, new.rate_limit, new.expires_at) == (
            previous.name,
            previous.owner_id,
            previous.abilities,
            previous.rate_limit,
            previous.expires_at,
        )
        assert new.description == "Nightly ERP import"
        assert new.allowed_ips == ["203.0.113.0/24"]
        assert new.bucket_name == previous.bucket_name == previous.prefix
        assert previous.successor_id == new.id
        assert before + timedelta(hours=24) <= previous.sunset_at <= utcnow() + timedelta(hours=24)
        assert previous.display_status() == "Rolling"
        assert new.display_status() == "Active"
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "key.rolled"))
        assert event.actor == "admin@example.com"
        assert event.key_prefix == previous.prefix
        assert event.details["new_prefix"] == new.prefix
        assert event.details["sunset_at"].endswith("Z")
        assert created.raw_key not in repr(event.details)
        # The new key's own history starts with its creation by the roll.
        birth = db.session.scalar(select(AuditEvent).where(AuditEvent.key_prefix == new.prefix))
        assert (birth.action, birth.actor, birth.details) == (
            "key.created",
            "admin@example.com",
            {"rolled_from": previous.prefix},
        )


@pytest.mark.parametrize(
    ("grace", "delta"),
    [("30m", timedelta(minutes=30)), ("1h", timedelta(hours=1)), ("7d", timedelta(days=7))],
)
def test_named_grace_periods(app, make_key, grace, delta):
    """Each named grace period puts the cutover that far ahead."""
    created = make_key()
    with app.app_context():
        before = utcnow()
        rolling.roll_key(created.key.prefix, actor=audit.CLI_ACTOR, grace=grace)
        assert before + delta <= _key(created.key.prefix).sunset_at <= utcnow() + delta


def test_grace_0_cuts_over_at_once(app, make_key):
    """Grace 0: the old key is refused with key_rolled on its very next request."""
    created = make_key()
    with app.app_context():
        rolling.roll_key(created.key.prefix, actor=audit.CLI_ACTOR, grace="0")
        assert _key(created.key.prefix).display_status() == "Rolled"
        assert verify(created.raw_key).reason == KEY_ROLLED


def test_iso_grace_and_cutover_capped_at_expiry(app, make_key):
    """An ISO 8601 cutover is used as given; one past the key's own expiry moves to the expiry."""
    expires = utcnow().replace(microsecond=0) + timedelta(days=2)
    first, second = make_key(), make_key(expires_at=expires)
    when = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    with app.app_context():
        rolling.roll_key(first.key.prefix, actor="cli", grace=when.isoformat().replace("+00:00", "Z"))
        assert _key(first.key.prefix).sunset_at == when
        rolling.roll_key(second.key.prefix, actor="cli", grace=when.replace(tzinfo=None).isoformat())
        assert _key(second.key.prefix).sunset_at == expires


@pytest.mark.parametrize(
    "grace",
    ["", "2h", "24", "-1h", "yesterday", "2020-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00", "1h\x00"],
)
def test_bad_grace_is_refused_and_nothing_written(app, make_key, grace):
    """Unknown names, past times, times beyond 30 days and junk are InvalidInput; nothing changes."""
    created = make_key()
    counts = _counts(app)
    with app.app_context(), pytest.raises(InvalidInput, match="grace"):
        rolling.roll_key(created.key.prefix, actor="cli", grace=grace)
    assert _counts(app) == counts
    with app.app_context():
        assert _key(created.key.prefix).successor_id is None


def test_grace_beyond_30_days_is_refused(app, make_key):
    """A cutover more than 30 days ahead is refused (a forgotten roll, not a grace period)."""
    created = make_key()
    with app.app_context(), pytest.raises(InvalidInput, match="30 days"):
        rolling.roll_key(created.key.prefix, actor="cli", grace=utcnow() + timedelta(days=31))


@pytest.mark.parametrize("state", ["inactive", "expired", "revoked", "rolling", "rolled"])
def test_only_an_active_key_can_be_rolled(app, make_key, state):
    """Rolling an inactive, expired, revoked, rolling or rolled key is a Conflict; nothing written."""
    created = make_key()
    prefix = created.key.prefix
    with app.app_context():
        if state == "inactive":
            service.deactivate_key(prefix, actor="tests")
        elif state == "revoked":
            service.revoke_key(prefix, actor="tests")
        elif state in ("rolling", "rolled"):
            rolling.roll_key(prefix, actor="cli", grace="1h" if state == "rolling" else "0")
    if state == "expired":
        _set(app, prefix, expires_at=utcnow() - timedelta(minutes=1))
    counts = _counts(app)
    with app.app_context(), pytest.raises(Conflict, match=state if state != "rolled" else "already rolled"):
        rolling.roll_key(prefix, actor="cli")
    assert _counts(app) == counts


def test_parallel_rolls_of_one_key_make_exactly_one_new_key(app, make_key, in_parallel):
    """Four admins roll the same key at the same moment: one roll wins, the other three are told
    the key is already rolling, and exactly one new key exists (none that works unrecorded)."""
    created = make_key(name="Feed")
    prefix = created.key.prefix
    counts = _counts(app)
    outcomes = in_parallel(*[lambda: rolling.roll_key(prefix, actor="cli", grace="1h").raw_key] * 4)
    won = [outcome for outcome in outcomes if isinstance(outcome, str)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, Conflict)]
    assert (len(won), len(refused)) == (1, 3), outcomes
    assert all(f"key {prefix} is rolling" in exc.message for exc in refused)
    assert _counts(app) == (counts[0] + 1, counts[1] + 2)  # one new key; key.rolled + key.created
    with app.app_context():
        assert _key(prefix).successor.prefix == won[0][:12]
        assert verify(won[0]).ok


def test_rolling_the_new_key_keeps_one_bucket(app, make_key):
    """A chain of rolls keeps the first key's bucket."""
    created = make_key()
    with app.app_context():
        second = rolling.roll_key(created.key.prefix, actor="cli", grace="0")
        third = rolling.roll_key(second.key.prefix, actor="cli", grace="1h")
        assert _key(third.key.prefix).bucket_name == created.key.prefix
        assert _key(second.key.prefix).bucket_name == created.key.prefix


def test_a_rate_limit_edit_applies_to_every_working_key_of_the_chain(app, make_key):
    """A chain has one bucket and so one limit: editing any working key's limit sets it on every
    working key of the chain, each audited as key.updated; a key past its cutover is left alone."""
    first = make_key(rate_limit=10)
    with app.app_context():
        second = rolling.roll_key(first.key.prefix, actor="cli", grace="0")
        third = rolling.roll_key(second.key.prefix, actor="cli", grace="1h")
        service.edit_key(third.key.prefix, actor="admin@example.com", rate_limit=11)
        assert _key(third.key.prefix).rate_limit == _key(second.key.prefix).rate_limit == 11
        assert _key(first.key.prefix).rate_limit == 10  # dead: it counts against no bucket
        service.edit_key(second.key.prefix, actor="admin@example.com", rate_limit=12, name="Renamed")
        assert _key(third.key.prefix).rate_limit == 12
        assert _key(third.key.prefix).name == "Test key"  # only the limit is the chain's
        updates = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "key.updated")).all()
        limits = sorted((e.key_prefix, e.details["changes"]["rate_limit"]["new"]) for e in updates)
        old, new = second.key.prefix, third.key.prefix
    assert limits == sorted([(new, 11), (old, 11), (old, 12), (new, 12)])


def test_end_grace_cuts_over_now(app, make_key):
    """end_grace sets the cutover to now and records key.roll_ended; the old key is refused."""
    created = make_key()
    with app.app_context():
        rolling.roll_key(created.key.prefix, actor="cli", grace="7d")
        assert verify(created.raw_key).ok
        rolling.end_grace(created.key.prefix, actor="admin@example.com")
        assert _key(created.key.prefix).display_status() == "Rolled"
        assert verify(created.raw_key).reason == KEY_ROLLED
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "key.roll_ended"))
        assert (event.actor, event.key_prefix) == ("admin@example.com", created.key.prefix)


def test_end_grace_on_a_key_that_is_not_rolling_is_refused(app, make_key):
    """end_grace on an active or already rolled key is a Conflict; unknown prefix NotFound."""
    created = make_key()
    with app.app_context():
        with pytest.raises(Conflict, match="not rolling"):
            rolling.end_grace(created.key.prefix, actor="cli")
        rolling.roll_key(created.key.prefix, actor="cli", grace="0")
        counts = _counts(app)
        with pytest.raises(Conflict, match="already rolled"):
            rolling.end_grace(created.key.prefix, actor="cli")
        with pytest.raises(NotFound):
            rolling.end_grace("sgk_00000000", actor="cli")
        with pytest.raises(NotFound):
            rolling.roll_key("nonsense", actor="cli")
    assert _counts(app) == counts


# --- flask keys roll ------------------------------------------------------------------------


def _one_line_error(result) -> str:
    assert result.exit_code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_cli_roll_prints_the_new_key_alone_on_the_last_line(app, runner, make_key):
    """``flask keys roll PREFIX --grace 1h`` prints only the new key on stdout's last line."""
    created = make_key()
    result = runner.invoke(args=["keys", "roll", created.key.prefix, "--grace", "1h"])
    assert result.exit_code == 0, result.output
    last = result.stdout.strip().splitlines()[-1]
    assert KEY_RE.fullmatch(last)
    with app.app_context():
        assert verify(last).ok
        old = _key(created.key.prefix)
        assert old.successor.prefix == last[:12]
        assert old.sunset_at - utcnow() <= timedelta(hours=1)
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "key.rolled"))
        assert event.actor == audit.CLI_ACTOR
    assert last not in result.stderr


def test_cli_roll_defaults_to_24_hours(app, runner, make_key):
    """Without --grace the old key stops in 24 hours."""
    created = make_key()
    assert runner.invoke(args=["keys", "roll", created.key.prefix]).exit_code == 0
    with app.app_context():
        left = _key(created.key.prefix).sunset_at - utcnow()
        assert timedelta(hours=23, minutes=59) < left <= timedelta(hours=24)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--grace", "2h"], "Grace must be 0, 30m, 1h, 24h or 7d"),
        (["--grace", "2001-01-01T00:00Z"], "must be in the future"),
        (["--grace", (datetime.now(UTC) + timedelta(days=40)).isoformat()], "at most 30 days"),
        (["--grace", "1h\x07"], "control character"),
        (["--grace"], "requires an argument"),
    ],
)
def test_cli_roll_bad_grace_is_one_line_and_writes_nothing(app, runner, make_key, args, needle):
    """A bad --grace is one line on stderr, a non-zero exit, and nothing written."""
    created = make_key()
    counts = _counts(app)
    assert needle in _one_line_error(runner.invoke(args=["keys", "roll", created.key.prefix, *args]))
    assert _counts(app) == counts


def test_cli_roll_of_a_key_that_cannot_roll_is_one_line(app, runner, make_key):
    """Rolling a revoked key, a rolling key or an unknown prefix: one line, nothing written."""
    revoked, rolling_key = make_key(), make_key()
    runner.invoke(args=["keys", "revoke", revoked.key.prefix])
    runner.invoke(args=["keys", "roll", rolling_key.key.prefix])
    counts = _counts(app)
    assert "only an active key" in _one_line_error(runner.invoke(args=["keys", "roll", revoked.key.prefix]))
    assert "is rolling" in _one_line_error(runner.invoke(args=["keys", "roll", rolling_key.key.prefix]))
    assert "no API key" in _one_line_error(runner.invoke(args=["keys", "roll", "sgk_00000000"]))
    assert _counts(app) == counts


def test_cli_end_grace(app, runner, make_key):
    """``flask keys end-grace PREFIX`` cuts a rolling key over; twice is a one-line error."""
    created = make_key()
    runner.invoke(args=["keys", "roll", created.key.prefix])
    assert runner.invoke(args=["keys", "end-grace", created.key.prefix]).exit_code == 0
    with app.app_context():
        assert verify(created.raw_key).reason == KEY_ROLLED
    assert "already rolled" in _one_line_error(runner.invoke(args=["keys", "end-grace", created.key.prefix]))
