"""deploy/nginx.conf in front of two gunicorn sync workers (PostgreSQL, Redis), as the README shows.

The test includes the file from a minimal main config, as a distro's nginx.conf would, with
only the two addresses changed to free ports.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness import ROOT, Server, free_port
from tests.conftest import _require
from tests.serving.conftest import seed_key, server_env
from tests.serving.slow_clients import healthz_seconds, slow_clients
from tests.serving.test_cluster import PRODUCTS

EXAMPLE = ROOT / "deploy" / "nginx.conf"
# What a distro's nginx.conf holds around the include, with every path under the test's tmp_path.
MAIN_CONFIG = """
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
{user}
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/stockgate.conf;
}}
"""


def directives(text: str) -> list[str]:
    """The lines of an nginx config without comments and blank lines, spaces collapsed."""
    lines = (" ".join(line.split("#", 1)[0].split()) for line in text.splitlines())
    return [line for line in lines if line]


def test_the_readme_shows_deploy_nginx_conf_as_it_is():
    """The README's nginx block holds the same directives as the tested file, comments aside."""
    readme = (ROOT / "README.md").read_text()
    shown = readme.split("```nginx\n", 1)[1].split("```", 1)[0]
    assert directives(shown) == directives(EXAMPLE.read_text())


def nginx_binary() -> str:
    """nginx's path (often /usr/sbin, outside a user's PATH); skipped locally without it, failed in CI."""
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if binary is None:
        _require("NGINX_BINARY")  # skips locally, fails under CI=true
    return binary or "nginx"


def render(tmp: Path, listen_port: int, upstream: str) -> Path:
    """deploy/nginx.conf listening on ``listen_port`` and passing to ``upstream``, and a main config."""
    example = EXAMPLE.read_text()
    assert example.count("listen 80;") == 1 and example.count("server 127.0.0.1:8000;") == 1
    site = example.replace("listen 80;", f"listen 127.0.0.1:{listen_port};")
    (tmp / "stockgate.conf").write_text(site.replace("server 127.0.0.1:8000;", f"server {upstream};"))
    # As root, nginx's workers would otherwise run as a user who cannot enter tmp_path.
    user = "user root;" if os.geteuid() == 0 else ""
    main = tmp / "nginx.conf"
    main.write_text(MAIN_CONFIG.format(tmp=tmp, user=user))
    return main


@pytest.fixture(scope="module")
def production(postgres_database: str, redis_url: str) -> Iterator[Server]:
    """gunicorn as deploy/nginx.conf expects it: two sync workers, Redis, PROXY_FIX_HOPS=1.

    One per module, as is nginx: each test starts from an empty database (``pg_url``) and an
    empty Redis (``shared_redis_url``), which ``nginx`` asks for.
    """
    env = {**server_env(postgres_database, redis_url), "PROXY_FIX_HOPS": "1"}
    with Server(env, workers=2) as server:
        yield server


@pytest.fixture(scope="module")
def nginx_port(production: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """nginx with deploy/nginx.conf in front of ``production``; yields nginx's port."""
    binary = nginx_binary()
    tmp_path = tmp_path_factory.mktemp("nginx")
    port = free_port()
    main = render(tmp_path, port, f"127.0.0.1:{production.port}")
    process = subprocess.Popen(
        [binary, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(main)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            assert process.poll() is None, (tmp_path / "error.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not answer within 10 s"
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def nginx(pg_url: str, shared_redis_url: str, nginx_port: int) -> int:
    """nginx's port, in front of gunicorn, with the database and Redis emptied for this test."""
    return nginx_port


def get_from(address: str, port: int, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    """GET ``path`` from nginx on a connection that leaves from ``address`` (any of 127/8)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(address, 0))
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_api_requests_pass_through_nginx(pg_url, nginx):
    """A key's list request through nginx is answered by gunicorn as if sent directly."""
    key = seed_key(pg_url, rate_limit=100)
    response = get_from("127.0.0.1", nginx, PRODUCTS, {"X-API-Key": key})
    assert response.status == 200
    assert response.getheader("X-RateLimit-Remaining") == "99"


def test_the_app_sees_each_clients_own_address_through_nginx(nginx):
    """With PROXY_FIX_HOPS=1 each client has its own failure budget, and a forged address counts not."""
    forged = {"X-Forwarded-For": "203.0.113.9"}
    first = get_from("127.0.0.7", nginx, PRODUCTS, forged)
    again = get_from("127.0.0.7", nginx, PRODUCTS, {})
    other = get_from("127.0.0.8", nginx, PRODUCTS, forged)
    assert [r.status for r in (first, again, other)] == [401, 401, 401]
    budget = [int(r.getheader("X-RateLimit-Remaining")) for r in (first, again, other)]
    limit = int(first.getheader("X-RateLimit-Limit"))
    # 127.0.0.7 spent two (the forged header did not move it elsewhere); 127.0.0.8 spent its own one.
    assert budget == [limit - 1, limit - 2, limit - 1]


def test_healthz_through_nginx_answers_within_a_second_while_16_clients_dribble(nginx):
    """16 connections send request heads one byte a second to nginx: gunicorn never sees them."""
    with slow_clients(nginx, count=16):
        answered = [healthz_seconds(nginx) for _ in range(5)]
    assert max(answered) < 1, answered


def answer(port: int, path: str, headers: dict[str, str]) -> tuple[int, str, str]:
    """GET ``path`` from nginx: (status, Content-Type, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    return response.status, response.getheader("Content-Type", ""), body


def test_requests_nginx_refuses_under_api_get_the_apis_json_error(pg_url, nginx):
    """An oversized URL (414) or header (400) under /api/ is answered in JSON; elsewhere nginx's page."""
    key = seed_key(pg_url, rate_limit=100)
    long_query = "&q=" + "a" * 9000  # past the 8 KB request line
    big_header = {"X-API-Key": key, "X-Padding": "b" * 9000}  # past the 8 KB header line
    for path, headers, status, says in (
        (PRODUCTS + long_query, {"X-API-Key": key}, 414, "request line is longer than 8 KB"),
        (PRODUCTS, big_header, 400, "request header is too large"),
    ):
        got, content_type, body = answer(nginx, path, headers)
        assert (got, content_type) == (status, "application/json"), body[:300]
        error = json.loads(body)["error"]
        assert error["code"] == "bad_request" and says in error["message"], error
    # The panel and the docs keep nginx's own page; the app's own 400 passes through as it is.
    assert answer(nginx, "/settings/api-keys?q=" + "a" * 9000, {})[:2] == (414, "text/html")
    assert answer(nginx, "/healthz", {"X-Padding": "b" * 9000})[:2] == (400, "text/html")
    status, _, body = answer(nginx, PRODUCTS + "&sort=nope", {"X-API-Key": key})
    assert status == 400 and json.loads(body)["error"]["details"], body
