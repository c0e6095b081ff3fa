"""A real `crm serve` on the embedded PostgreSQL: starts with nothing configured, keeps its
data across restarts, shuts down cleanly (and stops the database it started)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.database import ROOT

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_") and k not in {"DATABASE_URL", "TEST_DATABASE_URL"}}
    env["CRM_DATA_DIR"] = str(data_dir)
    env["CRM_LOG_LEVEL"] = "INFO"
    return env


def _serve(data_dir: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--demo"],
        cwd=ROOT, env=_clean_env(data_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _wait_ready(port: int, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become ready")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    return out


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Not under tmp_path: the embedded server runs as its own user and opens the folders above
    # its data for it, and any other pytest run on the machine closes /tmp/pytest-of-<user> again.
    with tempfile.TemporaryDirectory(prefix="crm-e2e-") as folder:
        yield Path(folder) / "data"


def test_serve_on_embedded_database_persists_and_stops_cleanly(data_dir: Path) -> None:
    port = _free_port()

    first = _serve(data_dir, port)
    try:
        _wait_ready(port, first)
        docs = httpx.get(f"http://127.0.0.1:{port}/docs", headers={"X-Request-ID": "e2e-trace-1"})
        assert docs.status_code == 200
    finally:
        out = _stop(first)
    assert "Demo organisation ready" in out
    # Logs are JSON lines, and the access line carries the request id.
    access = [json.loads(line) for line in out.splitlines() if line.startswith("{") and "e2e-trace-1" in line]
    assert access and access[0]["request_id"] == "e2e-trace-1" and access[0]["route"] == "/docs"
    pgdata = data_dir / "postgres"
    assert (pgdata / "PG_VERSION").exists()
    assert not (pgdata / "postmaster.pid").exists(), "embedded PostgreSQL was left running"

    second = _serve(data_dir, port)
    try:
        _wait_ready(port, second)
    finally:
        out = _stop(second)
    assert "Demo organisation already present" in out  # the data survived the restart
