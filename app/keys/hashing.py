"""bcrypt for key and password hashes, guarded against bcrypt 5's 72-byte limit."""

from __future__ import annotations

import bcrypt

BCRYPT_MAX_BYTES = 72


def hash_secret(secret: str, rounds: int) -> str:
    """Return the bcrypt hash of ``secret``; refuses input bcrypt would reject."""
    data = secret.encode("utf-8")
    if len(data) > BCRYPT_MAX_BYTES:
        raise ValueError(f"must be at most {BCRYPT_MAX_BYTES} bytes")
    return bcrypt.hashpw(data, bcrypt.gensalt(rounds=rounds)).decode("ascii")


def check_secret(secret: str, hashed: str) -> bool:
    """Return True when ``secret`` matches ``hashed``; never raises on long input."""
    data = secret.encode("utf-8")
    if len(data) > BCRYPT_MAX_BYTES:
        return False
    return bcrypt.checkpw(data, hashed.encode("ascii"))


def dummy_hash(rounds: int) -> str:
    """A well-formed bcrypt hash with cost ``rounds`` that no secret is expected to match.

    Checking a secret against it costs exactly what checking against a real hash of the same
    cost does, so an unknown key can be answered as slowly as a wrong one. Built from a fresh
    salt and an all-zero digest: nothing is hashed, so making it costs no bcrypt.
    """
    return bcrypt.gensalt(rounds=rounds).decode("ascii") + "." * 31
