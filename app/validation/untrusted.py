"""Rules every piece of outside text passes (query strings, form fields, CLI options), in one place.

* **No control characters.** C0 characters (U+0000-U+001F) and DEL (U+007F) are refused:
  PostgreSQL rejects NUL in text (a 500 if it reaches a query), and no name, search, email or
  number legitimately holds one. Multi-line fields (textareas) may hold TAB, LF and CR.
* **Whole numbers in ASCII digits.** Python's ``int()`` also reads Arabic-Indic or
  fullwidth digits, ``"1_0"`` and ``" 5"``; no client means those, and accepting them gives
  one resource many spellings.
* **Invisible characters shown, where text is kept for people to read** (``visible``): bidi
  overrides, zero-width and other format characters, C0 and C1 controls and line separators
  become ``\\u200b``-style escapes, so ``ops\\u200b@example.com`` never passes for
  ``ops@example.com`` and ``\\u202e`` cannot reverse what follows it.
* **Client addresses counted per subscriber** (``address_bucket``): an IPv4 address as it is,
  an IPv6 address by its /64 (one subscriber usually holds a whole /64, so counting single
  addresses would give it 2**64 budgets), an IPv4-mapped IPv6 address as its IPv4.
* **Instants inside the calendar once in UTC.** ``0001-01-01T00:00:00+01:00`` is a valid ISO
  8601 string whose UTC instant falls before year 1: Python cannot represent it.
* **A bad instant is answered with an example** (``NOT_AN_INSTANT``), and in a URL with how to
  send a ``+`` offset (``NOT_AN_INSTANT_IN_URL``): an unencoded ``+`` arrives as a space, so
  ``updated_since=2026-01-31T09:00:00+09:00`` would otherwise be refused with no hint why.

The API's argument schema, the panel's form base class and the CLI's parameter types all call
these functions, so the rules and their messages live once.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from datetime import UTC, datetime

_CONTROL = re.compile("[\x00-\x1f\x7f]")
# TAB, LF and CR are what a textarea legitimately sends.
_CONTROL_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A sign is allowed so that "-1" gets the clearer "must be at least 1" message from range checks.
_WHOLE_NUMBER = re.compile("-?[0-9]+")

NOT_A_WHOLE_NUMBER = "Not a whole number (use the digits 0-9 only)."
OUT_OF_RANGE_INSTANT = "Out of range: the instant must fall between years 1 and 9999 in UTC."
# The example every message about a bad instant shows (SPEC §6).
EXAMPLE_INSTANT = "2026-01-31T00:00:00Z"
NOT_AN_INSTANT = f"Not a valid ISO 8601 date and time; write it like {EXAMPLE_INSTANT}."
NOT_AN_INSTANT_IN_URL = (
    f"{NOT_AN_INSTANT} In a URL, send the + of an offset as %2B (2026-01-31T09:00:00%2B09:00): "
    "an unencoded + arrives as a space."
)


def control_character_error(value: str, *, multiline: bool = False) -> str | None:
    """The message for the first control character in ``value``, or None when it has none."""
    match = (_CONTROL_MULTILINE if multiline else _CONTROL).search(value)
    if match is None:
        return None
    return f"Contains a control character (U+{ord(match.group()):04X}); remove it."


# Cc: C0 and C1 controls, DEL; Cf: bidi controls and overrides (U+202A-U+202E, U+2066-U+2069,
# U+200E/F, U+061C), zero-width characters (U+200B-U+200D, U+2060, U+FEFF), soft hyphen, tags;
# Cs: lone surrogates; Zl/Zp: line and paragraph separators.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def visible(text: str) -> str:
    """``text`` with each invisible or control character written as a ``\\uXXXX`` escape."""
    # isprintable() is False for every such character: the common, clean case costs one pass in C.
    if text.isprintable():
        return text
    return "".join(_escape(ch) if unicodedata.category(ch) in _INVISIBLE_CATEGORIES else ch for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def is_whole_number(value: str) -> bool:
    """True when ``value`` is an optional ``-`` and ASCII digits, nothing else (no spaces, no ``_``)."""
    return _WHOLE_NUMBER.fullmatch(value) is not None


def parse_whole_number(value: str) -> int:
    """``value`` as an int, or ValueError(``NOT_A_WHOLE_NUMBER``) unless it is ASCII digits."""
    if not is_whole_number(value):
        raise ValueError(NOT_A_WHOLE_NUMBER)
    return int(value)


def to_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (naive is taken as UTC); ValueError when out of range."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(OUT_OF_RANGE_INSTANT) from None


def address_bucket(address: str) -> str:
    """The bucket a client address counts in: IPv4 as it is, IPv6 by its /64; any other value
    (a unix socket, say) as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        # From the integer: a zone ("%eth0") is not part of the network.
        return str(ipaddress.IPv6Network((int(ip), 64), strict=False))
    return str(ip)
