"""The audit log as CSV: the one writer of the panel's "Export CSV" and ``flask audit list --csv``.

One row per event, newest first, with a header row: time (ISO 8601, UTC, ``Z``), actor, action,
key prefix, details as JSON, address. Written a line at a time from an iterator, so the caller
can stream any number of events (``app.audit.stream_events``).

Safe to open in a spreadsheet: a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a TAB or
CR, which some spreadsheets skip before reading a formula) would be read as a formula, so it is
written with a leading ``'`` (OWASP's advice on CSV injection). Actors and details are outside
text (an email typed at sign-in, a key's name), so this is not hypothetical.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from app.audit.display import COLUMNS
from app.models.types import iso_utc

# The file's columns, as the Audit Log page heads them.
HEADER = tuple(COLUMNS.values())
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def details_json(details: dict[str, Any] | None) -> str:
    """An event's details as compact JSON (the CSV's column and ``flask audit list``'s field)."""
    return json.dumps(details or {}, separators=(",", ":"))


def spreadsheet_safe(cell: str) -> str:
    """``cell``, with a leading ``'`` when a spreadsheet would read it as a formula."""
    return f"'{cell}" if cell.startswith(_FORMULA_STARTS) else cell


def event_cells(event: Any) -> list[str]:
    """One event (an ``AuditEvent`` or a row of ``stream_events``) as the CSV's cells."""
    cells = [
        iso_utc(event.created_at),
        event.actor,
        event.action,
        event.key_prefix or "",
        details_json(event.details),
        event.address or "",
    ]
    return [spreadsheet_safe(cell) for cell in cells]


def csv_lines(events: Iterable[Any]) -> Iterator[str]:
    """The header line, then one CSV line per event (each ending in CRLF, as RFC 4180 writes)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: Iterable[str]) -> str:
        writer.writerow(cells)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(HEADER)
    for event in events:
        yield line(event_cells(event))
