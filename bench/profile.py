"""Where one request's time goes: Loom's gateway under the benchmark's load, sampled with py-spy, as µs per stage.

Run with ``make bench-profile`` (``python -m bench.profile [--shape top] [--seconds 15]``). It starts the bench's
subgraphs and ``loom gateway`` exactly as ``bench/run.py`` does (gateway on core 0, wrk and subgraphs on core 1),
warms up, then for ``--seconds`` of wrk load reads the gateway's CPU time (``/proc``, user + system) and samples its
stacks with py-spy without pausing it (``--nonblocking``; ``--blocking`` for py-spy's default, which skews the
samples towards syscalls: on a bare app served by uvicorn, 39% of them on one ``write`` line worth ~2 µs of a 21 µs
request, and almost none on its ~13 µs of Python; see bench/README.md). CPU µs per request is the gateway's CPU time
over the requests wrk completed; each stage's share is the share of samples whose innermost recognised frame belongs
to it (:data:`STAGES`, first rule that matches from the leaf up), so the stages add up to the CPU per request. It is
a measure of CPU, not latency: a loaded machine changes it much less than it changes RPS, which is why it can be
compared between commits on this shared machine.
Every optimisation's commit message names the stage it cut, from this table.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
from pathlib import Path

from bench import run as bench

PY_SPY = bench.ROOT / ".venv" / "bin" / "py-spy"

# (stage, regular expression over "function (file)" of a frame). The first stage whose pattern matches a frame,
# walking from the innermost frame outwards, takes the sample; a sample no rule claims is "other".
STAGES: list[tuple[str, str]] = [
    ("HTTP parsing (client requests)", r"HardenedHttpToolsProtocol|httptools_impl\.py\).*(data_received|on_)"),
    ("metrics and logging", r"prometheus_client|stitcher/metrics\.py|logging/__init__|observe_request"),
    ("credentials and limits", r"stitcher/(credentials|ratelimit|limits)\.py|Gateway\._admit"),
    (
        "plan lookup (parse, validate, plan; cached)",
        r"Executor\._plan|_document_off_loop|stitcher/planning/|graphql/(language|validation)/",
    ),
    ("variables coercion", r"graphql/execution/values|graphql/utilities/coerce"),
    ("upstream I/O (HTTP client)", r"stitcher/transport/"),
    (
        "building upstream requests",
        r"Executor\._(representations|variables|entity_fetch|root_fetch|fetch_entities)|Executor\._graphql",
    ),
    ("merging", r"_merge|_walk|stitcher/linking"),
    ("null propagation and shaping", r"_shape_object|_complete|_shape"),
    ("serialization", r"to_json|ExecutionResponse"),
    (
        "scheduling fetches (tasks, gather)",
        r"Executor\._(run_levels|run_batch|send)|asyncio/tasks|asyncio/base_futures",
    ),
    ("sending the response", r"starlette/responses|RequestResponseCycle\.send|send_with_id|_send\b"),
    ("ASGI and routing", r"starlette/|_RequestContext|Gateway\.(graphql|_graphql_params|_read_body|_lookup)|run_asgi"),
    ("event loop (epoll, callbacks)", r"asyncio/(runners|base_events|events)|uvloop|Runner\.run"),
]
_COMPILED = [(name, re.compile(pattern)) for name, pattern in STAGES]


def stage_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, pattern in _COMPILED:
            if pattern.search(frame):
                return name
    return "other"


def breakdown(raw: Path) -> tuple[int, collections.Counter[str]]:
    """py-spy's raw (collapsed) output: ``frame;frame;... count`` per line."""
    total = 0
    stages: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        samples = int(count)
        total += samples
        stages[stage_of(stack.split(";"))] += samples
    return total, stages


def cpu_seconds(pid: int) -> float:
    ticks = 0
    for child in bench.process_tree(pid):
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", default="top", help="a shape of bench/run.py (top, merge-...)")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument(
        "--blocking",
        action="store_true",
        help="let py-spy pause the gateway for each sample (its default): skews the samples towards syscalls",
    )
    args = parser.parse_args()
    if not PY_SPY.exists():
        sys.exit("bench.profile: py-spy is missing: make bench-profile installs it (pip install py-spy)")
    shapes = {shape.name: shape for shape in bench.SHAPES}
    if args.shape not in shapes:
        sys.exit(f"bench.profile: no shape {args.shape!r}: use one of {', '.join(shapes)}")
    shape = shapes[args.shape]
    bench.ensure_tools()
    work = bench.BENCH / "results"
    work.mkdir(exist_ok=True)
    base = 4501
    while any(not bench._port_free(base + i) for i in range(len(bench.SUBGRAPHS))):
        base += 10
    supergraph = work / f"supergraph-{base}.graphql"
    subprocess.run(["node", str(bench.BENCH / "compose.mjs"), str(base), str(supergraph)], check=True)
    port = bench.free_port()
    url = f"http://127.0.0.1:{port}/graphql"
    loom = [str(bench.ROOT / ".venv" / "bin" / "loom"), "gateway", "--supergraph", str(supergraph), "--port", str(port)]
    env = {**os.environ, **bench.own_code(), "LOOM_GATEWAY_ACCESS_LOG": "false", "LOOM_GATEWAY_MAX_COST": "100000"}
    raw = work / f"profile-{args.shape}.txt"
    subgraphs = ["taskset", "-c", "1", "node", str(bench.BENCH / "subgraphs.mjs"), str(base)]
    with bench.process(subgraphs, log=work / "subgraphs.log") as sub:
        bench.wait_subgraphs(base, sub)
        with bench.process(["taskset", "-c", "0", *loom], log=work / "profile-gateway.log", env=env) as gateway:
            bench.wait_ready(url, gateway)
            bench.check_bodies(url, shape, base)
            bench.run_wrk(url, shape, args.warmup, args.connections)
            spy = subprocess.Popen(
                [str(PY_SPY), "record", "-p", str(gateway.pid), "-d", str(args.seconds), "-r", str(args.rate),
                 "-f", "raw", "-o", str(raw), *([] if args.blocking else ["--nonblocking"])],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            before = cpu_seconds(gateway.pid)
            out, _busy = bench.run_wrk(url, shape, args.seconds, args.connections)
            used = cpu_seconds(gateway.pid) - before
            spy.wait()
    rps, requests, p50, p99, bad = bench.parse_wrk(out)
    per_request = used / max(requests, 1) * 1e6
    total, stages = breakdown(raw)
    load = os.getloadavg()[0]
    print(
        f"shape {args.shape}: {rps:.0f} RPS, p50 {p50:.1f} ms, p99 {p99:.1f} ms, bad {bad}; gateway CPU "
        f"{per_request:.0f} µs per request; {total} samples; load average {load:.1f}\n"
    )
    print("| stage | share | µs per request |\n|---|---:|---:|")
    for name, samples in stages.most_common():
        share = samples / max(total, 1)
        print(f"| {name} | {share:.1%} | {share * per_request:.0f} |")
    print(f"| **total** | 100% | {per_request:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
