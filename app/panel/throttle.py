"""Sign-in throttling: hard limits per address and per (email, address), a slow-down per email.

**Decision** (issue 15, item 1). Refusing sign-ins per email, whatever the address, lets
anyone lock the real admin out by typing her email with wrong passwords. So:

* **Per address** (``SIGN_IN_LIMIT_PER_ADDRESS``, default 30 per 10 minutes) and **per email
  and address** (``SIGN_IN_LIMIT_PER_EMAIL_ADDRESS``, default 5 per 10 minutes) are hard: beyond
  them the sign-in page answers 429 with ``Retry-After``, without checking the password. IPv6
  addresses count per /64, the block one subscriber usually holds.
* **Per email across addresses** is soft: after ``SIGN_IN_SLOWDOWN_AFTER`` (default 5 per
  10 minutes) each further attempt waits on the server, ``SIGN_IN_SLOWDOWN_STEP_MS`` doubling
  each time (250 ms, 500 ms, 1 s, ...) up to ``SIGN_IN_SLOWDOWN_MAX_MS`` (3 s), and then the
  password *is* checked: the right password still signs in. A botnet guessing one admin's
  password is slowed to a trickle, and the admin is never refused.
* **Why the cap.** A waiting request holds a server thread (waitress has four, a gunicorn sync
  worker one), so an unbounded wait would let a few attackers stall the whole panel; a few
  seconds already make guessing slow, and the hard per-address limits bound how many waits one
  address can cause.

Every attempt is counted **before** the password is checked, through ``limiter.limiter.hit``
(the limits strategy and storage Flask-Limiter built; atomic in Redis and in memory), so
concurrent attempts never get more than the limit through. A successful sign-in clears its email's
slow-down and its (email, address) count; the per-address count stays, so signing in to one's
own account does not buy more guesses at another. A form that does not validate costs nothing:
no password is checked. With the storage down, ``hit`` raises ``limits.errors.StorageError``
and the sign-in page answers 503 (fail closed, like the API).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
import time
from dataclasses import dataclass
from functools import lru_cache

from flask import current_app
from limits import RateLimitItem, parse

from app import security_events
from app.extensions import limiter

ADDRESS_SCOPE = "sign-in-address"
EMAIL_ADDRESS_SCOPE = "sign-in-email-address"
EMAIL_SCOPE = "sign-in-email"
# The slow-down bucket counts a few attempts past its threshold: enough to reach the cap,
# bounded so one email's bucket cannot grow without limit.
SLOWDOWN_HEADROOM = 32
_EMAIL_SHAPE = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}")


@dataclass(frozen=True)
class Refusal:
    """A sign-in attempt over a hard limit: which one, and when to try again."""

    limit: str  # "address" or "email_address"
    retry_after: int  # whole seconds


def enabled() -> bool:
    """True when rate limiting is on for this app (``RATELIMIT_ENABLED``)."""
    return bool(limiter.enabled and limiter.initialized)


@lru_cache(maxsize=16)
def _item(limit: str) -> RateLimitItem:
    return parse(limit)


@lru_cache(maxsize=16)
def _slowdown_item(limit: str) -> RateLimitItem:
    threshold = _item(limit)
    return type(threshold)(threshold.amount + SLOWDOWN_HEADROOM, threshold.multiples)


def address_bucket(address: str) -> str:
    """The bucket name of a client address: IPv6 grouped by /64, IPv4 as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def loggable_email(email: str) -> str:
    """The email as security events may log it: a password typed into the field is not logged."""
    return email if _EMAIL_SHAPE.fullmatch(email) else "[not an email]"


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


def slowdown_ms(email: str) -> int:
    """Count this attempt against the email's slow-down; how long (ms) it must wait first."""
    if not enabled():
        return 0
    config = current_app.config
    threshold = _item(config["SIGN_IN_SLOWDOWN_AFTER"]).amount
    item = _slowdown_item(config["SIGN_IN_SLOWDOWN_AFTER"])
    identifiers = (_email_bucket(email), EMAIL_SCOPE)
    limiter.limiter.hit(item, *identifiers)
    _, remaining = limiter.limiter.get_window_stats(item, *identifiers)
    over = item.amount - remaining - threshold
    if over <= 0:
        return 0
    step = config["SIGN_IN_SLOWDOWN_STEP_MS"] * 2 ** min(over - 1, 16)
    return min(step, config["SIGN_IN_SLOWDOWN_MAX_MS"])


def before_password_check(email: str, address: str) -> Refusal | None:
    """Apply every sign-in limit to an attempt: refuse it, or wait as long as the email needs."""
    refusal = admit(email, address)
    if refusal is not None:
        security_events.record(
            "session.sign_in_throttled",
            email=loggable_email(email),
            address=address,
            action="refused",
            limit=refusal.limit,
            retry_after=refusal.retry_after,
        )
        return refusal
    delay = slowdown_ms(email)
    if delay:
        security_events.record(
            "session.sign_in_throttled",
            email=loggable_email(email),
            address=address,
            action="delayed",
            delay_ms=delay,
        )
        time.sleep(delay / 1000)
    return None


def forget_failures(email: str, address: str) -> None:
    """After a successful sign-in: clear the email's slow-down and its (email, address) count."""
    if not enabled():
        return
    config = current_app.config
    limiter.limiter.clear(_slowdown_item(config["SIGN_IN_SLOWDOWN_AFTER"]), _email_bucket(email), EMAIL_SCOPE)
    _, item, identifiers = _hard_limits(email, address)[1]
    limiter.limiter.clear(item, *identifiers)
