"""Verifying a presented key (SPEC §5 steps 2, 4, 5 and 7).

Order matters: the syntax and checksum are checked with no database query; the row is
then loaded by prefix; bcrypt runs at most once per key per process (proven keys are
remembered by SHA-256, with the row and stored hash they matched, so a proven key skips the
syntax check too: its exact characters already matched); status, expiry, abilities and
limit are read fresh every time, so a deactivation or revocation is seen by the very next
request in every worker.

A well-formed key whose prefix is unknown is checked against a dummy hash of the configured
cost (made once per app, ``DUMMY_HASH_NAME`` in ``app.extensions``), so it costs the same
bcrypt as a wrong secret and goes through the same ``bcrypt_gate``: timing and throttling
tell a caller nothing about which prefixes exist.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Select, bindparam, or_, select, update

from app.extensions import db
from app.keys.format import KEY_LENGTH, parse_key
from app.keys.hashing import check_secret, dummy_hash
from app.models.api_keys import ApiKey, KeyState
from app.models.types import utcnow

EXTENSION_NAME = "stockgate.proven_keys"
DUMMY_HASH_NAME = "stockgate.dummy_key_hash"
# Last Used At is promised accurate to a minute: write at most once a minute per key.
LAST_USED_RESOLUTION = timedelta(minutes=1)

INVALID_KEY = "invalid_key"
KEY_INACTIVE = "key_inactive"
KEY_REVOKED = "key_revoked"
KEY_EXPIRED = "key_expired"
KEY_ROLLED = "key_rolled"
# The API's refusal of a key in each state the model can be in; a state absent here is served.
REFUSALS = {
    KeyState.REVOKED: KEY_REVOKED,
    KeyState.INACTIVE: KEY_INACTIVE,
    KeyState.ROLLED: KEY_ROLLED,
    KeyState.EXPIRED: KEY_EXPIRED,
}


@dataclass(frozen=True)
class Verification:
    """The outcome of ``verify``: the key's state, or the reason it was refused.

    ``checked_secret`` tells whether bcrypt ran (and so whether ``bcrypt_gate`` was entered).
    """

    key: ApiKey | None
    reason: str | None
    checked_secret: bool = False

    @property
    def ok(self) -> bool:
        """True when the key may be used."""
        return self.key is not None and self.reason is None


def init_app(app: Flask) -> None:
    """Give the app its bounded cache of proven keys (``PROVEN_KEY_CACHE_SIZE``) and its
    dummy hash for unknown prefixes (cost ``API_KEY_BCRYPT_ROUNDS``)."""
    app.extensions[EXTENSION_NAME] = ProvenKeyCache(app.config["PROVEN_KEY_CACHE_SIZE"])
    app.extensions[DUMMY_HASH_NAME] = dummy_hash(app.config["API_KEY_BCRYPT_ROUNDS"])


def proven_keys() -> ProvenKeyCache:
    """Return the current app's cache of proven keys."""
    return current_app.extensions[EXTENSION_NAME]


@cache
def _key_by_prefix() -> Select[Any]:
    """The hot path's query, built once (building it costs more than running it)."""
    table = ApiKey.__table__
    return select(*table.c).where(table.c.prefix == bindparam("prefix"))


def _load(prefix: str) -> ApiKey | None:
    """The key's row, read fresh, as a transient ``ApiKey`` (never added to the session).

    A plain row on the session's connection, handed to the model so the model's own state
    rules decide; an ORM load through the session costs about twice as much
    (docs/decisions/008-speed-code.md).
    """
    row = db.session.connection().execute(_key_by_prefix(), {"prefix": prefix}).mappings().first()
    return ApiKey(**row) if row is not None else None


def verify(
    raw_key: object,
    *,
    now: datetime | None = None,
    bcrypt_gate: Callable[[], AbstractContextManager[object]] | None = None,
) -> Verification:
    """Check a presented key; return the row when usable, else a reason code.

    ``bcrypt_gate`` is entered around every bcrypt check (never for a proven key, always for
    an unknown prefix): it may raise to refuse before bcrypt runs, so a caller can count the
    attempt first and cap concurrent checks without slowing down keys already proven.
    """
    if not isinstance(raw_key, str):
        return Verification(None, INVALID_KEY)
    cache = proven_keys()
    proof = cache.proof(raw_key)
    if proof is None:
        parsed = parse_key(raw_key)
        if parsed is None:
            return Verification(None, INVALID_KEY)
        prefix = parsed.prefix
    else:
        prefix = proof.prefix
    key = _load(prefix)
    checked = False
    if key is None or proof is None or not proof.matches(key):
        hashed = key.key_hash if key is not None else current_app.extensions[DUMMY_HASH_NAME]
        with bcrypt_gate() if bcrypt_gate is not None else nullcontext():
            matched = check_secret(raw_key, hashed)
        if key is None or not matched:
            return Verification(None, INVALID_KEY, checked_secret=True)
        checked = True
        cache.remember(raw_key, key)
    now = now or utcnow()
    refusal = REFUSALS.get(key.state(now))
    if refusal is None:
        touch_last_used(key, now)
    return Verification(key, refusal, checked)


def touch_last_used(key: ApiKey, now: datetime) -> None:
    """Record use at most once a minute per key, so most requests write nothing."""
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    # Conditional update: of several workers racing, only the first writes. It runs on its
    # own connection so the request's session (and the loaded key) is not expired by a commit.
    with db.engine.begin() as conn:
        conn.execute(
            update(ApiKey.__table__)
            .where(ApiKey.__table__.c.id == key.id)
            .where(
                or_(
                    ApiKey.__table__.c.last_used_at.is_(None),
                    ApiKey.__table__.c.last_used_at <= now - LAST_USED_RESOLUTION,
                )
            )
            .values(last_used_at=now)
        )


# The bounded, per-process memory of keys already proven by bcrypt (SPEC §5 step 4). Entries
# are keyed by the SHA-256 of the full key, never the key itself, and remember which row the key
# proved *and the stored hash it matched*: if a row's hash ever changes, the old secret is no
# longer proven and bcrypt runs again. State, expiry, abilities and limits are never cached.


def fingerprint(raw_key: str) -> bytes:
    """Return the SHA-256 digest used to remember a proven key."""
    return hashlib.sha256(raw_key.encode("ascii")).digest()


@dataclass(frozen=True)
class Proof:
    """What a proven key matched: the row (by prefix and id) and that row's stored hash."""

    prefix: str
    key_id: int
    key_hash: str

    def matches(self, key: ApiKey) -> bool:
        """True while ``key`` is still the row this proof was made against, with the same hash."""
        return key.id == self.key_id and key.key_hash == self.key_hash


class ProvenKeyCache:
    """LRU map from key fingerprint to the ``Proof`` the key made."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._entries: OrderedDict[bytes, Proof] = OrderedDict()
        self._lock = threading.Lock()

    def proof(self, raw_key: str) -> Proof | None:
        """The proof this exact key made earlier, or None (never proven, or forgotten)."""
        # Only a string of a key's length in ASCII can have been proven: anything else is not
        # hashed, and goes on to the syntax check.
        if len(raw_key) != KEY_LENGTH or not raw_key.isascii():
            return None
        digest = fingerprint(raw_key)
        with self._lock:
            proof = self._entries.get(digest)
            if proof is not None:
                self._entries.move_to_end(digest)
            return proof

    def remember(self, raw_key: str, key: ApiKey) -> None:
        """Record that ``raw_key`` matched the stored hash of ``key``'s row."""
        digest = fingerprint(raw_key)
        with self._lock:
            self._entries[digest] = Proof(key.prefix, key.id, key.key_hash)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)

    def fingerprints(self) -> list[bytes]:
        """The fingerprints remembered, least recently used first (what the cache holds)."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Forget every proven key."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
