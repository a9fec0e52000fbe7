"""Gateway benchmark: Loom side by side with Hive Gateway, Hive Gateway + Rust planner and Apollo Gateway.

Run with ``make bench`` (installs the npm peers into ``bench/node_modules`` and wrk from Debian when missing).

Fairness rules, all enforced here:
- every gateway serves the same supergraph, composed by Apollo's own composition from ``bench/schemas``;
- each gateway is pinned to core 0 with ``taskset``; the load generator (wrk) and the subgraphs share core 1,
  whose busy share is measured and must stay below 80% for a result to count as gateway-bound;
- in-flight deduplication is off on every gateway; the query's variables vary between requests;
- response bodies are checked against the expected answers before the run (and counted bad during it by wrk),
  and upstream calls per request are counted at the subgraphs.
The report gives RPS, p50, p99 and Loom's ratio to each peer, all from one run.

``loom-httpx`` is the same ``loom gateway`` with ``LOOM_GATEWAY_UPSTREAM_CLIENT=httpx``, so one run compares Loom's two
upstream clients side by side with the peers (the report adds its ratio column when it ran).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
QUERY = (
    "query Top($first: Int) { topProducts(first: $first) { upc name price inStock shippingEstimate "
    "reviews { id body author { id username name } } } }"
)


@dataclass
class Result:
    gateway: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad_responses: int
    upstream_calls_per_request: float
    load_core_busy: float


def expected(first: int) -> dict[str, object]:
    """The answer every gateway must give, from the rules in bench/data.mjs."""
    products = []
    for i in range(1, min(first, 20) + 1):
        price, weight = i * 100, i * 10
        reviews = []
        for j in range(1, 4):
            k = ((i + j) % 10) + 1
            reviews.append(
                {
                    "id": f"r{i}-{j}",
                    "body": f"Review {j} of product {i}",
                    "author": {"id": f"u{k}", "username": f"user{k}", "name": f"User {k}"},
                }
            )
        products.append(
            {
                "upc": f"p{i}",
                "name": f"Product {i}",
                "price": price,
                "inStock": i % 3 != 0,
                "shippingEstimate": 0 if price > 1000 else weight // 2,
                "reviews": reviews,
            }
        )
    return {"data": {"topProducts": products}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, body: dict[str, object], timeout: float = 5.0) -> dict[str, object]:
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


def ensure_tools() -> None:
    if not (BENCH / "node_modules" / ".bin" / "hive-gateway").exists():
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


def wait_ready(url: str, deadline: float = 60.0) -> None:
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        with contextlib.suppress(OSError, ValueError):
            if "data" in post(url, {"query": QUERY, "variables": {"first": 1}}, timeout=2):
                return
        time.sleep(0.2)
    raise RuntimeError(f"gateway at {url} did not answer within {deadline:.0f}s")


def check_bodies(url: str) -> None:
    for first in range(1, 11):
        got = post(url, {"query": QUERY, "variables": {"first": first}})
        if got != expected(first):
            raise RuntimeError(f"wrong answer from {url} for first={first}: {json.dumps(got)[:400]}")


def subgraph_calls(base: int) -> int:
    total = 0
    for i in range(4):
        with urllib.request.urlopen(f"http://127.0.0.1:{base + i}/stats", timeout=5) as r:
            total += int(json.loads(r.read())["served"])
    return total


def run_wrk(url: str, seconds: int, connections: int) -> tuple[str, float]:
    before = cpu_times(1)
    out = subprocess.run(
        [
            "taskset",
            "-c",
            "1",
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(BENCH / "wrk.lua"),
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
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
    return rps, requests, p50, p99, bad + (int(non2xx.group(1)) if non2xx else 0)


@dataclass(frozen=True)
class GatewayCommand:
    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)  # on top of the common environment


def gateway_commands(supergraph: Path, port: int) -> dict[str, GatewayCommand]:
    """How each gateway is started; every one serves ``supergraph`` on ``port`` with one worker."""
    hive = str(BENCH / "node_modules" / ".bin" / "hive-gateway")

    def hive_cmd(config: str) -> list[str]:
        # -c names the config explicitly: hive-gateway only looks for gateway.{ts,mjs,...} in its cwd.
        config_path = str(BENCH / "gateways" / config / "gateway.mjs")
        return [hive, "supergraph", str(supergraph), "-c", config_path, "--fork", "1", "--port", str(port)]

    loom = [str(ROOT / ".venv" / "bin" / "loom"), "gateway", "--supergraph", str(supergraph), "--port", str(port)]
    return {
        "loom": GatewayCommand(loom, ROOT, {"LOOM_GATEWAY_UPSTREAM_CLIENT": "aiohttp"}),
        "loom-httpx": GatewayCommand(loom, ROOT, {"LOOM_GATEWAY_UPSTREAM_CLIENT": "httpx"}),
        "hive-gateway": GatewayCommand(hive_cmd("hive"), BENCH),
        "hive-gateway-rust-planner": GatewayCommand(hive_cmd("hive-rust"), BENCH),
        "apollo-gateway": GatewayCommand(
            ["node", str(BENCH / "gateways" / "apollo.mjs"), str(supergraph), str(port)], BENCH
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", action="append", help="run only these gateways (repeatable)")
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        sys.exit("bench: needs two cores (gateway on core 0, load and subgraphs on core 1)")
    ensure_tools()
    work = BENCH / "results"
    work.mkdir(exist_ok=True)
    base = 4101
    while any(not _port_free(base + i) for i in range(4)):
        base += 10
    supergraph = work / "supergraph.graphql"
    subprocess.run(["node", str(BENCH / "compose.mjs"), str(base), str(supergraph)], check=True)
    results: list[Result] = []
    env_note = f"taskset: gateway core 0; wrk -t1 -c{args.connections} and subgraphs core 1"
    with process(["taskset", "-c", "1", "node", str(BENCH / "subgraphs.mjs"), str(base)], log=work / "subgraphs.log"):
        time.sleep(1.0)
        for name in gateway_commands(supergraph, 0):
            if args.only and name not in args.only:
                continue
            port = free_port()
            gateway = gateway_commands(supergraph, port)[name]
            cmd = ["taskset", "-c", "0", *gateway.argv]
            url = f"http://127.0.0.1:{port}/graphql"
            # Every gateway logs errors only: Loom's per-request access log is off like the peers' ones.
            env = {**os.environ, "LOOM_GATEWAY_ACCESS_LOG": "false", "NODE_ENV": "production", **gateway.env}
            with process(cmd, cwd=gateway.cwd, log=work / f"{name}.log", env=env):
                wait_ready(url)
                check_bodies(url)
                run_wrk(url, args.warmup, args.connections)
                before = subgraph_calls(base)
                out, busy = run_wrk(url, args.seconds, args.connections)
                calls = subgraph_calls(base) - before
            rps, requests, p50, p99, bad = parse_wrk(out)
            result = Result(name, rps, p50, p99, requests, bad, calls / max(requests, 1), busy)
            results.append(result)
            print(
                f"{name:28s} {rps:9.0f} rps  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  "
                f"upstream/req {result.upstream_calls_per_request:4.2f}  core1 busy {busy:4.0%}  bad {bad}",
                flush=True,
            )
    report(results, env_note, work)
    return 0


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def report(results: list[Result], env_note: str, work: Path) -> None:
    # One ratio column per Loom variant that ran: "loom" (aiohttp upstreams) and "loom-httpx".
    looms = [r for r in results if r.gateway in ("loom", "loom-httpx")]
    headers = [f"{'Loom' if r.gateway == 'loom' else r.gateway} RPS ratio" for r in looms]
    columns = ["gateway", "RPS", "p50 ms", "p99 ms", "upstream calls/req", "load core busy", "bad", *headers]
    lines = ["| " + " | ".join(columns) + " |", "|---|" + "---:|" * (len(columns) - 1)]
    for r in results:
        ratios = [f"{loom.rps / r.rps:.2f}x" if r.rps else "-" for loom in looms]
        cells = [r.gateway, f"{r.rps:.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}"]
        cells += [f"{r.upstream_calls_per_request:.2f}", f"{r.load_core_busy:.0%}", str(r.bad_responses), *ratios]
        lines.append("| " + " | ".join(cells) + " |")
    warnings = [
        f"- {r.gateway}: load core {r.load_core_busy:.0%} busy (>= 80%): not gateway-bound"
        for r in results
        if r.load_core_busy >= 0.8
    ]
    text = "\n".join([*lines, "", env_note, *warnings])
    print("\n" + text)
    (work / "latest.md").write_text(text + "\n")
    (work / "latest.json").write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    sys.exit(main())
