"""``loom gateway`` as a real process (``python -m portal.cli gateway``): readiness, SIGTERM with an in-flight
request and an idle keep-alive connection, JSON logs, and a restart that serves the cached snapshot while the
portal is down. The upstream and the portal's snapshot endpoint are real servers on loopback (uvicorn threads).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from portal.cli import main
from stitcher.composition import compose
from stitcher.credentials import generate_api_key
from stitcher.ir import SourceKind
from stitcher.snapshot import CredentialConfig, PlanConfig, ProductConfig, Snapshot, SourceConfig, SubscriptionConfig
from stitcher.sources import SourceSpec
from stitcher.supergraph import print_supergraph_sdl
from tests.stitcher.gateway_upstreams import BOOKS_SDL, ServerThread, books_app
from tests.stitcher.test_snapshot import StubPortal

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Gateway:
    """A ``loom gateway`` subprocess on a free port; always killed at the end."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "portal.cli", "gateway", *args, "--port", str(self.port)]
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}, text=True
        )
        self.stopped_after = 0.0

    def wait_ready(self) -> float:
        """Seconds from the start of the process until ``/readyz`` answers 200."""
        deadline = time.monotonic() + 30  # generous: the machine is shared; readiness speed is a benchmark matter
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the gateway exited early: {self.process.stderr.read() if self.process.stderr else ''}"
                )
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return time.monotonic() - self.started
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError("the gateway did not become ready")

    def stop(self) -> tuple[int, str]:
        """SIGTERM, then the exit code and the logs."""
        self.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        try:
            _, logs = self.process.communicate(timeout=30)  # generous: "it exited" is all that is asserted
            self.stopped_after = time.monotonic() - signalled
        except subprocess.TimeoutExpired:
            self.close()
            raise AssertionError("the gateway did not exit after SIGTERM") from None
        return self.process.returncode, logs

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()  # reaps the process and closes the pipe

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.returncode is None or (self.process.stderr and not self.process.stderr.closed):
            self.close()


@pytest.fixture(scope="module")
def books() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    calls: list[dict[str, Any]] = []
    with ServerThread(books_app(calls)) as server:
        yield server.url, calls


def test_sigterm_finishes_in_flight_requests_and_exits_with_idle_keep_alive(
    books: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    url, calls = books
    supergraph = tmp_path / "supergraph.graphql"
    spec = SourceSpec("books", SourceKind.GRAPHQL, BOOKS_SDL, url=f"{url}/graphql")
    supergraph.write_text(print_supergraph_sdl(compose([spec])))
    with Gateway("--supergraph", str(supergraph)) as gateway:
        # The targets are 2 s to ready and about 1 s to exit (measured here: ~0.9 s and ~0.2 s on the shop); the
        # bounds are 5x generous because the machine is shared; they catch a hang or a blocking start-up, not speed.
        assert gateway.wait_ready() < 10
        answer = httpx.post(f"{gateway.url}/graphql", json={"query": "{ book(id: 1) { title } }"})
        assert answer.json() == {"data": {"book": {"title": "Book 1"}}}

        idle = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
        idle.request("GET", "/healthz")
        assert idle.getresponse().read() == b'{"status":"ok"}'  # the connection stays open (keep-alive)

        in_flight: dict[str, Any] = {}

        def slow_request() -> None:
            body = {"query": "{ slow(seconds: 0.5) }"}
            response = httpx.post(f"{gateway.url}/graphql", json=body, headers={"x-request-id": "slow-1"}, timeout=30)
            in_flight["status"], in_flight["body"] = response.status_code, response.json()

        thread = threading.Thread(target=slow_request)
        thread.start()
        deadline = time.monotonic() + 30
        while not any("slow" in c["body"]["query"] for c in calls) and time.monotonic() < deadline:
            time.sleep(0.01)  # until the upstream has the request: it is then in flight at the gateway
        code, logs = gateway.stop()
        thread.join(30)
        idle.close()
    assert code == 0
    assert gateway.stopped_after < 5  # the in-flight request (0.5 s) finished; the idle keep-alive did not hold it
    assert in_flight == {"status": 200, "body": {"data": {"slow": "done"}}}
    records = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    access = [r for r in records if r.get("logger") == "stitcher.gateway.access"]
    assert any(r["request_id"] == "slow-1" and r["status"] == 200 for r in access)


def test_portal_mode_serves_the_cached_snapshot_after_a_restart_while_the_portal_is_down(
    books: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    url, _ = books
    key, prefix, digest = generate_api_key()
    source = SourceConfig(name="books", protocol=SourceKind.GRAPHQL, schema_text=BOOKS_SDL, url=f"{url}/graphql")
    snapshot = Snapshot(
        products=[ProductConfig(name="shop", sources=[source])],
        plans=[PlanConfig(name="free")],
        credentials=[CredentialConfig(id="k", application="app", kind="api_key", prefix=prefix, key_hash=digest)],
        subscriptions=[SubscriptionConfig(application="app", product="shop", plan="free")],
    )
    env = {"LOOM_GATEWAY_CACHE_DIR": str(tmp_path / "cache"), "LOOM_GATEWAY_POLL_INTERVAL_SECONDS": "0.1"}
    query = {"query": "{ book(id: 2) { title } }"}
    portal = ServerThread(StubPortal(snapshot, token="gw").app)
    with portal, Gateway("--portal", portal.url, "--token", "gw", env=env) as first:
        first.wait_ready()
        served = httpx.post(f"{first.url}/products/shop/graphql", json=query, headers={"x-api-key": key})
        assert served.json() == {"data": {"book": {"title": "Book 2"}}}
        assert first.stop()[0] == 0
    assert (tmp_path / "cache" / "snapshot.json").exists()

    # The portal is gone now; a new gateway process still serves from the cache.
    with Gateway("--portal", portal.url, "--token", "gw", env=env) as second:
        second.wait_ready()
        served = httpx.post(f"{second.url}/products/shop/graphql", json=query, headers={"x-api-key": key})
        assert served.json() == {"data": {"book": {"title": "Book 2"}}}
        code, logs = second.stop()
    assert code == 0
    assert "cannot reach the portal" in logs


def test_usage_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gateway", "--portal", "http://127.0.0.1:1"]) == 1
    assert (
        capsys.readouterr().err.strip()
        == "loom: error: --portal needs --token (or LOOM_GATEWAY_TOKEN): the portal's gateway token"
    )
    assert main(["gateway", "--supergraph", str(tmp_path / "missing.graphql")]) == 1
    assert "cannot read the supergraph file" in capsys.readouterr().err
    (tmp_path / "bad.graphql").write_text("type Query {")
    assert main(["gateway", "--supergraph", str(tmp_path / "bad.graphql")]) == 1
    assert "supergraph SDL is invalid" in capsys.readouterr().err


def test_a_busy_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    """The port is bound before uvicorn starts, so a busy one is the contract's one-line error, not a log trace."""
    supergraph = tmp_path / "supergraph.graphql"
    spec = SourceSpec(name="books", protocol=SourceKind.GRAPHQL, schema=BOOKS_SDL, url="http://127.0.0.1:1/graphql")
    supergraph.write_text(print_supergraph_sdl(compose([spec])))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "portal.cli", "gateway", "--supergraph", str(supergraph), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"loom: error: cannot serve on 127.0.0.1:{port} (Address already in use): pass --port with a free port"
    ]


def _answer(conn: socket.socket) -> bytes:
    """One whole response (headers and the content-length body, so nothing of it is left for the next read on a
    kept-alive connection), or what came before the server closed the connection."""
    data = b""
    while b"\r\n\r\n" not in data and (chunk := conn.recv(4096)):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(body) < length and (chunk := conn.recv(4096)):
        body += chunk
    return data if not head else head + b"\r\n\r\n" + body


def test_the_gateway_closes_slow_headers_and_caps_connections(tmp_path: Path) -> None:
    """LOOM_GATEWAY_HEADER_TIMEOUT_SECONDS and LOOM_GATEWAY_MAX_CONNECTIONS reach the real server: connections
    over the cap are refused while the open ones are served, and half a header is closed (waits are on the
    server's answers, never on time)."""
    supergraph = tmp_path / "supergraph.graphql"
    spec = SourceSpec(name="books", protocol=SourceKind.GRAPHQL, schema=BOOKS_SDL, url="http://127.0.0.1:1/graphql")
    supergraph.write_text(print_supergraph_sdl(compose([spec])))
    env = {
        "LOOM_GATEWAY_HEADER_TIMEOUT_SECONDS": "0.5",
        "LOOM_GATEWAY_KEEP_ALIVE_SECONDS": "60",
        "LOOM_GATEWAY_MAX_CONNECTIONS": "2",
    }
    health = b"GET /healthz HTTP/1.1\r\nhost: gateway\r\n\r\n"
    with Gateway("--supergraph", str(supergraph), env=env) as gateway:
        gateway.wait_ready()
        address = ("127.0.0.1", gateway.port)
        with socket.create_connection(address, timeout=30) as checker, socket.create_connection(address, 30) as other:
            for conn in (checker, other):
                conn.sendall(health)
                assert _answer(conn).startswith(b"HTTP/1.1 200")
            with socket.create_connection(address, timeout=30) as refused:
                assert _answer(refused).startswith(b"HTTP/1.1 503")
            checker.sendall(health)
            assert _answer(checker).startswith(b"HTTP/1.1 200")
            other.close()
            while True:  # until the gateway has seen `other` go and takes a new connection
                with socket.create_connection(address, timeout=30) as slow:
                    slow.sendall(b"GET /healthz HTTP/1.1\r\nhost: gate")
                    answer = _answer(slow)
                if not answer.startswith(b"HTTP/1.1 503"):
                    break
        gateway.stop()
    assert answer.startswith(b"HTTP/1.1 408"), answer


def test_once_serving_the_gateway_freezes_what_start_up_built_and_collects_young_objects_less_often() -> None:
    """``settle_gc`` (run by ``serve`` when uvicorn serves): the start-up objects leave the collector's sight and
    the young threshold is raised (a large answer's live result trees were walked again on every 700 allocations)."""
    import gc

    from stitcher.cli import GC_YOUNG_THRESHOLD, settle_gc

    before = gc.get_threshold()
    try:
        settle_gc()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, before[1], before[2]) and before[0] < GC_YOUNG_THRESHOLD
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
