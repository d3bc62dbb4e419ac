"""Verifying a presented key (SPEC §5 steps 2, 4, 5 and 7).

Order matters: the syntax and checksum are checked with no database query; the row is
then loaded by prefix; bcrypt runs at most once per key per process (proven keys are
remembered by SHA-256, with the stored hash they matched); status, expiry, abilities and
limit are read fresh every time, so a deactivation or revocation is seen by the very next
request in every worker.

A well-formed key whose prefix is unknown is checked against a dummy hash of the configured
cost (made once per app, ``DUMMY_HASH_NAME`` in ``app.extensions``), so it costs the same
bcrypt as a wrong secret and goes through the same ``bcrypt_gate``: timing and throttling
tell a caller nothing about which prefixes exist.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Select, bindparam, or_, select, update

from app.extensions import db
from app.keys.cache import ProvenKeyCache
from app.keys.format import parse_key
from app.keys.hashing import check_secret, dummy_hash
from app.models.api_keys import ApiKey, KeyStatus
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


@dataclass(frozen=True)
class KeyState:
    """What the hot path needs of a key's row, read fresh from the database on every request."""

    id: int
    prefix: str
    key_hash: str
    status: KeyStatus
    abilities: list[str]
    # Canonical CIDR strings; empty: any address (``app.keys.allowed_ips``).
    allowed_ips: list[str]
    rate_limit: int
    expires_at: datetime | None
    last_used_at: datetime | None
    # Rolling (app.keys.rolling): the replacing key, the cutover, and the shared bucket.
    successor_id: int | None
    sunset_at: datetime | None
    bucket: str | None

    @property
    def bucket_name(self) -> str:
        """The rate-limit bucket: shared along a roll chain, else the key's own prefix."""
        return self.bucket or self.prefix

    def is_rolled(self, now: datetime) -> bool:
        """Return True when the key was rolled and its cutover has passed."""
        return self.successor_id is not None and (self.sunset_at is None or self.sunset_at <= now)

    def is_expired(self, now: datetime) -> bool:
        """Return True when the key has an expiry that has passed."""
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True)
class Verification:
    """The outcome of ``verify``: the key's state, or the reason it was refused.

    ``checked_secret`` tells whether bcrypt ran (and so whether ``bcrypt_gate`` was entered).
    """

    key: KeyState | None
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
    """The hot-path query, built once: constructing it per request cost ~0.1 ms CPU."""
    # The columns of ``KeyState`` as a plain row: no ORM entity, no identity map, so state
    # is always read fresh and loading it costs a fraction of an ORM load.
    table = ApiKey.__table__
    columns = [table.c[item.name] for item in fields(KeyState)]
    return select(*columns).where(table.c.prefix == bindparam("prefix"))


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
    parsed = parse_key(raw_key)
    if parsed is None:
        return Verification(None, INVALID_KEY)
    # On the session's connection: a plain row needs none of the ORM's execution steps.
    row = db.session.connection().execute(_key_by_prefix(), {"prefix": parsed.prefix}).first()
    key = KeyState(*row) if row is not None else None
    cache = proven_keys()
    checked = False
    if key is None or not cache.is_proven(parsed.raw, key.id, key.key_hash):
        hashed = key.key_hash if key is not None else current_app.extensions[DUMMY_HASH_NAME]
        with bcrypt_gate() if bcrypt_gate is not None else nullcontext():
            matched = check_secret(parsed.raw, hashed)
        if key is None or not matched:
            return Verification(None, INVALID_KEY, checked_secret=True)
        checked = True
        cache.remember(parsed.raw, key.id, key.key_hash)
    now = now or utcnow()
    if key.status is KeyStatus.REVOKED:
        return Verification(key, KEY_REVOKED, checked)
    if key.status is not KeyStatus.ACTIVE:
        return Verification(key, KEY_INACTIVE, checked)
    if key.is_rolled(now):
        return Verification(key, KEY_ROLLED, checked)
    if key.is_expired(now):
        return Verification(key, KEY_EXPIRED, checked)
    touch_last_used(key, now)
    return Verification(key, None, checked)


def touch_last_used(key: KeyState, now: datetime) -> None:
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
