"""What the benchmarks share: a scratch database, free ports, the Procfile's web process."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from core.database import libpq_url, normalize_url
from core.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


@contextmanager
def scratch_database(tag: str) -> Iterator[str]:
    """A migrated database on DATABASE_URL's server (default: the local one), dropped after."""
    server = normalize_url(os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1/test"))
    name = f"knotlog_bench_{tag}_{os.getpid()}"
    with psycopg.connect(libpq_url(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(libpq_url(server), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def web_process(database_url: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """The Procfile's `web` line, run as an operator would, on a free port.

    `env` adds settings (REPORTS_URL, SECRET_KEY...) to this process's environment."""
    line = next(
        entry.split(":", 1)[1].strip()
        for entry in (ROOT / "Procfile").read_text().splitlines()
        if entry.startswith("web:")
    )
    port = free_port()
    command = re.sub(r"\$\{PORT:-\d+\}|\$PORT", str(port), line)
    process_env = {
        **os.environ,
        # Benchmarks measure throughput from one address, not the limits: lift them.
        "KNOTLOG_RATE_LIMIT_PER_IP": "1000000 per minute",
        "KNOTLOG_RATE_LIMIT_PER_TOKEN": "1000000 per minute",
        **(env or {}),
        "DATABASE_URL": database_url,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    process = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        env=process_env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        base = f"http://127.0.0.1:{port}"
        urllib.request.urlopen(f"{base}/readyz", timeout=10).read()
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL: aiosmtpd's command line ignores SIGTERM and would linger."""
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
