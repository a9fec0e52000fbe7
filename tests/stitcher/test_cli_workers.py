"""``loom gateway --workers N`` as real processes against a real upstream: two workers share the port, requests
served by each are counted in one /metrics scrape, a killed worker is replaced, SIGTERM stops every process, and a
supervisor that dies takes its workers with it. Which worker served a connection is read from /proc (the socket's
inode in the worker's file descriptors); every wait is for a condition (a process, a socket, an answer)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from portal.cli import main
from stitcher.composition import compose
from stitcher.ir import SourceKind
from stitcher.sources import SourceSpec
from stitcher.supergraph import print_supergraph_sdl
from tests.stitcher.gateway_upstreams import BOOKS_SDL, ServerThread, books_app
from tests.stitcher.test_gateway_cli import Gateway

pytestmark = pytest.mark.slow

T = TypeVar("T")
QUERY = {"query": "{ book(id: 1) { title } }"}


def eventually(probe: Callable[[], T | None], what: str, within: float = 60.0) -> T:
    """``probe()``'s first truthy answer, polled until ``within`` seconds (a hang guard, not a speed bound)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = list(children.get(pid, []))
    while todo:
        current = todo.pop()
        found.add(current)
        todo += children.get(current, [])
    return found


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def socket_inodes(pid: int) -> set[int]:
    inodes: set[int] = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def tcp_sockets() -> Iterator[tuple[int, int, str, int]]:
    """(local port, remote port, state, inode) of every IPv4 TCP socket."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        yield int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16), fields[3], int(fields[9])


def listening_workers(gateway: Gateway) -> set[int]:
    """The gateway's processes that listen on its port."""
    listeners = {inode for local, _, state, inode in tcp_sockets() if local == gateway.port and state == "0A"}
    return {pid for pid in descendants(gateway.process.pid) if socket_inodes(pid) & listeners}


def two_workers(gateway: Gateway, *, without: int | None = None) -> set[int]:
    """The gateway's two listening workers (none of them ``without``), once there are."""

    def probe() -> set[int] | None:
        workers = listening_workers(gateway)
        return workers if len(workers) == 2 and without not in workers else None

    return eventually(probe, "two workers listen" + (f", not {without}" if without else ""))


def metrics_directory(worker: int) -> Path:
    """The multiprocess metrics directory the supervisor gave its workers."""
    environ = Path(f"/proc/{worker}/environ").read_bytes().split(b"\0")
    value = next(e for e in environ if e.startswith(b"PROMETHEUS_MULTIPROC_DIR="))
    return Path(value.split(b"=", 1)[1].decode())


def served_by(gateway: Gateway, client_port: int, workers: set[int]) -> int:
    """The worker holding the server side of the connection from ``client_port``."""
    inode = next(i for local, remote, _, i in tcp_sockets() if local == gateway.port and remote == client_port)
    return next(pid for pid in workers if inode in socket_inodes(pid))


def query_on_a_new_connection(gateway: Gateway, workers: set[int]) -> int:
    """One query on its own connection (the kernel picks the worker per connection); the worker that served it."""
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
    try:
        conn.request("POST", "/graphql", body=json.dumps(QUERY), headers={"content-type": "application/json"})
        answer = conn.getresponse()
        assert json.loads(answer.read()) == {"data": {"book": {"title": "Book 1"}}}
        assert conn.sock is not None
        return served_by(gateway, conn.sock.getsockname()[1], workers)
    finally:
        conn.close()


def graphql_requests_counted(gateway: Gateway) -> float:
    text = httpx.get(f"{gateway.url}/metrics", timeout=30).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "loom_gateway_requests_total" and sample.labels.get("kind") == "graphql":
                return sample.value
    return 0.0


@pytest.fixture(scope="module")
def supergraph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    calls: list[dict[str, Any]] = []
    with ServerThread(books_app(calls)) as server:
        path = tmp_path_factory.mktemp("workers") / "supergraph.graphql"
        spec = SourceSpec("books", SourceKind.GRAPHQL, BOOKS_SDL, url=f"{server.url}/graphql")
        path.write_text(print_supergraph_sdl(compose([spec])))
        yield path


def test_two_workers_share_the_port_count_in_one_scrape_and_all_stop_on_sigterm(supergraph: Path) -> None:
    with Gateway("--supergraph", str(supergraph), "--workers", "2") as gateway:
        gateway.wait_ready()
        workers = two_workers(gateway)
        tree = descendants(gateway.process.pid)

        seen: dict[int, int] = {}
        sent = 0
        while set(seen) != workers and sent < 400:  # new connections until both workers have served some
            worker = query_on_a_new_connection(gateway, workers)
            seen[worker] = seen.get(worker, 0) + 1
            sent += 1
        assert set(seen) == workers, f"one worker served all {sent} connections: {seen}"
        # One scrape, whichever worker answers it, counts all (another worker's last ~50 ms a moment late).
        eventually(lambda: graphql_requests_counted(gateway) == sent, "one scrape counts every worker's requests")

        # A worker that dies is replaced; what it counted stays in the total.
        victim = next(iter(workers))
        os.kill(victim, signal.SIGKILL)
        replaced = two_workers(gateway, without=victim)
        query_on_a_new_connection(gateway, replaced)
        eventually(lambda: graphql_requests_counted(gateway) == sent + 1, "the dead worker's requests still count")
        tree |= descendants(gateway.process.pid)
        metrics_dir = metrics_directory(next(iter(replaced)))
        assert metrics_dir.is_dir()

        code, logs = gateway.stop()
    assert code == 0, logs
    assert not metrics_dir.exists()  # the supervisor removed the workers' metrics files
    assert "exited with -9: starting another" in logs
    # Every process of the gateway is gone: the supervisor waited for its workers before it exited.
    eventually(lambda: not any(alive(pid) for pid in tree), "every gateway process exits")


def test_workers_stop_when_their_supervisor_is_killed(supergraph: Path) -> None:
    with Gateway("--supergraph", str(supergraph), env={"LOOM_GATEWAY_WORKERS": "2"}) as gateway:
        gateway.wait_ready()
        workers = two_workers(gateway)
        metrics_dir = metrics_directory(next(iter(workers)))
        gateway.process.kill()
        gateway.process.wait(30)
        eventually(lambda: not any(alive(pid) for pid in workers), "the orphaned workers exit by themselves")
    shutil.rmtree(metrics_dir)  # a killed supervisor cannot remove it (after SIGTERM it does: the test above)


def test_a_worker_that_cannot_start_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.graphql"
    bad.write_text("type Query {")
    done = subprocess.run(
        [sys.executable, "-m", "portal.cli", "gateway", "--supergraph", str(bad), "--workers", "2", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("loom: error:")]
    assert len(errors) == 1 and "supergraph SDL is invalid" in errors[0], done.stderr

    assert main(["gateway", "--supergraph", str(bad), "--workers", "0"]) == 1
    assert capsys.readouterr().err.strip() == "loom: error: --workers must be at least 1 (got 0)"
    monkeypatch.setenv("LOOM_GATEWAY_WORKERS", "0")
    assert main(["gateway", "--supergraph", str(bad)]) == 1
    assert (
        capsys.readouterr().err.strip()
        == "loom: error: LOOM_GATEWAY_WORKERS='0' is refused: Input should be greater than or equal to 1"
    )
