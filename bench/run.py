"""Gateway benchmark: Loom side by side with Grafbase, Hive Gateway, Hive Gateway + Rust planner and Apollo Gateway.

Run with ``make bench`` (installs the npm peers into ``bench/node_modules`` and wrk from Debian when missing). A full
run (no ``--only``) rewrites the results section of ``bench/README.md`` with the tables and the exact command.

Fairness rules, all enforced here:
- every gateway serves the same subgraphs: the JS ones and Loom load one supergraph composed by Apollo's own
  composition from ``bench/schemas``; Grafbase composes the same subgraph SDL files itself (``grafbase dev`` takes
  subgraphs, not a supergraph);
- each gateway is pinned to core 0 with ``taskset``; the load generator (wrk) and the subgraphs share core 1,
  whose busy share is measured and must stay below 80% for a result to count as gateway-bound;
- in-flight deduplication is off on every gateway; the query's variables vary between requests;
- response bodies are checked against the expected answers before each measurement (and counted bad during it by
  wrk), and upstream calls per request are counted at the subgraphs.

Two query shapes: ``top`` (the classic 4-fetch query, 1..10 products, about 1-2 KB) and ``merge`` (hundreds of
entities per answer in nested lists: products -> reviews -> author and product again, 5 fetches), at a few answer
sizes, so the report shows how each gateway's RPS falls as the answer grows.

``loom-httpx`` is ``loom gateway`` with ``LOOM_GATEWAY_UPSTREAM_CLIENT=httpx`` (Loom's two upstream clients side by
side, ``top`` only); ``loom-2-workers`` is ``loom gateway --workers 2`` on both cores (``top`` only): with the load
and the subgraphs on core 1 too, it is the 1 -> 2 workers figure of this 2-core machine, not a fair peer row.
Resident memory (idle after start-up, peak after the load; the gateway's whole process tree) and the time from
start to the first answer are reported per gateway too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SUBGRAPHS = ("accounts", "products", "inventory", "reviews")
GRAFBASE = BENCH / "node_modules" / "@grafbase" / "cli-x86_64-unknown-linux-musl" / "grafbase"
README = BENCH / "README.md"
README_START = "<!-- make bench: results start (written by bench/run.py) -->"
README_END = "<!-- make bench: results end -->"


def own_code() -> dict[str, str]:
    """The environment that makes ``.venv/bin/loom`` run this checkout's ``stitcher`` and ``portal``: the venv's
    editable install maps them to the checkout that ran ``make install``, so from a git worktree that shares its venv
    the gateway would run the other checkout's code. A PYTHONPATH already set wins (an A/B run of another tree)."""
    return {"PYTHONPATH": os.environ.get("PYTHONPATH") or str(ROOT)}


TOP_QUERY = (
    "query Top($first: Int) { topProducts(first: $first) { upc name price inStock shippingEstimate "
    "reviews { id body author { id username name } } } }"
)
MERGE_QUERY = (
    "query Merge($first: Int) { topProducts(first: $first) { upc name price weight inStock shippingEstimate "
    "reviews { id body product { upc name } author { id username name } } } }"
)
PRODUCTS = 500  # as in bench/data.mjs
MERGE_SIZES = (10, 100, 500)  # products per answer: about 5 KB, 55 KB and 280 KB of JSON


def _product(i: int, *, merge: bool) -> dict[str, object]:
    price, weight = i * 100, i * 10
    reviews = []
    for j in range(1, 4):
        k = ((i + j) % 10) + 1
        review: dict[str, object] = {"id": f"r{i}-{j}", "body": f"Review {j} of product {i}"}
        if merge:
            review["product"] = {"upc": f"p{i}", "name": f"Product {i}"}
        review["author"] = {"id": f"u{k}", "username": f"user{k}", "name": f"User {k}"}
        reviews.append(review)
    product: dict[str, object] = {"upc": f"p{i}", "name": f"Product {i}", "price": price}
    if merge:
        product["weight"] = weight
    product |= {"inStock": i % 3 != 0, "shippingEstimate": 0 if price > 1000 else weight // 2, "reviews": reviews}
    return product


def expected_top(first: int) -> dict[str, object]:
    """The answer every gateway must give to TOP_QUERY, from the rules in bench/data.mjs."""
    return {"data": {"topProducts": [_product(i, merge=False) for i in range(1, min(first, PRODUCTS) + 1)]}}


def expected_merge(first: int) -> dict[str, object]:
    """The answer every gateway must give to MERGE_QUERY."""
    return {"data": {"topProducts": [_product(i, merge=True) for i in range(1, min(first, PRODUCTS) + 1)]}}


expected = expected_top  # the name other modules used


@dataclass(frozen=True)
class Shape:
    """One query shape at one answer size: ``first`` is drawn per request from first_min..first_max."""

    name: str
    query: str
    first_min: int
    first_max: int
    expected: Callable[[int], dict[str, object]]

    @property
    def answer_kb(self) -> float:
        return len(json.dumps(self.expected(self.first_max), separators=(",", ":"))) / 1024


SHAPES = [
    Shape("top", TOP_QUERY, 1, 10, expected_top),
    *(Shape(f"merge-{n}", MERGE_QUERY, max(1, n - 4), n, expected_merge) for n in MERGE_SIZES),
]


@dataclass
class Result:
    gateway: str
    shape: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad_responses: int
    upstream_calls_per_request: float  # under load: requests in flight at the window's edges make it noisy
    load_core_busy: float
    calls_per_checked_request: float  # one request at a time, while the answers are checked: exact
    cpu_ms_per_request: (
        float  # the gateway's process tree's CPU time over the window / requests: holds on a busy machine
    )


@dataclass
class Footprint:
    gateway: str
    ready_seconds: float  # from the start of the process to its first good answer
    rss_idle_mb: float  # the process tree's resident memory after start-up and one answer
    rss_peak_mb: float  # the process tree's peak resident memory once every load has run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, body: dict[str, object], timeout: float = 30.0) -> dict[str, object]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        result: dict[str, object] = json.loads(response.read())
        return result


def cpu_times(core: int) -> tuple[int, int]:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            values = [int(v) for v in line.split()[1:]]
            idle = values[3] + values[4]
            return sum(values), idle
    raise RuntimeError(f"no cpu{core} in /proc/stat")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a Node gateway or Loom's workers may fork)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by the process tree (live members)."""
    ticks = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_memory_mb(pid: int, key: str) -> float:
    """The sum of ``key`` (VmRSS or VmHWM) over the process tree, in MiB."""
    total = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    total += int(line.split()[1])
    return total / 1024


def ensure_tools() -> None:
    if not (BENCH / "node_modules" / ".bin" / "hive-gateway").exists() or not GRAFBASE.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BENCH, check=True)
    if shutil.which("wrk") is None:
        if os.geteuid() != 0:
            sys.exit("bench: wrk is missing; install Debian's wrk package")
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    if shutil.which("taskset") is None:
        sys.exit("bench: taskset (util-linux) is missing")


@contextlib.contextmanager
def process(
    cmd: list[str], *, cwd: Path = ROOT, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_ready(url: str, proc: subprocess.Popen[bytes], deadline: float = 120.0) -> None:
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway at {url} exited with {proc.returncode} before answering")
        with contextlib.suppress(OSError, ValueError):
            if "data" in post(url, {"query": TOP_QUERY, "variables": {"first": 1}}, timeout=2):
                return
        time.sleep(0.02)
    raise RuntimeError(f"gateway at {url} did not answer within {deadline:.0f}s")


def settle(base: int) -> None:
    """Until the subgraphs have had no call for 0.3 s: a gateway still works off the previous load's queued requests
    after wrk stops (their calls would be counted as the checked requests' ones)."""
    calls = subgraph_calls(base)
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < 0.3:
        time.sleep(0.05)
        now = subgraph_calls(base)
        if now != calls:
            calls, quiet_since = now, time.monotonic()


def check_bodies(url: str, shape: Shape, base: int) -> float:
    """Every answer of the shape checked, one request at a time; the upstream calls each one made."""
    settle(base)
    before = subgraph_calls(base)
    firsts = range(shape.first_min, shape.first_max + 1)
    for first in firsts:
        got = post(url, {"query": shape.query, "variables": {"first": first}})
        if got != shape.expected(first):
            raise RuntimeError(f"wrong answer from {url} for {shape.name}, first={first}: {json.dumps(got)[:400]}")
    return (subgraph_calls(base) - before) / len(firsts)


def subgraph_calls(base: int) -> int:
    total = 0
    for i in range(len(SUBGRAPHS)):
        with urllib.request.urlopen(f"http://127.0.0.1:{base + i}/stats", timeout=5) as r:
            total += int(json.loads(r.read())["served"])
    return total


def run_wrk(url: str, shape: Shape, seconds: int, connections: int) -> tuple[str, float]:
    before = cpu_times(1)
    env = {
        **os.environ,
        "BENCH_QUERY": shape.query,
        "BENCH_FIRST_MIN": str(shape.first_min),
        "BENCH_FIRST_MAX": str(shape.first_max),
    }
    argv = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    argv += ["--timeout", "10s", "-s", str(BENCH / "wrk.lua"), url]
    out = subprocess.run(argv, check=True, capture_output=True, text=True, env=env).stdout
    after = cpu_times(1)
    total, idle = after[0] - before[0], after[1] - before[1]
    return out, 1.0 - idle / total if total else 0.0


def parse_wrk(out: str) -> tuple[float, int, float, float, int]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = int(re.search(r"LATENCY_P50_US (\d+)", out).group(1)) / 1000  # type: ignore[union-attr]
    p99 = int(re.search(r"LATENCY_P99_US (\d+)", out).group(1)) / 1000  # type: ignore[union-attr]
    bad = int(re.search(r"BAD_RESPONSES (\d+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    socket_errors = sum(int(g) for g in errors.groups()) if errors else 0
    return rps, requests, p50, p99, bad + (int(non2xx.group(1)) if non2xx else 0) + socket_errors


@dataclass(frozen=True)
class GatewayCommand:
    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)  # on top of the common environment
    cores: str = "0"  # taskset's core list
    shapes: tuple[str, ...] | None = None  # None: every shape


def grafbase_config(base: int, path: Path) -> Path:
    """Grafbase's gateway config: the bench's subgraphs by URL and SDL file, in-flight deduplication off."""
    lines = []
    for i, name in enumerate(SUBGRAPHS):
        lines += [
            f"[subgraphs.{name}]",
            f'url = "http://127.0.0.1:{base + i}/graphql"',
            f'schema_path = "{BENCH / "schemas" / f"{name}.graphql"}"',
            "",
        ]
    lines += ["[traffic_shaping]", "inflight_deduplication = false", ""]
    path.write_text("\n".join(lines))
    return path


def gateway_commands(supergraph: Path, port: int, grafbase_toml: Path) -> dict[str, GatewayCommand]:
    """How each gateway is started; every one serves the bench's subgraphs on ``port`` with one worker."""
    hive = str(BENCH / "node_modules" / ".bin" / "hive-gateway")

    def hive_cmd(config: str) -> list[str]:
        # -c names the config explicitly: hive-gateway only looks for gateway.{ts,mjs,...} in its cwd.
        config_path = str(BENCH / "gateways" / config / "gateway.mjs")
        return [hive, "supergraph", str(supergraph), "-c", config_path, "--fork", "1", "--port", str(port)]

    loom = [str(ROOT / ".venv" / "bin" / "loom"), "gateway", "--supergraph", str(supergraph), "--port", str(port)]
    listen = f"127.0.0.1:{port}"
    return {
        "loom": GatewayCommand(loom, ROOT),  # the default upstream client, as shipped
        "loom-httpx": GatewayCommand(loom, ROOT, {"LOOM_GATEWAY_UPSTREAM_CLIENT": "httpx"}, shapes=("top",)),
        "grafbase": GatewayCommand(
            [str(GRAFBASE), "dev", "-c", str(grafbase_toml), "--listen-address", listen], grafbase_toml.parent
        ),
        "hive-gateway": GatewayCommand(hive_cmd("hive"), BENCH),
        "hive-gateway-rust-planner": GatewayCommand(hive_cmd("hive-rust"), BENCH),
        "apollo-gateway": GatewayCommand(
            ["node", str(BENCH / "gateways" / "apollo.mjs"), str(supergraph), str(port)], BENCH
        ),
        "loom-2-workers": GatewayCommand([*loom, "--workers", "2"], ROOT, cores="0,1", shapes=("top", "merge-100")),
    }


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def measure(
    name: str, gateway: GatewayCommand, url: str, base: int, args: argparse.Namespace, work: Path
) -> tuple[list[Result], Footprint]:
    cmd = ["taskset", "-c", gateway.cores, *gateway.argv]
    # Every gateway logs errors only: Loom's per-request access log is off like the peers' ones. Loom's query cost
    # limit (5000 by default; merge-500 estimates 7936) is raised: no peer limits cost by default.
    env = {
        **os.environ,
        **own_code(),
        "LOOM_GATEWAY_ACCESS_LOG": "false",
        "LOOM_GATEWAY_MAX_COST": "100000",
        "NODE_ENV": "production",
        **gateway.env,
    }
    results = []
    started = time.monotonic()
    with process(cmd, cwd=gateway.cwd, log=work / f"{name}.log", env=env) as proc:
        wait_ready(url, proc)
        ready = time.monotonic() - started
        idle = tree_memory_mb(proc.pid, "VmRSS")
        for shape in SHAPES:
            if gateway.shapes is not None and shape.name not in gateway.shapes:
                continue
            if args.shape and not any(shape.name.startswith(s) for s in args.shape):
                continue
            checked = check_bodies(url, shape, base)
            run_wrk(url, shape, args.warmup, args.connections)
            before, cpu_before = subgraph_calls(base), tree_cpu_seconds(proc.pid)
            out, busy = run_wrk(url, shape, args.seconds, args.connections)
            calls, cpu = subgraph_calls(base) - before, tree_cpu_seconds(proc.pid) - cpu_before
            rps, requests, p50, p99, bad = parse_wrk(out)
            result = Result(
                name,
                shape.name,
                rps,
                p50,
                p99,
                requests,
                bad,
                calls / max(requests, 1),
                busy,
                checked,
                1000 * cpu / max(requests, 1),
            )
            results.append(result)
            print(
                f"{name:26s} {shape.name:10s} {rps:8.0f} rps  cpu {result.cpu_ms_per_request:7.2f} ms/req  "
                f"p50 {p50:8.2f} ms  p99 {p99:8.2f} ms  "
                f"upstream/req {checked:4.2f} ({result.upstream_calls_per_request:4.2f} under load)  "
                f"core1 busy {busy:4.0%}  bad {bad}",
                flush=True,
            )
        peak = tree_memory_mb(proc.pid, "VmHWM")
    footprint = Footprint(name, ready, idle, peak)
    print(f"{name:26s} ready {ready:5.2f} s  RSS idle {idle:6.1f} MB  peak {peak:6.1f} MB", flush=True)
    return results, footprint


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", action="append", help="run only these gateways (repeatable)")
    parser.add_argument("--shape", action="append", help="run only the shapes starting with this (repeatable)")
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        sys.exit("bench: needs two cores (gateway on core 0, load and subgraphs on core 1)")
    ensure_tools()
    work = BENCH / "results"
    work.mkdir(exist_ok=True)
    base = 4101
    while any(not _port_free(base + i) for i in range(len(SUBGRAPHS))):
        base += 10
    supergraph = work / f"supergraph-{base}.graphql"  # per port base: two runs at once never share one
    subprocess.run(["node", str(BENCH / "compose.mjs"), str(base), str(supergraph)], check=True)
    grafbase_toml = grafbase_config(base, work / f"grafbase-{base}.toml")
    load = os.getloadavg()
    started_at = datetime.now(UTC)
    results: list[Result] = []
    footprints: list[Footprint] = []
    subgraphs = ["taskset", "-c", "1", "node", str(BENCH / "subgraphs.mjs"), str(base)]
    with process(subgraphs, log=work / "subgraphs.log") as sub:
        wait_subgraphs(base, sub)
        for name in gateway_commands(supergraph, 0, grafbase_toml):
            if args.only and name not in args.only:
                continue
            port = free_port()
            gateway = gateway_commands(supergraph, port, grafbase_toml)[name]
            got, footprint = measure(name, gateway, f"http://127.0.0.1:{port}/graphql", base, args, work)
            results += got
            footprints.append(footprint)
    text = report(results, footprints, args, load, started_at)
    print("\n" + text)
    (work / "latest.md").write_text(text + "\n")
    (work / "latest.json").write_text(
        json.dumps({"results": [asdict(r) for r in results], "footprints": [asdict(f) for f in footprints]}, indent=2)
    )
    if not args.only and not args.shape:
        write_readme(text)
        print(f"\nbench: results written into {README.relative_to(ROOT)}")
    return 0


def wait_subgraphs(base: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the subgraphs exited: see bench/results/subgraphs.log")
        with contextlib.suppress(OSError):
            subgraph_calls(base)
            return
        time.sleep(0.05)
    raise RuntimeError("the subgraphs did not start")


def _table(rows: list[Result], looms: list[Result]) -> list[str]:
    headers = [f"{'Loom' if r.gateway == 'loom' else r.gateway} RPS ratio" for r in looms]
    headers += [f"{'Loom' if r.gateway == 'loom' else r.gateway} CPU/req ratio" for r in looms]
    columns = ["gateway", "RPS", "CPU ms/req", "p50 ms", "p99 ms", "upstream calls/req", "under load"]
    columns += ["load core busy", "bad", *headers]
    lines = ["| " + " | ".join(columns) + " |", "|---|" + "---:|" * (len(columns) - 1)]
    for r in rows:
        ratios = [f"{loom.rps / r.rps:.2f}x" if r.rps else "-" for loom in looms]
        ratios += [
            f"{r.cpu_ms_per_request / loom.cpu_ms_per_request:.2f}x" if loom.cpu_ms_per_request else "-"
            for loom in looms
        ]
        cells = [r.gateway, f"{r.rps:.0f}", f"{r.cpu_ms_per_request:.2f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}"]
        cells += [f"{r.calls_per_checked_request:.2f}", f"{r.upstream_calls_per_request:.2f}"]
        cells += [f"{r.load_core_busy:.0%}", str(r.bad_responses), *ratios]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def versions() -> str:
    def npm(package: str) -> str:
        with contextlib.suppress(OSError, ValueError, KeyError):
            return str(json.loads((BENCH / "node_modules" / package / "package.json").read_text())["version"])
        return "?"

    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return (
        f"Python {platform.python_version()}, Node {node.lstrip('v')}, Grafbase CLI "
        f"{npm('@grafbase/cli-x86_64-unknown-linux-musl')}, `@graphql-hive/gateway` {npm('@graphql-hive/gateway')}, "
        f"`@graphql-hive/router-runtime` {npm('@graphql-hive/router-runtime')}, `@apollo/gateway` "
        f"{npm('@apollo/gateway')}"
    )


def report(
    results: list[Result],
    footprints: list[Footprint],
    args: argparse.Namespace,
    load: tuple[float, float, float],
    started_at: datetime,
) -> str:
    command = " ".join([".venv/bin/python -m bench.run", *sys.argv[1:]])
    out = [
        f"{started_at:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, {versions()}.",
        f"Command: `{command}` ({args.seconds} s measured after {args.warmup} s warm-up per shape, "
        f"{args.connections} connections). Load average at the start: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
        "(other sessions share this machine: numbers are noisy, ratios within one run are what compares).",
        "Each gateway on core 0; wrk (1 thread) and the subgraphs on core 1 (`load core busy`; >= 80% is flagged).",
        "`CPU ms/req`: the gateway's CPU time (its process tree, user + system) over the window per request served: "
        "unlike RPS it holds on a busy machine (1000 / CPU ms/req is the RPS one free core would give); `CPU/req "
        "ratio` is the peer's CPU per request over Loom's (above 1: Loom spends less per request).",
        "`upstream calls/req`: counted at the subgraphs over the checked answers, one request at a time (exact); "
        "`under load`: over the measured window, where requests in flight at its edges add calls (slow gateways "
        "with many in flight show more); deduplication would show as fewer.",
    ]
    for shape in SHAPES:
        rows = [r for r in results if r.shape == shape.name]
        if not rows:
            continue
        looms = [r for r in rows if r.gateway in ("loom", "loom-httpx")]
        out += [
            "",
            f"**{shape.name}** (`first` {shape.first_min}..{shape.first_max}, answers up to {shape.answer_kb:.1f} KB):",
            "",
            *_table(rows, looms),
        ]
    merges = [s for s in SHAPES if s.name.startswith("merge")]
    names = list(dict.fromkeys(r.gateway for r in results if r.shape.startswith("merge")))
    if names:
        by = {(r.gateway, r.shape): r for r in results}
        header = ["gateway", *(f"RPS {s.name} ({s.answer_kb:.0f} KB)" for s in merges)]
        header += [f"{merges[-1].name} / {merges[0].name}", f"Loom ratio {merges[-1].name}"]
        lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
        loom_last = by.get(("loom", merges[-1].name))
        for name in names:
            rps = [by[(name, s.name)].rps if (name, s.name) in by else 0.0 for s in merges]
            fall = f"{rps[-1] / rps[0]:.3f}" if rps[0] and rps[-1] else "-"
            ratio = f"{loom_last.rps / rps[-1]:.2f}x" if loom_last and rps[-1] else "-"
            cells = [f"{v:.0f}" if v else "-" for v in rps]
            lines.append("| " + " | ".join([name, *cells, fall, ratio]) + " |")
        out += ["", "**How RPS falls as the answer grows** (merge shape):", "", *lines]
        header = ["gateway", *(f"CPU ms/req {s.name}" for s in merges), f"Loom CPU/req ratio {merges[-1].name}"]
        lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
        for name in names:
            cpu = [by[(name, s.name)].cpu_ms_per_request if (name, s.name) in by else 0.0 for s in merges]
            ratio = f"{cpu[-1] / loom_last.cpu_ms_per_request:.2f}x" if loom_last and cpu[-1] else "-"
            lines.append("| " + " | ".join([name, *(f"{v:.2f}" if v else "-" for v in cpu), ratio]) + " |")
        out += ["", "**CPU per request as the answer grows** (merge shape; holds on a busy machine):", "", *lines]
    if footprints:
        lines = [
            "| gateway | first answer after start s | RSS idle MB | RSS peak under load MB |",
            "|---|---:|---:|---:|",
        ]
        for f in footprints:
            lines.append(f"| {f.gateway} | {f.ready_seconds:.2f} | {f.rss_idle_mb:.0f} | {f.rss_peak_mb:.0f} |")
        out += ["", "**Start-up and memory** (the gateway's process tree; peak = VmHWM after every load):", "", *lines]
    warnings = [
        f"- {r.gateway} {r.shape}: load core {r.load_core_busy:.0%} busy (>= 80%): not gateway-bound"
        + (" (expected: its second worker shares core 1)" if r.gateway == "loom-2-workers" else "")
        for r in results
        if r.load_core_busy >= 0.8
    ]
    if warnings:
        out += ["", *warnings]
    return "\n".join(out)


def write_readme(text: str) -> None:
    """Replace the results section of bench/README.md (between the markers) with this run's report."""
    readme = README.read_text()
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        raise RuntimeError(f"{README} has no results markers ({README_START!r} ... {README_END!r})")
    README.write_text(readme[: start + len(README_START)] + "\n\n" + text + "\n\n" + readme[end:])


if __name__ == "__main__":
    sys.exit(main())
