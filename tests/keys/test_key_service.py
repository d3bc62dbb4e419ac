"""Key lifecycle through the service: create, edit, activate, deactivate, revoke, search."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from app.catalogue import ALL_ABILITIES
from app.extensions import db
from app.keys import rolling, service
from app.keys.hashing import check_secret
from app.keys.verification import KEY_ROLLED, verify
from app.models.api_keys import ApiKey, KeyStatus
from app.models.audit import AuditEvent
from app.models.types import utcnow
from app.usage import least_privilege
from app.validation.errors import Conflict, InvalidInput, NotFound

# Both databases: the key service's writes, constraints and lookups.
pytestmark = pytest.mark.both_databases


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ApiKey))


def _snapshot(app, prefix):
    with app.app_context():
        key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        return (key.name, list(key.abilities), key.status, key.rate_limit, key.expires_at)


def test_create_stores_only_prefix_and_bcrypt_hash(app, make_key):
    """The row holds the 12-character prefix and a bcrypt hash of the whole key, never the key."""
    created = make_key(name="ERP sync", abilities=["products:list", "products:show"], rate_limit=120)
    with app.app_context():
        key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == created.raw_key[:12]))
        assert key.key_hash.startswith("$2b$04$")
        assert check_secret(created.raw_key, key.key_hash)
        assert created.raw_key not in repr(db.session.execute(select(ApiKey.__table__)).all())
        assert key.rate_limit == 120
        assert key.status is KeyStatus.ACTIVE
        assert key.abilities == ["products:list", "products:show"]


def test_default_rate_limit_is_60_per_minute(app, make_key):
    """A key created without a rate limit gets 60 requests/minute."""
    assert make_key().key.rate_limit == 60


def test_name_is_trimmed(app, make_key):
    """Surrounding whitespace is not part of the name."""
    assert make_key(name="  Warehouse feed  ").key.name == "Warehouse feed"


def _future():
    return datetime.now(UTC) + timedelta(days=30)


BAD_CREATE_INPUT = {
    "empty-name": ({"name": ""}, "name"),
    "whitespace-name": ({"name": "   "}, "name"),
    "200-char-name": ({"name": "n" * 200}, "name"),
    "no-abilities": ({"abilities": []}, "abilities"),
    "unknown-ability-delete": ({"abilities": ["products:delete"]}, "abilities"),
    "unknown-ability-wildcard": ({"abilities": ["admin:*"]}, "abilities"),
    "duplicate-abilities": ({"abilities": ["products:list", "products:list"]}, "abilities"),
    "rate-0": ({"rate_limit": 0}, "rate_limit"),
    "rate-minus-1": ({"rate_limit": -1}, "rate_limit"),
    "rate-100001": ({"rate_limit": 100_001}, "rate_limit"),
    "rate-abc": ({"rate_limit": "abc"}, "rate_limit"),
    "expiry-in-past": ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
    "expiry-not-a-date": ({"expires_at": "next tuesday"}, "expires_at"),
    "unknown-owner": ({"owner": "nobody@example.com"}, "owner"),
}


@pytest.mark.parametrize("changes,field", BAD_CREATE_INPUT.values(), ids=BAD_CREATE_INPUT.keys())
def test_bad_create_input_is_refused_with_a_field_error_and_nothing_written(app, make_user, changes, field):
    """Each bad value names its field; no row is written."""
    owner = make_user(email="owner@example.com")
    kwargs = {"name": "Feed", "owner": owner.email, "abilities": ["products:list"], **changes}
    with app.app_context(), pytest.raises(InvalidInput) as excinfo:
        service.create_key(**kwargs, actor="tests")
    assert field in excinfo.value.errors
    assert excinfo.value.errors[field][0]
    assert _count(app) == 0


def test_rate_limit_bounds_are_inclusive(app, make_key):
    """1 and 100,000 requests/minute are both accepted."""
    assert make_key(rate_limit=1).key.rate_limit == 1
    assert make_key(rate_limit=100_000).key.rate_limit == 100_000


def test_expiry_without_zone_is_taken_as_utc(app, make_key):
    """An ISO 8601 value without an offset means UTC; offsets are converted to UTC."""
    key = make_key(expires_at="2099-01-02T03:04:00").key
    assert key.expires_at == datetime(2099, 1, 2, 3, 4, tzinfo=UTC)
    key = make_key(expires_at="2099-01-02T03:04:00+02:00").key
    assert key.expires_at == datetime(2099, 1, 2, 1, 4, tzinfo=UTC)


def test_all_abilities_can_be_granted(app, make_key):
    """Every ability of the catalogue is valid."""
    assert make_key(abilities=list(ALL_ABILITIES)).key.abilities == list(ALL_ABILITIES)


def test_deactivate_then_activate(app, make_key):
    """An inactive key can be activated again."""
    prefix = make_key().key.prefix
    with app.app_context():
        assert service.deactivate_key(prefix, actor="tests").status is KeyStatus.INACTIVE
        assert service.activate_key(prefix, actor="tests").status is KeyStatus.ACTIVE


def test_revocation_is_final(app, make_key):
    """A revoked key cannot be activated, deactivated, edited or revoked again; nothing changes."""
    prefix = make_key().key.prefix
    with app.app_context():
        revoked = service.revoke_key(prefix, actor="tests")
        assert revoked.status is KeyStatus.REVOKED
        assert revoked.revoked_at is not None
    before = _snapshot(app, prefix)
    for action, kwargs in [
        (service.revoke_key, {}),
        (service.activate_key, {}),
        (service.deactivate_key, {}),
        (service.edit_key, {"name": "new"}),
    ]:
        with app.app_context(), pytest.raises(Conflict):
            action(prefix, actor="tests", **kwargs)
    assert _snapshot(app, prefix) == before


def _audit_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent))


@pytest.mark.parametrize("status_when_rolled", ["active", "inactive"])
def test_a_key_past_its_cutover_allows_revoke_only(app, make_key, status_when_rolled):
    """A rolled key past its cutover is dead (SPEC §7): activate, deactivate, edit, grant,
    remove unused, roll and end grace are each refused with nothing written, so the API keeps
    answering key_rolled; Revoke still works. Also for a key switched off while it was rolling."""
    created = make_key(abilities=["products:list", "brands:list"])
    prefix = created.key.prefix
    with app.app_context():
        rolling.roll_key(prefix, actor="tests", grace="1h")
        key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        key.status = KeyStatus(status_when_rolled)
        key.sunset_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert service.allowed_actions(key) == {service.KeyAction.REVOKE}
    before, events = _snapshot(app, prefix), _audit_count(app)
    attempts = [
        lambda: service.activate_key(prefix, actor="tests"),
        lambda: service.deactivate_key(prefix, actor="tests"),
        lambda: service.edit_key(prefix, actor="tests", name="Renamed"),
        lambda: least_privilege.grant_ability(prefix, "customers:list", actor="tests"),
        lambda: least_privilege.remove_unused_abilities(prefix, actor="tests"),
        lambda: rolling.roll_key(prefix, actor="tests"),
        lambda: rolling.end_grace(prefix, actor="tests"),
    ]
    for attempt in attempts:
        with app.app_context(), pytest.raises(Conflict, match=f"key {prefix} is (already )?rolled"):
            attempt()
    assert (_snapshot(app, prefix), _audit_count(app)) == (before, events)
    with app.app_context():
        if status_when_rolled == "active":
            assert verify(created.raw_key).reason == KEY_ROLLED
        assert service.revoke_key(prefix, actor="tests").status is KeyStatus.REVOKED


def test_a_rolling_key_is_cut_over_rather_than_deactivated(app, make_key):
    """In its grace period the old key can be edited, revoked or cut over now, not deactivated
    (it would answer key_inactive where it should say key_rolled and name its new key)."""
    prefix = make_key().key.prefix
    with app.app_context():
        rolling.roll_key(prefix, actor="tests", grace="1h")
        key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        assert service.allowed_actions(key) == {
            service.KeyAction.EDIT,
            service.KeyAction.END_GRACE,
            service.KeyAction.REVOKE,
        }
        with pytest.raises(Conflict, match="end its grace period"):
            service.deactivate_key(prefix, actor="tests")


@pytest.mark.parametrize("prefix", ["sgk_NOPE0000", "nope", "", "sgk_" + "x" * 100])
def test_unknown_prefix_is_not_found(app, prefix):
    """Lifecycle calls on a prefix that does not exist raise NotFound."""
    with app.app_context(), pytest.raises(NotFound):
        service.deactivate_key(prefix, actor="tests")


def test_edit_changes_only_what_is_given(app, make_key):
    """Editing the rate limit keeps name and abilities."""
    created = make_key(name="Feed", abilities=["brands:list"])
    with app.app_context():
        key = service.edit_key(created.key.prefix, actor="tests", rate_limit=500)
        assert (key.name, key.abilities, key.rate_limit) == ("Feed", ["brands:list"], 500)


@pytest.mark.parametrize(
    "changes",
    [{"name": ""}, {"abilities": ["x:y"]}, {"rate_limit": 0}, {"expires_at": "2001-01-01T00:00:00Z"}],
    ids=["empty-name", "unknown-ability", "rate-0", "past-expiry"],
)
def test_bad_edit_changes_nothing(app, make_key, changes):
    """A refused edit leaves the row exactly as it was."""
    prefix = make_key(name="Feed").key.prefix
    before = _snapshot(app, prefix)
    with app.app_context(), pytest.raises(InvalidInput):
        service.edit_key(prefix, actor="tests", **changes)
    assert _snapshot(app, prefix) == before


def _search(app, query, status="all"):
    with app.app_context():
        return sorted(k.name for k in db.session.scalars(service.search_keys(query, status)))


def test_search_matches_name_prefix_owner_name_and_email(app, make_user, make_key):
    """One box finds keys by name, key prefix, owner name or owner email, case-insensitively."""
    sync = make_user(email="sync@amazon-bot.example", name="Amazon SP-API sync", is_system=True)
    alice = make_user(email="alice@example.com", name="Alice Jones")
    erp = make_key(name="ERP export", owner=alice)
    make_key(name="Repricer", owner=sync)
    assert _search(app, "erp") == ["ERP export"]
    assert _search(app, erp.key.prefix[4:10]) == ["ERP export"]
    assert _search(app, "sp-api") == ["Repricer"]
    assert _search(app, "AMAZON-BOT") == ["Repricer"]
    assert _search(app, "") == ["ERP export", "Repricer"]


def test_search_treats_percent_and_underscore_literally(app, make_key):
    """% and _ are not wildcards."""
    make_key(name="100% coverage")
    make_key(name="plain")
    make_key(name="snake_case")
    assert _search(app, "%") == ["100% coverage"]
    # Every prefix holds "sgk_", so test "_" inside a longer term.
    assert _search(app, "e_c") == ["snake_case"]
    assert _search(app, "0%") == ["100% coverage"]
    assert _search(app, "' OR 1=1--") == []


def test_search_filters_by_derived_status(app, make_key):
    """Expired is derived from expires_at; 'all' hides revoked keys."""
    make_key(name="live")
    past = make_key(name="expiring", expires_at=_future())
    off = make_key(name="off")
    gone = make_key(name="gone")
    with app.app_context():
        service.deactivate_key(off.key.prefix, actor="tests")
        service.revoke_key(gone.key.prefix, actor="tests")
        key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == past.key.prefix))
        key.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()
    assert _search(app, "", "all") == ["expiring", "live", "off"]
    assert _search(app, "", "active") == ["live"]
    assert _search(app, "", "expired") == ["expiring"]
    assert _search(app, "", "inactive") == ["off"]
    assert _search(app, "", "revoked") == ["gone"]
    with app.app_context(), pytest.raises(InvalidInput):
        service.search_keys("", "bogus")


def test_working_filter_hides_revoked_and_dead_keys_which_other_filters_reach(app, make_key):
    """SPEC §7: "working" (the panel's default) hides revoked keys and keys past their roll
    cutover; "rolled" lists the dead ones, "all" and "revoked" still reach them."""
    for name in ("live", "off", "gone", "grace", "dead"):
        make_key(name=name)
    with app.app_context():
        prefixes = {name: prefix for name, prefix in db.session.execute(select(ApiKey.name, ApiKey.prefix))}
        service.deactivate_key(prefixes["off"], actor="tests")
        service.revoke_key(prefixes["gone"], actor="tests")
        rolling.roll_key(prefixes["grace"], actor="tests", grace="1h")
        rolling.roll_key(prefixes["dead"], actor="tests", grace="0")
        db.session.execute(
            update(ApiKey)
            .where(ApiKey.name == "dead", ApiKey.successor_id.is_(None))
            .values(name="dead (new)")
        )
        db.session.execute(
            update(ApiKey)
            .where(ApiKey.name == "grace", ApiKey.successor_id.is_(None))
            .values(name="grace (new)")
        )
        db.session.commit()
    working = ["dead (new)", "grace", "grace (new)", "live", "off"]
    assert _search(app, "", "working") == working
    assert _search(app, "", "rolled") == ["dead"]
    assert _search(app, "", "all") == sorted([*working, "dead"])
    assert _search(app, "", "active") == ["dead (new)", "grace", "grace (new)", "live"]
    assert _search(app, "", "revoked") == ["gone"]


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"name": "Feed\x00"}, "name"),
        ({"name": "Feed\x1b[31m"}, "name"),
        ({"rate_limit": "1_20"}, "rate_limit"),
        ({"rate_limit": " 120"}, "rate_limit"),
        ({"rate_limit": "\u0661\u0662\u0660"}, "rate_limit"),
        ({"expires_at": "0001-01-01T00:00:00+01:00"}, "expires_at"),
        ({"expires_at": "9999-12-31T23:59:59-01:00"}, "expires_at"),
    ],
)
def test_hostile_input_is_refused_by_the_service_for_every_caller(app, make_user, changes, field):
    """The service's own guard: control characters, non-ASCII numbers, instants beyond the calendar."""
    owner = make_user()
    data = {"name": "Feed", "owner": owner.email, "abilities": ["products:list"], **changes}
    with app.app_context(), pytest.raises(InvalidInput) as excinfo:
        service.create_key(**data, actor="tests")
    assert set(excinfo.value.errors) == {field}
    assert _count(app) == 0
