"""verify(): the hot path's checks, in SPEC order, with the proven-key cache."""

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select

from app.extensions import db
from app.keys import service
from app.keys.format import build_key
from app.keys.verification import ProvenKeyCache, proven_keys, verify
from app.models.api_keys import ApiKey

# Both databases: key lookup and the Last Used At conditional update.
pytestmark = pytest.mark.both_databases


def _verify(app, raw, **kwargs):
    with app.app_context():
        return verify(raw, **kwargs)


def test_valid_key_is_accepted(app, make_key):
    """A freshly created key verifies and returns its row."""
    created = make_key(abilities=["brands:list"])
    result = _verify(app, created.raw_key)
    assert result.ok
    assert result.key.prefix == created.key.prefix
    assert result.key.abilities == ["brands:list"]


def test_proven_key_needs_no_second_bcrypt(app, make_key, bcrypt_calls):
    """bcrypt runs once per key per process; later verifies only read the row."""
    created = make_key()
    assert _verify(app, created.raw_key).checked_secret is True
    assert bcrypt_calls["checkpw"] == 1
    for _ in range(5):
        result = _verify(app, created.raw_key)
        assert result.ok and result.checked_secret is False
    assert bcrypt_calls["checkpw"] == 1


def test_a_proven_key_skips_the_syntax_check(app, make_key, monkeypatch):
    """A key whose exact characters matched its hash is not parsed and checksummed again."""
    from app.keys import format as key_format
    from app.keys import verification

    parsed: list[object] = []

    def counting_parse_key(raw: object) -> object:
        parsed.append(raw)
        return key_format.parse_key(raw)

    monkeypatch.setattr(verification, "parse_key", counting_parse_key)
    created = make_key()
    assert _verify(app, created.raw_key).checked_secret is True
    assert _verify(app, created.raw_key).ok
    assert _verify(app, created.raw_key).ok
    assert len(parsed) == 1


def test_cache_is_keyed_by_sha256_never_the_key(app, make_key):
    """The proven-key cache holds digests, not keys."""
    created = make_key()
    _verify(app, created.raw_key)
    with app.app_context():
        entries = proven_keys().fingerprints()
    assert len(entries) == 1
    assert isinstance(entries[0], bytes) and len(entries[0]) == 32
    assert created.raw_key.encode() not in entries[0]


def test_deactivation_is_seen_by_the_very_next_verify(app, make_key):
    """State is read fresh even though the key is cached as proven."""
    created = make_key()
    assert _verify(app, created.raw_key).ok
    with app.app_context():
        service.deactivate_key(created.key.prefix, actor="tests")
    assert _verify(app, created.raw_key).reason == "key_inactive"
    with app.app_context():
        service.activate_key(created.key.prefix, actor="tests")
    assert _verify(app, created.raw_key).ok


def test_same_session_sees_a_change_made_elsewhere(app, make_key):
    """Even within one session, a change committed by another session is seen."""
    created = make_key()
    with app.app_context():
        assert verify(created.raw_key).ok
        with db.engine.begin() as conn:
            conn.execute(ApiKey.__table__.update().values(status="inactive"))
        assert verify(created.raw_key).reason == "key_inactive"


def test_revoked_key_is_refused(app, make_key):
    """After revocation the key is refused with its own reason."""
    created = make_key()
    assert _verify(app, created.raw_key).ok
    with app.app_context():
        service.revoke_key(created.key.prefix, actor="tests")
    assert _verify(app, created.raw_key).reason == "key_revoked"


def test_expired_key_is_refused_after_its_expiry(app, make_key):
    """Expiry is compared in UTC, identically on SQLite and PostgreSQL."""
    expires = datetime.now(UTC) + timedelta(hours=1)
    created = make_key(expires_at=expires)
    assert _verify(app, created.raw_key, now=expires - timedelta(seconds=1)).ok
    assert _verify(app, created.raw_key, now=expires).reason == "key_expired"
    assert _verify(app, created.raw_key, now=expires + timedelta(days=1)).reason == "key_expired"


def test_wrong_secret_with_a_real_prefix_is_invalid(app, make_key, bcrypt_calls):
    """A well-formed key whose secret does not match the hash is refused after one bcrypt."""
    created = make_key()
    forged = build_key(created.key.prefix[4:])
    result = _verify(app, forged)
    assert (result.reason, result.checked_secret) == ("invalid_key", True)
    assert bcrypt_calls["checkpw"] == 1


@pytest.mark.parametrize("raw", ["", "sgk_short", "x" * 51, "sgk_" + "é" * 47, None])
def test_malformed_key_costs_no_query_and_no_bcrypt(app, bcrypt_calls, raw):
    """Garbage is refused by the checksum check alone."""
    statements = []
    with app.app_context():
        engine = db.engine
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert verify(raw).reason == "invalid_key"
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    assert statements == []
    assert bcrypt_calls["checkpw"] == 0


def test_unknown_prefix_costs_one_bcrypt_like_a_wrong_secret(app, make_key, bcrypt_calls):
    """A well-formed key for a prefix that does not exist is checked against a dummy hash,
    so it costs the same bcrypt as a wrong secret and tells a timer nothing."""
    from app.keys.format import build_key

    created = make_key()
    unknown = _verify(app, build_key("Zz9Yy8Xx"))
    wrong = _verify(app, build_key(created.key.prefix[4:]))
    assert (unknown.key, unknown.reason, unknown.checked_secret) == (None, "invalid_key", True)
    assert (wrong.key, wrong.reason, wrong.checked_secret) == (None, "invalid_key", True)
    assert bcrypt_calls["checkpw"] == 2


def test_dummy_hash_has_the_configured_cost_and_is_made_once_per_app(app):
    """The dummy hash is a real bcrypt hash of API_KEY_BCRYPT_ROUNDS, stored on the app."""
    import bcrypt

    from app.keys.verification import DUMMY_HASH_NAME

    dummy = app.extensions[DUMMY_HASH_NAME]
    assert dummy.startswith(f"$2b${app.config['API_KEY_BCRYPT_ROUNDS']:02d}$") and len(dummy) == 60
    assert bcrypt.checkpw(b"anything", dummy.encode()) is False
    with app.app_context():
        verify(build_key("Zz9Yy8Xx"))
    assert app.extensions[DUMMY_HASH_NAME] == dummy


def test_bcrypt_gate_is_entered_around_every_check_and_can_refuse_before_bcrypt(app, make_key, bcrypt_calls):
    """Unknown prefixes and unproven keys go through the gate; a proven key does not."""
    created = make_key()
    entered = []

    @contextmanager
    def gate():
        entered.append(bcrypt_calls["checkpw"])
        yield

    class Refused(Exception):
        pass

    @contextmanager
    def refusing_gate():
        raise Refused
        yield

    assert _verify(app, build_key("Zz9Yy8Xx"), bcrypt_gate=gate).reason == "invalid_key"
    assert _verify(app, created.raw_key, bcrypt_gate=gate).ok
    assert _verify(app, created.raw_key, bcrypt_gate=refusing_gate).ok  # proven: no gate
    assert entered == [0, 1]  # entered before each bcrypt, twice in all
    with pytest.raises(Refused):
        _verify(app, build_key(created.key.prefix[4:]), bcrypt_gate=refusing_gate)
    assert bcrypt_calls["checkpw"] == 2


def test_a_changed_stored_hash_makes_the_proven_key_prove_itself_again(app, make_key, bcrypt_calls):
    """The cache remembers (row id, stored hash): a new secret on the same row voids the old one."""
    from app.keys.hashing import hash_secret

    created = make_key()
    assert _verify(app, created.raw_key).ok
    assert _verify(app, created.raw_key).checked_secret is False
    assert bcrypt_calls["checkpw"] == 1
    new_key = build_key(created.key.prefix[4:])
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(ApiKey.__table__.update().values(key_hash=hash_secret(new_key, 4)))
    result = _verify(app, created.raw_key)
    assert (result.ok, result.reason, result.checked_secret) == (False, "invalid_key", True)
    assert bcrypt_calls["checkpw"] == 2
    assert _verify(app, new_key).ok


def test_last_used_is_written_at_most_once_a_minute(app, make_key):
    """Last Used At is accurate to a minute without a write per request."""
    created = make_key()
    t0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    updates = []
    with app.app_context():
        listener = lambda conn, cursor, statement, *rest: (  # noqa: E731
            updates.append(statement) if statement.lstrip().upper().startswith("UPDATE") else None
        )
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            for seconds in (0, 10, 30, 59):
                assert verify(created.raw_key, now=t0 + timedelta(seconds=seconds)).ok
            assert len(updates) == 1
            assert verify(created.raw_key, now=t0 + timedelta(seconds=61)).ok
            assert len(updates) == 2
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        key = db.session.scalar(select(ApiKey))
        assert key.last_used_at == t0 + timedelta(seconds=61)


def test_proven_key_cache_is_bounded():
    """The cache forgets the least recently used key beyond its size."""

    def row(key_id: int, key_hash: str) -> ApiKey:
        return ApiKey(id=key_id, prefix=f"sgk_0000000{key_id}", key_hash=key_hash)

    cache = ProvenKeyCache(max_size=2)
    cache.remember("a" * 51, row(1, "hash-a"))
    cache.remember("b" * 51, row(2, "hash-b"))
    assert cache.proof("a" * 51) is not None  # touch a: b is now the oldest
    cache.remember("c" * 51, row(3, "hash-c"))
    assert len(cache) == 2
    assert cache.proof("b" * 51) is None
    proof = cache.proof("a" * 51)
    assert proof is not None and proof.prefix == "sgk_00000001" and proof.matches(row(1, "hash-a"))
    assert not proof.matches(row(99, "hash-a"))  # proven against another row: not proven
    assert not proof.matches(row(1, "hash-new"))  # the row's hash changed: not proven
    assert cache.proof("a" * 50) is None and cache.proof("é" * 51) is None  # never hashed
