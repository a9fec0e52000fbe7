"""Start-up time and resident memory of ``loom gateway`` on the largest supergraph the bench makes.

Run with ``python -m bench.startup`` (``make bench-startup``). The supergraph is generated (``bench.compose_scale``'s
GitHub-like Federation subgraph, 3,200 types by default) and composed once; then, per worker count (1 and 2) and
``--repeat`` times, ``loom gateway --supergraph FILE`` is started and timed until its first GraphQL answer, and its
process tree's resident memory (VmRSS summed) is read idle (right after that answer) and after ``--seconds`` of
wrk load on it (32 connections of ``{ __typename }``: parsing, validation against the big schema on a plan-cache
miss, the HTTP path; the upstream is not reachable here) with the peak (VmHWM). The bench's own supergraph under
its real load is in ``make bench``'s table (``bench/run.py``). Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.compose_scale import graphql_sdl
from bench.run import BENCH, ROOT, free_port, own_code, post, process, tree_memory_mb
from stitcher.composition import compose
from stitcher.ir import SourceKind
from stitcher.sources import SourceSpec
from stitcher.supergraph import print_supergraph_sdl

WRK_SCRIPT = """
request = function()
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, '{"query":"{ __typename }"}')
end
"""


def supergraph(types: int, path: Path) -> Path:
    spec = SourceSpec(
        "big", SourceKind.FEDERATION, graphql_sdl(types, federation=True), url="http://127.0.0.1:9/graphql"
    )
    path.write_text(print_supergraph_sdl(compose([spec])))
    return path


def start_and_measure(file: Path, workers: int, seconds: int) -> dict[str, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/graphql"
    cmd = [str(ROOT / ".venv" / "bin" / "loom"), "gateway", "--supergraph", str(file), "--port", str(port)]
    cmd += ["--workers", str(workers)]
    env = {**os.environ, **own_code(), "LOOM_GATEWAY_ACCESS_LOG": "false", "LOOM_GATEWAY_LOG_LEVEL": "WARNING"}
    started = time.monotonic()
    with process(cmd, log=BENCH / "results" / "startup.log", env=env) as proc:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the gateway exited with {proc.returncode}: see bench/results/startup.log")
            try:
                if post(url, {"query": "{ __typename }"}, timeout=2).get("data"):
                    break
            except (OSError, ValueError):
                time.sleep(0.01)
        ready = time.monotonic() - started
        ready_cpu = tree_cpu_seconds(proc.pid)
        if workers > 1:  # every worker has started (the first answer came from one of them)
            while len(_listeners(proc.pid, port)) < workers:
                time.sleep(0.01)
            ready_all = time.monotonic() - started
        else:
            ready_all = ready
        idle = tree_memory_mb(proc.pid, "VmRSS")
        with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
            script.write(WRK_SCRIPT)
            script.flush()
            wrk = ["wrk", "-t1", "-c32", f"-d{seconds}s", "-s", script.name, url]
            subprocess.run(wrk, check=True, capture_output=True)
        loaded = tree_memory_mb(proc.pid, "VmRSS")
        peak = tree_memory_mb(proc.pid, "VmHWM")
    return {
        "ready_s": ready,
        "ready_cpu_s": ready_cpu,
        "all_workers_ready_s": ready_all,
        "rss_idle_mb": idle,
        "rss_loaded_mb": loaded,
        "rss_peak_mb": peak,
    }


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by the process tree: robust where wall time is not (a busy machine)."""
    from bench.run import process_tree

    ticks = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _listeners(pid: int, port: int) -> set[int]:
    from bench.run import process_tree

    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":
            inodes.add(f"socket:[{fields[9]}]")
    found = set()
    for member in process_tree(pid):
        try:
            fds = os.listdir(f"/proc/{member}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{member}/fd/{fd}") in inodes:
                    found.add(member)
            except OSError:
                continue
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--types", type=int, default=3200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, action="append", help="worker counts (default 1 and 2)")
    args = parser.parse_args()
    work = BENCH / "results"
    work.mkdir(exist_ok=True)
    file = supergraph(args.types, work / f"supergraph-{args.types}-types.graphql")
    size_kb = file.stat().st_size / 1024
    print(f"supergraph: {args.types} types, {size_kb:.0f} KB ({file})", flush=True)
    load = os.getloadavg()
    lines = [
        f"`loom gateway` on a generated {args.types}-type Federation supergraph ({size_kb:.0f} KB), median of "
        f"{args.repeat} starts; load average at the start {load[0]:.2f}. Command: "
        f"`{' '.join(['.venv/bin/python -m bench.startup', *sys.argv[1:]])}`",
        "",
        "| workers | first answer s | CPU s until then | all workers listening s | RSS idle MB | RSS after load MB "
        "| peak RSS MB |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    results = {}
    for workers in args.workers or [1, 2]:
        runs = [start_and_measure(file, workers, args.seconds) for _ in range(args.repeat)]
        median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        results[workers] = median
        print(f"workers {workers}: {json.dumps({k: round(v, 2) for k, v in median.items()})}", flush=True)
        lines.append(
            f"| {workers} | {median['ready_s']:.2f} | {median['ready_cpu_s']:.2f} | "
            f"{median['all_workers_ready_s']:.2f} | "
            f"{median['rss_idle_mb']:.0f} | {median['rss_loaded_mb']:.0f} | {median['rss_peak_mb']:.0f} |"
        )
    text = "\n".join(lines)
    print("\n" + text)
    (work / "startup.md").write_text(text + "\n")
    (work / "startup.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
