"""GraphQL over HTTP conformance of ``loom gateway``: the graphql-http audit (``auditServer`` of the npm package
``graphql-http``, run by ``bench/graphql_http_audit.mjs``) against the real gateway process on a free port. Every
audit must pass, the MAYs and SHOULDs included: a notice or a warning fails the test with the audit's name.

``run_audit`` and ``running`` are shared with ``tests/portal/test_graphql_http.py`` (the admin API).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._ports import free_port

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[2] / "bench"
AUDIT_SCRIPT = BENCH / "graphql_http_audit.mjs"
AUDITS = 61  # graphql-http 1.23 (bench/package-lock.json); a newer version may add audits: update with it
SUPERGRAPH = Path(__file__).parent / "schemas" / "apollo-supergraph.graphql"  # the audit only introspects


def run_audit(url: str) -> list[dict[str, Any]]:
    """The audit's results for the GraphQL endpoint at ``url``: ``{"id", "name", "status", "reason"?}`` each."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("the graphql-http audit needs Node.js (`node` on PATH); `make test` expects it", pytrace=False)
    if not (BENCH / "node_modules" / "graphql-http").is_dir():
        pytest.fail(
            "bench/node_modules has no graphql-http: run `make node-deps` (`make test` does) to install it",
            pytrace=False,
        )
    done = subprocess.run([node, str(AUDIT_SCRIPT), url], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"the audit script failed ({done.returncode}):\n{done.stderr}"
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


def assert_conformant(results: list[dict[str, Any]]) -> None:
    failed = [
        f"{r['id']} {r['name']}: {r['status']}, {r.get('reason')} (HTTP {r.get('responseStatus')})"
        for r in results
        if r["status"] != "ok"
    ]
    assert not failed, f"{len(failed)} of {len(results)} GraphQL-over-HTTP audits not ok:\n" + "\n".join(failed)
    assert len(results) == AUDITS, f"expected {AUDITS} audits, got {len(results)}: was graphql-http upgraded?"


def clean_environment(**variables: str) -> dict[str, str]:
    """This process's environment without the developer's ``LOOM_*`` settings, plus ``variables``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LOOM_")}
    environment.update(variables)
    return environment


@contextmanager
def running(args: list[str], port: int, *, env: Mapping[str, str], cwd: Path, log: Path) -> Iterator[str]:
    """``python -m portal.cli ARGS --host 127.0.0.1 --port PORT`` until its ``/readyz`` answers 200; its base URL.
    Stopped (and reaped) at the end; its output goes to ``log``, shown when it does not start."""
    command = [sys.executable, "-m", "portal.cli", *args, "--host", "127.0.0.1", "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60  # generous: the machine is shared
            while True:
                assert process.poll() is None, f"{args[0]} exited early:\n{log.read_text()}"
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"{args[0]} did not become ready:\n{log.read_text()}"
                time.sleep(0.05)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_the_gateway_passes_every_graphql_over_http_audit(tmp_path: Path) -> None:
    args = ["gateway", "--supergraph", str(SUPERGRAPH)]
    with running(args, free_port(), env=clean_environment(), cwd=tmp_path, log=tmp_path / "gateway.log") as base:
        assert_conformant(run_audit(f"{base}/graphql"))
