"""A bounded, per-process memory of keys already proven by bcrypt (SPEC §5 step 4).

Entries are keyed by the SHA-256 of the full key, never the key itself, and remember which
row the key proved *and the stored hash it matched*: if a row's hash ever changes (a future
"roll the secret" that keeps the row), the old secret is no longer proven and bcrypt runs
again. Status, expiry, abilities and limits are not cached: the caller reads the row fresh
on every request.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict


def fingerprint(raw_key: str) -> bytes:
    """Return the SHA-256 digest used to remember a proven key."""
    return hashlib.sha256(raw_key.encode("ascii")).digest()


class ProvenKeyCache:
    """LRU map from key fingerprint to the (row id, stored hash) the key matched."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._entries: OrderedDict[bytes, tuple[int, str]] = OrderedDict()
        self._lock = threading.Lock()

    def is_proven(self, raw_key: str, key_row_id: int, key_hash: str) -> bool:
        """Return True when this exact key was already proven against this row and hash."""
        digest = fingerprint(raw_key)
        with self._lock:
            proof = self._entries.get(digest)
            if proof is None:
                return False
            self._entries.move_to_end(digest)
            return proof == (key_row_id, key_hash)

    def remember(self, raw_key: str, key_row_id: int, key_hash: str) -> None:
        """Record that ``raw_key`` matched ``key_hash``, the stored hash of row ``key_row_id``."""
        digest = fingerprint(raw_key)
        with self._lock:
            self._entries[digest] = (key_row_id, key_hash)
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
