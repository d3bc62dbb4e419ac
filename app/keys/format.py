"""The ``sgk_`` key format (SPEC §5): generation and a database-free syntax check.

``sgk_`` + 8-char key id + ``_`` + 32-char secret + 6-char checksum, all base62
(``0-9A-Za-z``). The checksum is CRC32 over everything before it, in base62, most
significant digit first, left-padded with ``0``. A recognisable prefix lets secret
scanners find leaked keys; the checksum lets the server reject typos and garbage
without a database query or bcrypt.
"""

from __future__ import annotations

import re
import secrets
import zlib
from dataclasses import dataclass

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
KEY_TAG = "sgk_"
KEY_ID_LENGTH = 8
SECRET_LENGTH = 32
CHECKSUM_LENGTH = 6
PREFIX_LENGTH = len(KEY_TAG) + KEY_ID_LENGTH  # 12
KEY_LENGTH = PREFIX_LENGTH + 1 + SECRET_LENGTH + CHECKSUM_LENGTH  # 51

KEY_PATTERN = re.compile(r"sgk_([0-9A-Za-z]{8})_([0-9A-Za-z]{32})([0-9A-Za-z]{6})")
PREFIX_PATTERN = re.compile(r"sgk_[0-9A-Za-z]{8}")


@dataclass(frozen=True)
class ParsedKey:
    """A syntactically valid key: its public prefix and the full string."""

    prefix: str
    raw: str


def base62(number: int, width: int) -> str:
    """Encode a non-negative integer in base62, left-padded with ``0`` to ``width``."""
    digits = []
    while number:
        number, rem = divmod(number, 62)
        digits.append(ALPHABET[rem])
    return "".join(reversed(digits)).rjust(width, "0")


def checksum(body: str) -> str:
    """Return the 6-character base62 CRC32 of ``body`` (everything before the checksum)."""
    return base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def _random_base62(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def generate_key_id() -> str:
    """Return a fresh random key id (8 base62 characters, ~47 bits)."""
    return _random_base62(KEY_ID_LENGTH)


def prefix_of(raw_key: str) -> str:
    """The public prefix of a full key: ``sgk_`` and its key id."""
    return raw_key[:PREFIX_LENGTH]


def build_key(key_id: str, secret: str | None = None) -> str:
    """Assemble a full key from a key id and a secret (random if not given)."""
    secret = secret if secret is not None else _random_base62(SECRET_LENGTH)
    body = f"{KEY_TAG}{key_id}_{secret}"
    return body + checksum(body)


def parse_key(raw: object) -> ParsedKey | None:
    """Return the parsed key, or None when ``raw`` is not a well-formed, checksummed key.

    Pure string work: safe to call on any untrusted input before touching the database.
    """
    if not isinstance(raw, str) or len(raw) != KEY_LENGTH:
        return None
    match = KEY_PATTERN.fullmatch(raw)
    if match is None:
        return None
    body, given = raw[:-CHECKSUM_LENGTH], raw[-CHECKSUM_LENGTH:]
    if not secrets.compare_digest(checksum(body), given):
        return None
    return ParsedKey(prefix=prefix_of(raw), raw=raw)


def is_prefix(text: str) -> bool:
    """Return True when ``text`` looks like a key prefix (``sgk_`` + 8 base62 chars)."""
    return PREFIX_PATTERN.fullmatch(text) is not None
