"""Security events as one structured log line each (sign-ins, failures, throttling).

Each event is written to the ``stockgate.security`` logger at INFO (WARNING for refusals) as
``security_event {"event": ..., ...}``: a fixed word, then one JSON object, so a log shipper
can parse it and a value can never break the line (JSON escapes CR, LF and other controls).

Callers pass only what is safe to keep: an email, an address, a key *prefix*, a reason.
Never a password, a full key or a session cookie; ``record`` refuses anything key-shaped
as a second line of defence.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from app.keys.format import KEY_PATTERN

log = logging.getLogger("stockgate.security")

# Events that report a refusal are logged at WARNING; the rest at INFO.
REFUSALS = frozenset(
    {"session.sign_in_failed", "session.sign_in_throttled", "api.throttled", "docs.throttled"}
)


def redact(value: Any) -> Any:
    """``value`` with anything shaped like a full API key replaced, in strings, lists and dicts."""
    if isinstance(value, str):
        return KEY_PATTERN.sub("[redacted key]", value)
    if isinstance(value, dict):
        return {name: redact(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


def record(event: str, **fields: Any) -> None:
    """Log one security event as a single structured line (never with a secret)."""
    payload = {"event": event, **{name: redact(value) for name, value in fields.items()}}
    level = logging.WARNING if event in REFUSALS else logging.INFO
    log.log(level, "security_event %s", json.dumps(payload, default=str, sort_keys=False))
