"""``loom serve`` as a real process on a free loopback port: migrates SQLite, prints the one-time password once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from portal.db import head_revision


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _environment(database_url: str, data_dir: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LOOM_")}
    environment.update(LOOM_DATABASE_URL=database_url, LOOM_DATA_DIR=str(data_dir))
    return environment


def _serve_until_ready(environment: dict[str, str], cwd: Path, log: Path) -> tuple[str, str]:
    """Start `loom serve`, wait for /readyz, fetch /healthz, stop it; return (stdout, health body)."""
    port = _free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "portal.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=cwd,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"loom serve did not become ready:\n{log.read_text()}"
                time.sleep(0.1)
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).text
        finally:
            process.terminate()
            process.wait(timeout=20)
    return log.read_text(), health


@pytest.mark.slow
def test_serve_migrates_sqlite_and_prints_the_bootstrap_password_once(tmp_path: Path) -> None:
    environment = _environment(f"sqlite:///{tmp_path / 'data' / 'loom.db'}", tmp_path / "data")

    first, health = _serve_until_ready(environment, tmp_path, tmp_path / "first.log")
    assert health == '{"status":"ok"}'
    assert "created the bootstrap admin 'admin' with the one-time password" in first

    second, _ = _serve_until_ready(environment, tmp_path, tmp_path / "second.log")
    assert "one-time password" not in second


@pytest.mark.slow
@pytest.mark.postgres
def test_serve_refuses_an_unmigrated_server_database(postgres_schema_url: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "portal.cli", "serve", "--port", str(_free_port())],
        cwd=tmp_path,
        env=_environment(postgres_schema_url, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "is at revision empty, not " + head_revision() + ": run `loom migrate` first" in result.stderr
