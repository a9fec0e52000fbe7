"""Failover under load, through real Envoys and real Loom gateways (the fleet of tests/portal/sync/_e2e.py).

Run with ``python -m bench.failover`` (``make bench-failover``). For each fault of the service replica in cluster
``a`` (``kill``: the process is gone; ``fail``: it answers 503 while its health check stays green; ``hang``: it
accepts requests and never answers) a steady open-loop stream of queries enters cluster a's Envoy at ``--rate``
per second. The fault comes after ``--before`` seconds of requests, the replica comes back ``--during`` seconds
later, and the stream goes on for ``--after`` seconds. Reported per case, from one run:

* **failed**: requests without a correct answer (the target is 0);
* **recovery**: from the fault until every later request (up to the repair) is answered by cluster b's replica in
  under 100 ms;
* **transition p99** (and max): the latency of the requests sent while the fault lasted (the target: a p99 no
  higher than the per-try timeout plus 10 ms);
* **fail-back**: from the repair until every later request is answered by cluster a's replica again (target 1 s).

Then **propagation**: a new product is added to the desired state; the time until it answers through every
cluster's Envoy (the worker's apply included), without restarting any Envoy.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from portal.sync.desired import ProductSpec, RetryPolicy
from stitcher.transport import Http11Transport, Transport
from tests.portal.sync._e2e import QUERY, Fleet, OpenLoop, Sent, eventually, fleet

LIBRARY = ProductSpec("library", ("members",), ("a", "b", "e"))
PER_TRY_MS = RetryPolicy().per_try_timeout_ms


@dataclass
class Case:
    fault: str
    requests: int
    failed: int
    recovery_ms: float | None
    transition_p99_ms: float | None
    transition_max_ms: float | None
    failback_ms: float | None


SETTLED_LATENCY = 0.1  # seconds: an answer slower than this is still part of the transition


def _settled_from(results: list[Sent], start: float, end: float, replica: str) -> float | None:
    """The time (since ``start``) from which every request sent before ``end`` was answered by ``replica``, fast."""
    window = [s for s in results if start <= s.sent_at < end]
    unsettled = [s.sent_at for s in window if s.replica != replica or s.latency > SETTLED_LATENCY]
    if not unsettled:
        return 0.0
    later = [s.sent_at for s in window if s.sent_at > max(unsettled)]
    return (min(later) - start) if later else None


async def _case(
    world: Fleet, http: httpx.AsyncClient, stream_client: Transport, fault: str, rate: float, spans: tuple[float, ...]
) -> Case:
    before, during, after = spans
    url = world.product_url("a", "library")
    await eventually(lambda: _whoami(http, url), lambda r: r == "members-a", "a's replica serving")
    replica = world.replicas["members-a"]
    fault_at, repair_at = int(before * rate), int((before + during) * rate)

    def inject() -> None:
        if fault == "kill":
            replica.stop()
        elif fault == "fail":
            replica.app.mode = "fail"
        else:
            replica.app.hang()

    def repair() -> None:
        if fault == "kill":
            world.restart("members-a")
        else:
            replica.app.recover()

    stream = OpenLoop(
        stream_client,
        url,
        rate=rate,
        total=int((before + during + after) * rate),
        actions={fault_at: inject, repair_at: repair},
    )
    results = await stream.run()
    t_fault, t_repair = stream.marks[fault_at], stream.marks[repair_at]
    # A hung request is answered by its retry after the per-try timeout; the last ones before the repair may be
    # answered by the released replica instead, so the settling is judged up to one per-try timeout before it.
    recovery = _settled_from(results, t_fault, t_repair - PER_TRY_MS / 1000, "members-b")
    transition = [s.latency for s in results if t_fault <= s.sent_at < t_repair]
    failback = _settled_from(results, t_repair, results[-1].sent_at + 1e-9, "members-a")
    return Case(
        fault=fault,
        requests=len(results),
        failed=len(stream.failed),
        recovery_ms=None if recovery is None else recovery * 1000,
        transition_p99_ms=_p99(transition) * 1000 if transition else None,
        transition_max_ms=max(transition) * 1000 if transition else None,
        failback_ms=None if failback is None else failback * 1000,
    )


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 2 else values[0]


async def _whoami(http: httpx.AsyncClient, url: str) -> str | None:
    try:
        response = await http.post(url, json=QUERY)
        return str(response.json()["data"]["whoami"]["replica"])
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None


async def _propagation(world: Fleet, http: httpx.AsyncClient) -> float:
    """Seconds from a new desired state (one more product) to its answer through every cluster's Envoy."""
    start = time.monotonic()
    await world.apply(LIBRARY, ProductSpec("library-two", ("members",), ("a", "b", "e")))
    for cluster in "abe":
        url = world.product_url(cluster, "library-two")
        await eventually(functools.partial(_whoami, http, url), lambda r: r is not None, f"library-two in {cluster}")
    return time.monotonic() - start


async def _main(args: argparse.Namespace) -> dict[str, object]:
    spans = (args.before, args.during, args.after)
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    cases = []
    with tempfile.TemporaryDirectory() as directory:
        for fault in args.faults.split(","):
            async with (
                fleet(Path(directory) / fault) as world,
                httpx.AsyncClient(trust_env=False, timeout=10.0, limits=limits) as http,
            ):
                await world.apply(LIBRARY)
                for cluster in "ab":
                    url = world.product_url(cluster, "library")
                    await eventually(functools.partial(_whoami, http, url), lambda r: r is not None, f"{cluster} ready")
                stream_client = await Http11Transport.create()  # cheap per request: it shares the GIL with the fleet
                try:
                    cases.append(await _case(world, http, stream_client, fault, args.rate, spans))
                finally:
                    await stream_client.aclose()
        async with (
            fleet(Path(directory) / "propagation") as world,
            httpx.AsyncClient(trust_env=False, timeout=10.0) as http,
        ):
            await world.apply(LIBRARY)
            propagation = await _propagation(world, http)
    return {
        "rate": args.rate,
        "per_try_timeout_ms": PER_TRY_MS,
        "cases": [asdict(c) for c in cases],
        "propagation_s": propagation,
    }


def _report(result: dict[str, object]) -> str:
    target = PER_TRY_MS + 10
    lines = [
        f"failover through real Envoys at {result['rate']} req/s (one run); targets: 0 failed, transition p99 <= "
        f"{target} ms (per-try timeout + 10 ms), fail-back <= 1000 ms",
        f"{'fault':<6} {'requests':>8} {'failed':>6} {'recovery':>10} {'trans p99':>10} {'p99/target':>10} "
        f"{'trans max':>10} {'fail-back':>10}",
    ]

    def ms(value: object) -> str:
        return "-" if value is None else f"{float(value):.0f} ms"  # type: ignore[arg-type]

    for case in result["cases"]:  # type: ignore[attr-defined]
        p99 = case["transition_p99_ms"]
        ratio = "-" if p99 is None else f"{p99 / target:.2f}"
        lines.append(
            f"{case['fault']:<6} {case['requests']:>8} {case['failed']:>6} {ms(case['recovery_ms']):>10} "
            f"{ms(p99):>10} {ratio:>10} {ms(case['transition_max_ms']):>10} {ms(case['failback_ms']):>10}"
        )
    propagation = float(result["propagation_s"])  # type: ignore[arg-type]
    lines.append(f"a new product answering through all 3 clusters' Envoys: {propagation * 1000:.0f} ms")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", default="kill,fail,hang")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--before", type=float, default=2.0)
    parser.add_argument("--during", type=float, default=4.0)
    parser.add_argument("--after", type=float, default=3.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result = asyncio.run(_main(args))
    print(_report(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
