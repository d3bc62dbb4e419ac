"""Rolling a key (SPEC §12): a new key replaces an old one, which keeps working until its cutover.

The old key points at its successor (``successor_id``) and stops at ``sunset_at``; both keys
count against one rate-limit bucket (``ApiKey.bucket_name``). Until the cutover the old key
reads **Rolling**; after it, **Rolled**, and the API answers it with 401 ``key_rolled``.

Which keys may roll, or end a grace period, is ``keys.service.refusal``'s rule, like every
other action on a key. The grace period is ``0`` (now), ``30m``, ``1h``, ``24h`` (default),
``7d``, or an ISO 8601 time (UTC when it has no offset) in the future and at most
``MAX_GRACE`` ahead. A cutover later than the old key's own expiry is moved to that expiry:
an expired key stops anyway, and the headers should tell the truth about when it stops.
Under a lifetime policy (``KEY_MAX_LIFETIME_DAYS``) the new key's copied expiry is capped at
now + the maximum (a key that never expired gets that expiry too), and its ``key.created``
event says so; the old key keeps its own expiry.
"""

from __future__ import annotations

from copy import copy
from datetime import datetime, timedelta

from marshmallow import ValidationError
from sqlalchemy import select

from app import audit
from app.extensions import db
from app.keys import service
from app.keys.inputs import max_expiry, max_lifetime_days
from app.keys.service import CreatedKey, KeyAction
from app.models.api_keys import ApiKey
from app.models.types import iso_utc, utcnow
from app.models.users import User
from app.schemas.input_fields import UtcDateTime
from app.validation.errors import Conflict, InvalidInput

# The grace periods offered by name (CLI ``--grace`` and the panel's radio buttons).
GRACE_PERIODS: dict[str, timedelta] = {
    "0": timedelta(0),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
DEFAULT_GRACE = "24h"
# Two keys working side by side for longer than a month is a forgotten roll, not a grace period.
MAX_GRACE = timedelta(days=30)
GRACE_HELP = (
    "Grace must be 0, 30m, 1h, 24h or 7d, or an ISO 8601 time within "
    f"{MAX_GRACE.days} days (e.g. 2026-01-31T12:00Z)."
)
# What a roll's new key copies from the old one (SPEC §12, and its data scope, §16); it gets the
# old key's bucket too.
COPIED_FIELDS = (
    "name",
    "owner_id",
    "abilities",
    "rate_limit",
    "expires_at",
    "description",
    "allowed_ips",
    "warehouses",
    "marketplaces",
    "hidden_fields",
)
_grace_time = UtcDateTime()


def _grace_error(message: str) -> InvalidInput:
    return InvalidInput(f"grace: {message}", {"grace": [message]})


def cutover_at(grace: str | datetime, now: datetime) -> datetime:
    """The cutover time for a named grace period or an ISO 8601 time; InvalidInput when bad."""
    if isinstance(grace, str) and grace.strip() in GRACE_PERIODS:
        return now + GRACE_PERIODS[grace.strip()]
    if isinstance(grace, str):
        if not grace.strip() or not grace.isascii():
            raise _grace_error(GRACE_HELP)
        try:
            grace = _grace_time.deserialize(grace.strip())
        except ValidationError:
            raise _grace_error(GRACE_HELP) from None
    if not isinstance(grace, datetime):
        raise _grace_error(GRACE_HELP)
    when = _grace_time.deserialize(grace)
    if when <= now:
        raise _grace_error("The cutover time must be in the future (use 0 to cut over now).")
    if when > now + MAX_GRACE:
        raise _grace_error(f"The cutover time must be at most {MAX_GRACE.days} days ahead.")
    return when


def roll_key(
    prefix: str, *, actor: str, grace: str | datetime = DEFAULT_GRACE, created_by: User | None = None
) -> CreatedKey:
    """Replace an active key by a new one; the old key works until the cutover. One transaction.

    Of several rolls of one key at the same time exactly one wins: the old row is locked
    (``service.change``) and checked again once locked, so the others get the same Conflict as
    a roll of a rolling key, and no new key exists that nobody recorded.
    """
    # Refuse what cannot roll before paying for bcrypt, and hash before taking the lock: at the
    # production cost a hash takes ~0.3 s, which every other writer would spend waiting.
    reason = service.refusal(service.get_key(prefix), KeyAction.ROLL)
    if reason is not None:
        raise Conflict(reason)
    cutover_at(grace, utcnow())

    def roll(secret: service.Secret) -> CreatedKey:
        with service.change(prefix, KeyAction.ROLL) as old:
            now = utcnow()
            sunset = cutover_at(grace, now)
            if old.expires_at is not None:
                sunset = min(sunset, old.expires_at)
            values = {field: copy(getattr(old, field)) for field in COPIED_FIELDS}  # lists too
            created_details: dict[str, str] = {"rolled_from": old.prefix}
            latest = max_expiry(now)
            if latest is not None and (old.expires_at is None or old.expires_at > latest):
                values["expires_at"] = latest
                created_details["expires_at"] = iso_utc(latest)
                created_details["reason"] = f"KEY_MAX_LIFETIME_DAYS: at most {max_lifetime_days()} days"
            created = service.mint({**values, "bucket": old.bucket_name}, secret, created_by)
            old.successor_id = created.key.id
            old.sunset_at = sunset
            audit.record(
                "key.rolled",
                actor=actor,
                key_prefix=old.prefix,
                details={"new_prefix": created.key.prefix, "sunset_at": iso_utc(sunset)},
            )
            # The new key's own history starts here too, pointing back at the key it replaces.
            audit.record("key.created", actor=actor, key_prefix=created.key.prefix, details=created_details)
            db.session.commit()
        return created

    return service.with_unique_prefix(roll, first=service.new_secret())


def end_grace(prefix: str, *, actor: str) -> ApiKey:
    """Cut a rolling key over now: from the next request on it answers ``key_rolled``."""
    with service.change(prefix, KeyAction.END_GRACE) as key:
        service.cut_over(key, actor=actor)
        db.session.commit()
    return key


def successor_prefix(successor_id: int) -> str | None:
    """The prefix of the key that replaced another (for the ``key_rolled`` message)."""
    table = ApiKey.__table__
    return db.session.execute(select(table.c.prefix).where(table.c.id == successor_id)).scalar()
