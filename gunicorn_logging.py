"""gunicorn's logger with logs that hold no credential and no forged line.

``gunicorn.conf.py`` names ``StockgateLogger`` as its ``logger_class``. Whatever
``access_log_format`` an operator sets, credential headers log as ``[redacted]``, anything
shaped like a key keeps only its public prefix, and control characters are escaped. The error
log's messages (gunicorn quotes a malformed request line there) are masked the same way.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote

from gunicorn import glogging

MASK = "[redacted]"
# Headers that carry credentials; gunicorn names their atoms {name}i (request header, lower
# case) and {http_name}e (the WSGI environ variable, lower case).
CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "x-api-key", "cookie")
CREDENTIAL_ATOMS = frozenset(
    [f"{{{name}}}i" for name in CREDENTIAL_HEADERS]
    + [f"{{http_{name.replace('-', '_')}}}e" for name in CREDENTIAL_HEADERS]
    + ["{set-cookie}o"]
)
# A key, or something close to one (a typo, a cut-off copy, a copy mangled on its way into a
# URL): only its public prefix stays. Mangled means "SGK" in any case, "-" for "_", and spaces
# or "+" (a form-encoded space) anywhere inside it, as a line-wrapped paste leaves them. Past
# the prefix, up to a key's 38 characters are taken across such gaps, then any that follow
# unbroken: a space after a key cut short may cost the next word, never leave a secret behind.
_GAP = r"[\s+]*"
_CHAR = r"[0-9A-Za-z]"
KEY_SHAPED = re.compile(
    rf"(s{_GAP}g{_GAP}k{_GAP}[_-]{_GAP}(?:{_CHAR}{_GAP}){{7}}{_CHAR})"  # sgk_ + key id: the prefix
    rf"{_GAP}[_-](?:{_GAP}{_CHAR}){{1,38}}{_CHAR}*",  # _ + secret and checksum
    re.IGNORECASE,
)
# C0 and C1 controls and Unicode line separators: any of them could start a new log line.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Enough to undo a key encoded twice (%2573gk_...); a longer chain is no one's mistake.
MAX_DECODES = 3


def is_plain(value: str) -> bool:
    """True for the common value that holds no control character, no key and no %-escape."""
    # Every key holds a "k" in some case: most values are settled without the pattern.
    return (
        value.isprintable()
        and "%" not in value
        and (("k" not in value and "K" not in value) or KEY_SHAPED.search(value) is None)
    )


def mask_keys(value: str) -> str:
    """``value`` with every key-shaped run cut to its prefix, also when percent-encoded.

    When only the decoded text holds a key, the decoded text is returned (masked), so no
    encoded part of the key survives.
    """
    decoded = value
    for _ in range(MAX_DECODES):
        once = unquote(decoded)
        if once == decoded:
            break
        decoded = once
    if KEY_SHAPED.search(decoded) is None:
        return value
    return KEY_SHAPED.sub(r"\1_" + MASK, decoded)


def escape_controls(value: str) -> str:
    """``value`` with control characters escaped as Python writes them (CR LF as ``\\r\\n``)."""
    return CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), value)


class MaskKeys(logging.Filter):
    """Cuts keys in a log record's message to their prefix (the error log's filter)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message with its masked text when it holds anything key-shaped."""
        message = record.getMessage()
        masked = mask_keys(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class StockgateLogger(glogging.Logger):
    """gunicorn's logger; its access-log atoms are gunicorn's own, made safe to write down."""

    def setup(self, cfg: Any) -> None:
        """gunicorn's setup (also run on a reload), and the error log's key masking, once."""
        super().setup(cfg)
        if not any(isinstance(existing, MaskKeys) for existing in self.error_log.filters):
            self.error_log.addFilter(MaskKeys())

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        """gunicorn's atoms with credentials masked and control characters escaped."""
        atoms = super().atoms(resp, req, environ, request_time)
        for name, value in atoms.items():
            if name in CREDENTIAL_ATOMS:
                atoms[name] = MASK
            elif isinstance(value, str) and not is_plain(value):
                atoms[name] = escape_controls(mask_keys(value))
        return atoms
