"""The in-process buffer of usage counts: one add per request, drained by each flush."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Cell:
    """What one row of ``key_usage_hourly`` is keyed by."""

    key_id: int
    hour: datetime
    operation: str
    status: int


@dataclass
class Tally:
    """The requests counted in one cell since the last flush, and the latest of them."""

    count: int
    last_at: datetime


class UsageBuffer:
    """Counts per cell since the last drain, safe to share between a process's threads.

    The lock only guards a dictionary update (about a microsecond): requests never wait on a
    flush, which swaps the dictionary out and writes it without holding the lock.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tallies: dict[Cell, Tally] = {}

    def add(self, cell: Cell, at: datetime, count: int = 1) -> None:
        """Count ``count`` requests in ``cell``, the latest at ``at``."""
        with self.lock:
            tally = self.tallies.get(cell)
            if tally is None:
                self.tallies[cell] = Tally(count, at)
            else:
                tally.count += count
                tally.last_at = max(tally.last_at, at)

    def drain(self) -> dict[Cell, Tally]:
        """Take every count out of the buffer (the caller writes them or gives them back)."""
        with self.lock:
            tallies, self.tallies = self.tallies, {}
        return tallies

    def give_back(self, tallies: dict[Cell, Tally]) -> None:
        """Return counts a flush could not write, so the next flush writes them."""
        for cell, tally in tallies.items():
            self.add(cell, tally.last_at, tally.count)

    def __len__(self) -> int:
        return len(self.tallies)
