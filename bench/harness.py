"""Benchmark plumbing: the app or the bare reference served in a subprocess, wrk, RSS and CPU."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """Return a free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def flask(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run ``flask <args>`` from the repo root and return its stdout; raise on failure."""
    result = subprocess.run(
        [str(BIN / "flask"), *args],
        cwd=ROOT,
        env={**env, "FLASK_APP": "wsgi.py"},
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


# The embedded default, as ``make run`` serves it: waitress as it ships (it buffers slow clients
# itself), one process. Kept here so tests and the bench start exactly what the Makefile starts.
WAITRESS = "waitress"
GUNICORN = "gunicorn"


# ``make run`` asks wsgi.py's factory for Stockgate (its objects frozen, as gunicorn's workers).
MAKE_RUN_FACTORY = "wsgi:served_app"


def waitress_command(listen: str, app: str = "wsgi:app") -> list[str]:
    """The command ``make run`` serves with: ``waitress-serve`` with its defaults (4 threads);
    Stockgate through ``--call wsgi:served_app`` as the Makefile does, another app as named."""
    target = ["--call", MAKE_RUN_FACTORY] if app == "wsgi:app" else [app]
    return [str(BIN / "waitress-serve"), f"--listen={listen}", *target]


@dataclass
class Server:
    """A gunicorn or waitress process serving ``app`` (default: Stockgate) with the given environment.

    ``kind`` is ``"gunicorn"`` (production: ``gunicorn.conf.py`` with ``workers`` x ``threads``) or
    ``"waitress"`` (the embedded default: one process, waitress as it ships).
    """

    env: dict[str, str]
    workers: int = 1
    threads: int = 1
    port: int = 0
    access_log: str = "/dev/null"  # "-": into ``output()`` (gunicorn only)
    kind: str = GUNICORN
    app: str = "wsgi:app"
    process: subprocess.Popen[bytes] | None = None
    log: Any = None

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.port = self.port or free_port()
        env = {
            **self.env,
            "WEB_CONCURRENCY": str(self.workers),
            "GUNICORN_THREADS": str(self.threads),
            "BIND": f"127.0.0.1:{self.port}",
        }
        if self.kind == WAITRESS:
            command = waitress_command(f"127.0.0.1:{self.port}", self.app)
        else:
            command = [
                str(BIN / "gunicorn"),
                "--access-logfile",
                self.access_log,
                "--error-logfile",
                "-",
                self.app,
            ]
        # A file, not a pipe: a pipe nobody reads fills up and blocks the server's logging.
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited: {self.output()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                    if response.status == 200 and len(self.worker_pids()) >= self.workers:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.kind} did not become ready within 60 s")

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log is not None:
            self.log.close()

    def output(self) -> str:
        """Everything the server has logged so far."""
        if self.log is None or self.log.closed:
            return ""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def worker_pids(self) -> list[int]:
        """PIDs of the processes serving requests: gunicorn's workers, or waitress itself."""
        assert self.process is not None
        if self.kind == WAITRESS:
            return [self.process.pid]
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []

    def peak_rss_mib(self) -> float:
        """Largest peak resident set size (VmHWM) among the workers, in MiB."""
        peaks = []
        for pid in self.worker_pids():
            status = Path(f"/proc/{pid}/status").read_text()
            match = re.search(r"VmHWM:\s+(\d+) kB", status)
            if match:
                peaks.append(int(match.group(1)) / 1024)
        return max(peaks, default=0.0)

    def cpu_seconds(self) -> float:
        """User + system CPU seconds used so far by all workers."""
        total = 0
        for pid in self.worker_pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / CLK_TCK


@dataclass
class LoadResult:
    """What one wrk run measured."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    cpu_ms_per_request: float


_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNIT[match.group(2)]


def wrk(
    server: Server, path: str, *, seconds: int, connections: int, headers: dict[str, str] | None = None
) -> LoadResult:
    """Load ``path`` with wrk (one thread, ``connections`` connections) and parse its report."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    cpu_before = server.cpu_seconds()
    output = subprocess.run([*args, server.url + path], capture_output=True, text=True, check=True).stdout
    cpu_after = server.cpu_seconds()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    non_2xx_match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output).group(1))
    return LoadResult(
        rps=rps,
        p50_ms=p50,
        p99_ms=p99,
        requests=requests,
        non_2xx=int(non_2xx_match.group(1)) if non_2xx_match else 0,
        cpu_ms_per_request=(cpu_after - cpu_before) * 1000 / max(requests, 1),
    )


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``values`` (``pct`` in 0-100)."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


@contextmanager
def scratch_database(server_url: str, label: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on ``server_url`` for one measurement: its URL, and the
    database dropped afterwards, also when the measurement fails."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"stockgate_bench_{label}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
