"""gunicorn's access log: no credential ever reaches it, and a line costs only the atoms it names.

gunicorn's own ``Logger.atoms`` builds every atom of every line -- the date, each request and
response header, each WSGI environ variable -- although the format names a handful. On the
list of 25 products that was 2% of a request's CPU (py-spy, embedded shape). And it hands the
format the ``Authorization`` and ``X-API-Key`` headers: an operator who logs
``%({x-api-key}i)s`` or the request line ``%(r)s`` (where a key sent as ``?api_key=`` sits)
would write secrets to disk. Here each atom is worked out when the format asks for it, and
credentials are masked wherever they could appear.
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from gunicorn.glogging import Logger

MASK = "[redacted]"
# Request headers that carry credentials, by atom name ({name}i, or {http_name}e in environ).
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "cookie"})
_CREDENTIAL_ATOMS = frozenset(
    {f"{{{name}}}i" for name in CREDENTIAL_HEADERS}
    | {f"{{http_{name.replace('-', '_')}}}e" for name in CREDENTIAL_HEADERS}
    | {"{set-cookie}o"}
)
# A key, or something close enough to one (a typo, a truncated copy): keep its public prefix.
_KEY_LIKE = re.compile(r"(sgk_[0-9A-Za-z]{8})_[0-9A-Za-z]+")


class AccessAtoms(Mapping[str, Any]):
    """gunicorn's access-log atoms for one request, each worked out when the format names it."""

    __slots__ = ("_environ", "_logger", "_req", "_resp", "_time")

    def __init__(self, logger: Logger, resp: Any, req: Any, environ: dict[str, Any], request_time: Any):
        self._logger = logger
        self._resp = resp
        self._req = req
        self._environ = environ
        self._time = request_time

    def __getitem__(self, name: str) -> Any:
        # An unknown plain atom is a KeyError, as in gunicorn.
        value = self._variable(name.lower()) if name.startswith("{") else _ATOMS[name](self)
        if isinstance(value, str):
            # As gunicorn's SafeAtoms: quotes escaped, so a quoted field stays one field.
            return _KEY_LIKE.sub(r"\1_" + MASK, value).replace('"', '\\"')
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(_ATOMS)

    def __len__(self) -> int:
        return len(_ATOMS)

    def _variable(self, name: str) -> Any:
        """``{header}i``, ``{header}o`` or ``{variable}e``; '-' when absent, masked when secret."""
        if name in _CREDENTIAL_ATOMS:
            return MASK if self._lookup(name) != "-" else "-"
        return self._lookup(name)

    def _lookup(self, name: str) -> Any:
        wanted, kind = name[1:-2], name[-1]
        if kind == "e":
            return next((v for k, v in self._environ.items() if k.lower() == wanted), "-")
        if kind not in ("i", "o"):
            return "-"
        headers = self._req.headers if kind == "i" else self._resp.headers
        pairs = headers.items() if hasattr(headers, "items") else headers
        return next((v for k, v in pairs if k.lower() == wanted), "-")

    # --- the atoms gunicorn documents (its Logger.atoms) ---------------------------------------

    def status(self) -> str:
        """The status code alone ('200'), as gunicorn logs it."""
        status = self._resp.status
        return status.split(None, 1)[0] if isinstance(status, str) else status

    def sent(self) -> Any:
        """Bytes of the body sent, or None."""
        return getattr(self._resp, "sent", None)


def _env(name: str, default: Any = None) -> Callable[[AccessAtoms], Any]:
    return lambda atoms: atoms._environ.get(name, default)


_REQUEST_LINE = ("REQUEST_METHOD", "RAW_URI", "SERVER_PROTOCOL")
_ATOMS: dict[str, Callable[[AccessAtoms], Any]] = {
    "h": _env("REMOTE_ADDR", "-"),
    "l": lambda atoms: "-",
    "u": lambda atoms: atoms._logger._get_user(atoms._environ) or "-",
    "t": lambda atoms: atoms._logger.now(),
    "r": lambda atoms: " ".join(atoms._environ[name] for name in _REQUEST_LINE),
    "s": AccessAtoms.status,
    "m": _env("REQUEST_METHOD"),
    "U": _env("PATH_INFO"),
    "q": _env("QUERY_STRING"),
    "H": _env("SERVER_PROTOCOL"),
    "b": lambda atoms: "-" if atoms.sent() is None else str(atoms.sent()),
    "B": AccessAtoms.sent,
    "f": _env("HTTP_REFERER", "-"),
    "a": _env("HTTP_USER_AGENT", "-"),
    "T": lambda atoms: atoms._time.seconds,
    "D": lambda atoms: atoms._time.seconds * 1_000_000 + atoms._time.microseconds,
    "M": lambda atoms: atoms._time.seconds * 1000 + atoms._time.microseconds // 1000,
    "L": lambda atoms: f"{atoms._time.seconds}.{atoms._time.microseconds:06d}",
    "p": lambda atoms: f"<{os.getpid()}>",
}


class AccessLogger(Logger):
    """gunicorn's logger, with ``AccessAtoms`` for the access log (``logger_class`` setting)."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> AccessAtoms:
        """The atoms of one request, worked out lazily and with credentials masked."""
        return AccessAtoms(self, resp, req, environ, request_time)

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        """Write one access-log line (gunicorn's ``access``, without copying every atom first)."""
        if not self.access_log_enabled:
            return
        try:
            self.access_log.info(self.cfg.access_log_format, self.atoms(resp, req, environ, request_time))
        except Exception:
            self.error(traceback.format_exc())
