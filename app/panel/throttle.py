"""Sign-in throttling: hard limits per address and per (email, address), and per email a 429
that spares the addresses its user signs in from. Nothing here ever waits: a sleeping request
held a worker, and 60 failed sign-ins froze the whole app (docs/decisions/012-sign-in-throttling.md).

Every attempt is counted before the password is checked (``limiter.limiter.hit``, atomic in
Redis and in memory); the known-address lookup (the audit log's ``session.signed_in`` events of
the last ``KNOWN_ADDRESS_DAYS``) runs only past the per-email threshold. Storage down: 503.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from flask import current_app
from limits import RateLimitItem, parse

from app import accounts, audit
from app.audit import security_log
from app.extensions import limiter
from app.models.types import utcnow
from app.validation.untrusted import address_bucket

ADDRESS_SCOPE = "sign-in-address"
EMAIL_ADDRESS_SCOPE = "sign-in-email-address"
EMAIL_SCOPE = "sign-in-email"
# The per-email bucket counts a few attempts past its threshold: enough for the back-off to
# reach its cap, bounded so one email's bucket cannot grow without limit.
EMAIL_HEADROOM = 32
# An address the user signed in from this recently is theirs: their attempts are not refused
# for their email's count. At most this many of their latest addresses are compared.
KNOWN_ADDRESS_DAYS = 90
KNOWN_ADDRESS_LOOKUP = 200


@dataclass(frozen=True)
class Refusal:
    """A sign-in attempt over a limit: which one, and when to try again."""

    limit: str  # "address", "email_address" or "email"
    retry_after: int  # whole seconds


def enabled() -> bool:
    """True when rate limiting is on for this app (``RATELIMIT_ENABLED``)."""
    return bool(limiter.enabled and limiter.initialized)


@lru_cache(maxsize=16)
def _item(limit: str) -> RateLimitItem:
    return parse(limit)


@lru_cache(maxsize=16)
def _email_item(limit: str) -> RateLimitItem:
    threshold = _item(limit)
    return type(threshold)(threshold.amount + EMAIL_HEADROOM, threshold.multiples)


def _email_bucket(email: str) -> str:
    # A digest: bucket names in Redis hold no email address and no odd characters.
    return hashlib.sha256(email.encode("utf-8")).hexdigest()[:32]


def _hard_limits(email: str, address: str) -> list[tuple[str, RateLimitItem, tuple[str, ...]]]:
    config = current_app.config
    where = address_bucket(address)
    return [
        ("address", _item(config["SIGN_IN_LIMIT_PER_ADDRESS"]), (where, ADDRESS_SCOPE)),
        (
            "email_address",
            _item(config["SIGN_IN_LIMIT_PER_EMAIL_ADDRESS"]),
            (_email_bucket(email), where, EMAIL_ADDRESS_SCOPE),
        ),
    ]


def admit(email: str, address: str) -> Refusal | None:
    """Count this attempt against the hard limits, before any password check; a Refusal if over."""
    if not enabled():
        return None
    for name, item, identifiers in _hard_limits(email, address):
        if not limiter.limiter.hit(item, *identifiers):
            reset, _ = limiter.limiter.get_window_stats(item, *identifiers)
            return Refusal(name, max(1, math.ceil(reset - time.time())))
    return None


def email_backoff(email: str) -> int:
    """Count this attempt against the email's limit; the Retry-After (s) past it, else 0."""
    if not enabled():
        return 0
    config = current_app.config
    threshold = _item(config["SIGN_IN_LIMIT_PER_EMAIL"]).amount
    item = _email_item(config["SIGN_IN_LIMIT_PER_EMAIL"])
    identifiers = (_email_bucket(email), EMAIL_SCOPE)
    limiter.limiter.hit(item, *identifiers)
    _, remaining = limiter.limiter.get_window_stats(item, *identifiers)
    over = item.amount - remaining - threshold
    if over <= 0:
        return 0
    step = config["SIGN_IN_BACKOFF_STEP_SECONDS"] * 2 ** min(over - 1, 16)
    return min(step, config["SIGN_IN_BACKOFF_MAX_SECONDS"])


def signed_in_from(email: str, address: str) -> bool:
    """True when the user of ``email`` signed in from this address (IPv6: its /64) lately."""
    if audit.stored_address(address) == audit.INVALID_ADDRESS:
        return False
    where = address_bucket(address)
    since = utcnow() - timedelta(days=KNOWN_ADDRESS_DAYS)
    known = audit.sign_in_addresses(email, since=since, limit=KNOWN_ADDRESS_LOOKUP)
    return any(address_bucket(seen) == where for seen in known)


def before_password_check(email: str, address: str) -> Refusal | None:
    """Apply every sign-in limit to an attempt, before its password is checked: a Refusal, or None."""
    refusal = admit(email, address)
    if refusal is None:
        backoff = email_backoff(email)
        if backoff and not signed_in_from(email, address):
            refusal = Refusal("email", backoff)
    if refusal is not None:
        security_log.record(
            "session.sign_in_throttled",
            email=accounts.loggable_email(email),
            address=address,
            action="refused",
            limit=refusal.limit,
            retry_after=refusal.retry_after,
        )
    return refusal


def forget_failures(email: str, address: str) -> None:
    """After a successful sign-in: clear the email's count and its (email, address) count."""
    if not enabled():
        return
    config = current_app.config
    limiter.limiter.clear(_email_item(config["SIGN_IN_LIMIT_PER_EMAIL"]), _email_bucket(email), EMAIL_SCOPE)
    _, item, identifiers = _hard_limits(email, address)[1]
    limiter.limiter.clear(item, *identifiers)
