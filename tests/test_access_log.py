"""gunicorn's access log through ``app.access_log``: gunicorn's atoms, lazily, with credentials masked."""

from __future__ import annotations

import datetime
import http.client
import logging
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from app.access_log import MASK, AccessLogger
from bench.harness import Server
from tests.production.conftest import seed_key, server_env

KEY = "sgk_AbCdEfGh_" + "x" * 32 + "Y" * 6
PLAIN_ATOMS = "hlutrsmUqHbBfaTDMLp"


def _request(**environ_extra: str) -> tuple[SimpleNamespace, SimpleNamespace, dict, datetime.timedelta]:
    req = SimpleNamespace(
        headers=[
            ("HOST", "stockgate.example"),
            ("USER-AGENT", 'curl/8 "quoted"'),
            ("X-API-KEY", KEY),
            ("AUTHORIZATION", f"Bearer {KEY}"),
            ("COOKIE", "session=abc"),
        ]
    )
    resp = SimpleNamespace(
        status="200 OK",
        sent=1234,
        headers=[("Content-Type", "application/json"), ("Set-Cookie", "session=def")],
    )
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/api/v1/products?per_page=25",
        "PATH_INFO": "/api/v1/products",
        "QUERY_STRING": "per_page=25",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_USER_AGENT": 'curl/8 "quoted"',
        **environ_extra,
    }
    return resp, req, environ, datetime.timedelta(seconds=1, microseconds=234567)


def _loggers(log_format: str) -> tuple[Logger, AccessLogger]:
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("access_log_format", log_format)
    return Logger(cfg), AccessLogger(cfg)


def _line(logger: Logger, *request) -> str:
    """The line ``logger`` writes for ``request``, caught from its access logger."""
    lines: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger.access_log.addHandler(Catch())
    logger.access(*request)
    assert len(lines) == 1
    return lines[0]


def test_every_plain_atom_matches_gunicorns_own():
    """Each documented atom (except the date, which ticks) renders as gunicorn renders it."""
    log_format = " ".join(f"%({atom})s" for atom in PLAIN_ATOMS if atom != "t")
    log_format += " %({host}i)s %({content-type}o)s %({remote_addr}e)s %({absent}i)s %({bare})s"
    stock, ours = _loggers(log_format)
    request = _request()
    assert _line(ours, *request) == _line(stock, *request)
    assert '\\"quoted\\"' in _line(ours, *request)


def test_the_default_format_matches_gunicorns_own():
    """Stockgate's configured access_log_format writes the same line as gunicorn's logger."""
    import runpy

    settings = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))
    stock, ours = _loggers(settings["access_log_format"])
    request = _request()
    assert _line(ours, *request) == _line(stock, *request)
    assert settings["logger_class"] == "app.access_log.AccessLogger"


@pytest.mark.parametrize(
    "atom",
    [
        "%({x-api-key}i)s",
        "%({X-Api-Key}i)s",
        "%({authorization}i)s",
        "%({cookie}i)s",
        "%({set-cookie}o)s",
        "%({http_x_api_key}e)s",
        "%({http_authorization}e)s",
    ],
)
def test_credential_headers_are_masked(atom):
    """An operator who logs a credential header gets '[redacted]', never the value."""
    stock, ours = _loggers(atom)
    environ_extra = {"HTTP_X_API_KEY": KEY, "HTTP_AUTHORIZATION": f"Bearer {KEY}"}
    request = _request(**environ_extra)
    assert _line(ours, *request) == MASK
    assert _line(stock, *request) != MASK  # gunicorn's own logger would have written it


def test_absent_credential_headers_log_a_dash():
    """No header, nothing to mask: '-' as for any absent header."""
    _, ours = _loggers("%({proxy-authorization}i)s")
    assert _line(ours, *_request()) == "-"


@pytest.mark.parametrize("atom", ["%(r)s", "%(q)s", "%({raw_uri}e)s", "%({query_string}e)s"])
def test_a_key_in_the_query_string_keeps_only_its_prefix(atom):
    """A key sent as ?api_key= (refused with 400) is not written to the log either."""
    _, ours = _loggers(atom)
    query = f"api_key={KEY}&x=1"
    request = _request(RAW_URI=f"/api/v1/products?{query}", QUERY_STRING=query)
    line = _line(ours, *request)
    assert KEY not in line and "x" * 32 not in line
    assert f"sgk_AbCdEfGh_{MASK}" in line


def test_a_mistyped_key_is_masked_too():
    """Close to a key (one character short) is still a secret: masked after the prefix."""
    _, ours = _loggers("%(q)s")
    line = _line(ours, *_request(QUERY_STRING=f"api_key={KEY[:-1]}"))
    assert line == f"api_key=sgk_AbCdEfGh_{MASK}"


def test_atoms_the_format_does_not_name_are_not_worked_out(monkeypatch):
    """The date (strftime) is built only when the format asks for it."""
    _, ours = _loggers('%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms')

    def no_date() -> str:
        raise AssertionError("the date was built for a format without %(t)s")

    monkeypatch.setattr(ours, "now", no_date)
    assert _line(ours, *_request()) == '203.0.113.9 "GET /api/v1/products HTTP/1.1" 200 1234 1234ms'


def test_an_unknown_atom_is_reported_not_raised(capsys):
    """As in gunicorn: a format naming an unknown atom logs the error, the request goes on."""
    _, ours = _loggers("%(nope)s")
    errors: list[str] = []
    ours.error = lambda message, *args: errors.append(message)
    ours.access(*_request())
    assert len(errors) == 1 and "KeyError" in errors[0]


def test_a_served_key_never_reaches_gunicorns_access_log(tmp_path: Path, monkeypatch):
    """Live: gunicorn told to log the key header and the request line writes neither key."""
    database = f"sqlite:///{tmp_path / 'log.db'}"
    key = seed_key(database, create_schema=True, name="Logged")
    env = {
        **server_env(database, "memory://"),
        "GUNICORN_CMD_ARGS": "--access-logformat='%(r)s|%({x-api-key}i)s|%({authorization}i)s'",
    }
    with Server(env, workers=1, threads=1, access_log="-") as server:
        for headers, path in (
            ({"X-API-Key": key}, "/api/v1/products"),
            ({"Authorization": f"Bearer {key}"}, "/api/v1/products"),
            ({}, f"/api/v1/products?api_key={key}"),
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
    assert key not in log and key[13:] not in log
    assert f"{MASK}|-" in lines[0] and f"-|{MASK}" in lines[1]
    assert f"{key[:12]}_{MASK}" in lines[2]


def _product_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("GET /api/v1/products")]
