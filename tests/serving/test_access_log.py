"""gunicorn's access log through ``gunicorn_logging``: gunicorn's atoms, credentials masked."""

from __future__ import annotations

import datetime
import http.client
import logging
import runpy
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from app.keys.format import build_key, generate_key_id
from bench.harness import ROOT, Server
from gunicorn_logging import MASK, MaskKeys, StockgateLogger
from tests.serving.conftest import seed_key, server_env

KEY = build_key("AbCdEfGh")
PREFIX = KEY[:12]
SECRET = KEY[13:]


def request(headers: list[tuple[str, str]] = (), **environ: str) -> tuple:
    """gunicorn's (resp, req, environ, request_time) for one GET, as its workers pass them."""
    req = SimpleNamespace(headers=[("HOST", "stockgate.example"), ("USER-AGENT", 'curl/8 "q"'), *headers])
    resp = SimpleNamespace(status="200 OK", sent=1234, headers=[("Content-Type", "application/json")])
    base = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/api/v1/products?per_page=25",
        "PATH_INFO": "/api/v1/products",
        "QUERY_STRING": "per_page=25",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_USER_AGENT": 'curl/8 "q"',
    }
    return resp, req, {**base, **environ}, datetime.timedelta(seconds=1, microseconds=234567)


def line(log_format: str, *args, logger_class: type[Logger] = StockgateLogger) -> str:
    """The access-log line ``logger_class`` writes for ``args`` with ``log_format``."""
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("access_log_format", log_format)
    logger = logger_class(cfg)
    lines: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger.access_log.addHandler(Catch())
    logger.access(*args)
    assert len(lines) == 1
    return lines[0]


def test_plain_atoms_are_gunicorns_own():
    """Without credentials or control characters, every atom but the ticking date is gunicorn's."""
    args = request(headers=[("X-REQUEST-ID", "abc")], HTTP_X_REQUEST_ID="abc")
    ours = StockgateLogger(Config()).atoms(*args)
    stock = Logger(Config()).atoms(*args)
    del ours["t"], stock["t"]
    assert ours == stock


def test_the_configured_format_writes_what_gunicorn_writes():
    """gunicorn.conf.py's format and logger: the same line as gunicorn's logger, no query string."""
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert settings["logger_class"] == "gunicorn_logging.StockgateLogger"
    args = request()
    ours = line(settings["access_log_format"], *args)
    assert ours == line(settings["access_log_format"], *args, logger_class=Logger)
    assert ours == '203.0.113.9 "GET /api/v1/products HTTP/1.1" 200 1234 1234ms rid=-'


def test_the_access_line_names_the_responses_request_id():
    """SPEC §6: the line names the X-Request-Id the API answered with, so a report matches it."""
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    resp, *rest = request()
    resp.headers.append(("X-Request-Id", "sync-2026-01-31-0001"))
    assert line(settings["access_log_format"], resp, *rest).endswith(" rid=sync-2026-01-31-0001")


@pytest.mark.parametrize(
    ("atom", "headers", "environ"),
    [
        ("%({x-api-key}i)s", [("X-API-KEY", KEY)], {}),
        ("%({X-Api-Key}i)s", [("X-API-KEY", KEY)], {}),
        ("%({authorization}i)s", [("AUTHORIZATION", f"Bearer {KEY}")], {}),
        ("%({proxy-authorization}i)s", [("PROXY-AUTHORIZATION", "Basic b3BzOnB3")], {}),
        ("%({cookie}i)s", [("COOKIE", "session=abc")], {}),
        ("%({http_x_api_key}e)s", [], {"HTTP_X_API_KEY": KEY}),
        ("%({http_authorization}e)s", [], {"HTTP_AUTHORIZATION": f"Bearer {KEY}"}),
        ("%({http_proxy_authorization}e)s", [], {"HTTP_PROXY_AUTHORIZATION": "Basic b3BzOnB3"}),
        ("%({http_cookie}e)s", [], {"HTTP_COOKIE": "session=abc"}),
    ],
)
def test_each_credential_header_is_logged_as_redacted(atom, headers, environ):
    """An operator who logs a credential header gets '[redacted]', where gunicorn logs the value."""
    args = request(headers, **environ)
    assert line(atom, *args) == MASK
    assert line(atom, *args, logger_class=Logger) != MASK


def test_a_set_cookie_response_header_is_logged_as_redacted():
    """The session cookie the panel sets is a credential too."""
    resp, req, environ, took = request()
    resp.headers.append(("Set-Cookie", "session=def; HttpOnly"))
    assert line("%({set-cookie}o)s", resp, req, environ, took) == MASK


def test_an_absent_credential_header_logs_a_dash():
    """No header, nothing to mask: '-' as for any absent header."""
    assert line("%({x-api-key}i)s|%({cookie}i)s", *request()) == "-|-"


ENCODED = [
    KEY,
    KEY.replace("_", "%5F"),  # sgk%5FAbCdEfGh%5F...
    "%73" + KEY[1:],  # %73gk_...
    KEY[:20] + "%" + KEY[20].encode().hex() + KEY[21:],  # a secret character encoded
    KEY.replace("_", "%255F"),  # encoded twice
]


@pytest.mark.parametrize("sent", ENCODED, ids=["plain", "%5F", "%73", "mid-secret", "twice"])
@pytest.mark.parametrize("atom", ["%(r)s", "%(U)s", "%(q)s", "%({raw_uri}e)s", "%({x-feed}i)s"])
def test_a_key_anywhere_keeps_only_its_prefix_also_percent_encoded(atom, sent):
    """A key in the path, the query string or any header is cut to sgk_XXXXXXXX_[redacted]."""
    query = f"api_key={sent}&x=1"
    args = request(
        [("X-FEED", f"token {sent}")],
        RAW_URI=f"/keys/{sent}?{query}",
        PATH_INFO=f"/keys/{sent}",
        QUERY_STRING=query,
    )
    logged = line(atom, *args)
    assert f"{PREFIX}_{MASK}" in logged
    assert SECRET[:8] not in logged and SECRET[-8:] not in logged


# A key mangled on its way into a URL or a header: upper case, "-" for "_", split by spaces
# (%20 or a form's "+") anywhere, also inside "sgk" and around the separators.
MANGLED = {
    "upper-case": KEY.upper(),
    "upper-case-tag": "SGK" + KEY[3:],
    "dashes": KEY.replace("_", "-"),
    "%20-in-secret": KEY[:20] + "%20" + KEY[20:],
    "plus-in-secret": KEY[:20] + "+" + KEY[20:40] + "+" + KEY[40:],
    "%2B-in-secret": KEY[:30] + "%2B" + KEY[30:],
    "%20-in-tag": KEY[:2] + "%20" + KEY[2:],
    "%20-in-key-id": KEY[:8] + "%20" + KEY[8:],
    "%20-at-separator": KEY[:12] + "%20" + KEY[12:],
    "%20-every-character": "%20".join(KEY),
    "all-at-once": "%20".join(KEY.upper().replace("_", "-")[:26]) + "+" + KEY.upper()[26:],
}


@pytest.mark.parametrize("sent", MANGLED.values(), ids=MANGLED.keys())
@pytest.mark.parametrize("atom", ["%(r)s", "%(U)s", "%(q)s", "%({raw_uri}e)s", "%({x-feed}i)s"])
def test_a_mangled_key_keeps_only_its_prefix(atom, sent):
    """A key in another case, with dashes or split by spaces still loses everything past its id."""
    query = f"api_key={sent}&x=1"
    args = request(
        [("X-FEED", f"token {sent}")],
        RAW_URI=f"/keys/{sent}?{query}",
        PATH_INFO=f"/keys/{sent}",
        QUERY_STRING=query,
    )
    logged = line(atom, *args)
    assert MASK in logged, logged
    # No stretch of the secret survives, in any case, with or without the gaps.
    squeezed = logged.upper().replace(" ", "").replace("+", "").replace("%20", "").replace("%2B", "")
    assert SECRET[:8].upper() not in squeezed and SECRET[-8:].upper() not in squeezed, logged


@pytest.mark.parametrize(
    "logged",
    [
        "GET /settings/api-keys/sgk_AbCdEfGh HTTP/1.1",
        "/settings/api-keys/SGK-ABCDEFGH/edit",
        "q=sgk_AbCdEfGh&status=all",
    ],
)
def test_a_prefix_alone_is_logged_as_it_is(logged):
    """The public prefix (the panel's key pages, a search) is no secret and stays readable."""
    assert line("%(U)s", *request(PATH_INFO=logged)) == logged


def test_a_key_quoted_in_the_error_log_keeps_only_its_prefix():
    """gunicorn quotes a malformed request line in its error log: the key in it is cut too."""
    cfg = Config()
    logger = StockgateLogger(cfg)
    logger.setup(cfg)  # a configuration reload: still one filter
    messages: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    catch = Catch()
    logger.error_log.addHandler(catch)
    try:
        mangled = KEY.replace("_", "-")
        logger.warning("Invalid request from ip=%s: %s", "203.0.113.9", f"'GET /?k={mangled} HTTP/1.1\\x00'")
        logger.warning("Worker booted")
    finally:
        logger.error_log.removeHandler(catch)
    masked = f"{PREFIX.replace('_', '-')}_{MASK}"
    quoted = f"'GET /?k={masked} HTTP/1.1\\x00'"
    assert messages == [f"Invalid request from ip=203.0.113.9: {quoted}", "Worker booted"]
    assert sum(isinstance(each, MaskKeys) for each in logger.error_log.filters) == 1


def test_a_mistyped_key_is_masked_too():
    """Close to a key (one character short) is still a secret: masked after the prefix."""
    assert line("%(q)s", *request(QUERY_STRING=f"api_key={KEY[:-1]}")) == f"api_key={PREFIX}_{MASK}"


@pytest.mark.parametrize("atom", ["%(U)s", "%(r)s", "%({user-agent}i)s", "%(a)s"])
def test_a_path_or_header_cannot_forge_a_log_line(atom):
    """CR, LF and other control characters are escaped: one request, one line."""
    forged = '\r\n203.0.113.66 "GET /admin HTTP/1.1" 200\x00\x85'
    args = request(
        [("USER-AGENT", forged)],
        PATH_INFO=f"/x{forged}",
        RAW_URI="/x%0D%0Aforged",
        HTTP_USER_AGENT=forged,
    )
    logged = line(atom, *args)
    assert not any(char in logged for char in "\r\n\x00\x85")
    if atom != "%(r)s":  # the raw request line holds only the still-encoded %0D%0A
        assert "\\r\\n203.0.113.66" in logged and "\\x00\\x85" in logged


def _product_lines(log: str) -> list[str]:
    return [entry for entry in log.splitlines() if entry.startswith("GET /api/v1/products")]


def test_a_served_key_never_reaches_gunicorns_access_log(tmp_path: Path):
    """Live: gunicorn told to log the key headers and the request line writes no full key."""
    database = f"sqlite:///{tmp_path / 'log.db'}"
    seed_key(database, create_schema=True)  # tables, so the key below is looked up and refused
    key = build_key(generate_key_id())  # well-formed, unknown: refused, and never logged either
    env = {
        **server_env(database, "memory://"),
        "GUNICORN_CMD_ARGS": "--access-logformat='%(r)s|%({x-api-key}i)s|%({authorization}i)s'",
    }
    with Server(env, workers=1, threads=1, access_log="-") as server:
        for headers, path in (
            ({"X-API-Key": key}, "/api/v1/products"),
            ({"Authorization": f"Bearer {key}"}, "/api/v1/products"),
            ({}, f"/api/v1/products?api_key={key.replace('_', '%5F')}"),
        ):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.request("GET", path, headers=headers)
            conn.getresponse().read()
            conn.close()
        # gunicorn writes the access line after the answer: wait for the last one.
        deadline = time.monotonic() + 10
        while len(lines := _product_lines(log := server.output())) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(lines) == 3, log
    assert key[13:] not in log and key.replace("_", "%5F")[15:] not in log
    assert lines[0].endswith(f"|{MASK}|-") and lines[1].endswith(f"|-|{MASK}")
    assert f"{key[:12]}_{MASK}" in lines[2]
