"""Sync worker at scale: render and diff N products x 10 clusters x 3 services each, for N = 100 .. 1,000.

Run with ``python -m bench.sync_scale`` (``make bench-sync``). Per N it reports, from one run:

* **route**: the routing model of every cluster (``portal.sync.model.route``), a pure function;
* **render**: that plus rendering every cluster, as Envoy v3 config and as Gloo objects (each validated against
  its CRD's schema, as the Kubernetes and GitOps targets do before writing);
* **first apply**: the GitOps target writing every cluster's files (a real directory);
* **no-op pass**: route, render, diff and observe again with nothing changed: must write 0 files;
* **one-product change**: one product offered in one more cluster: route, render, diff, and the files written.

and how each grows from the smallest N (``x`` columns: time ratio to N=100 against the 10x more products). No
timing here is asserted anywhere; tests assert the write counts (tests/portal/sync/).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from portal.sync.crd_validation import validate
from portal.sync.desired import (
    ClusterSpec,
    DeploymentSpec,
    DesiredState,
    GatewayLocation,
    HostPort,
    ProductSpec,
    ServiceSpec,
)
from portal.sync.envoy import render as render_envoy
from portal.sync.gloo import render as render_gloo
from portal.sync.model import ClusterRouting, route
from portal.sync.targets.gitops import GitOpsTarget

CLUSTERS = 10
SERVICES_PER_PRODUCT = 3


def fleet(products: int) -> DesiredState:
    """10 clusters over 5 regions (two zones each; residency us for the first 3 regions, eu for the rest); each
    product uses 3 services of its own, each deployed in 3 clusters of one residency; products are offered in 3
    clusters, every other one pinned to its residency."""
    clusters: dict[str, ClusterSpec] = {}
    for i in range(CLUSTERS):
        region = f"r{i // 2}"
        clusters[f"c{i}"] = ClusterSpec(
            name=f"c{i}",
            region=region,
            zone=f"{region}{'ab'[i % 2]}",
            residency="us" if i < 6 else "eu",
            target="gitops",
            failover_gateway=HostPort(f"10.0.{i}.1", 15443),
            gateway=GatewayLocation(address=f"http://10.0.{i}.2:4000"),
        )
    zones = {"us": [f"c{i}" for i in range(6)], "eu": [f"c{i}" for i in range(6, CLUSTERS)]}
    services: dict[str, ServiceSpec] = {}
    specs: dict[str, ProductSpec] = {}
    for p in range(products):
        residency = "us" if p % 3 else "eu"
        members = zones[residency]
        where = [members[(p + k) % len(members)] for k in range(3)]
        used = []
        for s in range(SERVICES_PER_PRODUCT):
            name = f"p{p}-s{s}"
            used.append(name)
            services[name] = ServiceSpec(
                name,
                tuple(
                    DeploymentSpec(cluster=c, address=f"http://10.{p % 250}.{s}.{n}:8080", health_path="/healthz")
                    for n, c in enumerate(where)
                ),
            )
        specs[f"p{p}"] = ProductSpec(f"p{p}", tuple(used), tuple(where), residency if p % 2 else None)
    return DesiredState(clusters, services, specs, generation=1)


def render_all(models: dict[str, ClusterRouting]) -> int:
    objects = 0
    for model in models.values():
        render_envoy(model)
        for obj in render_gloo(model):
            validate(obj)
            objects += 1
    return objects


async def apply_all(targets: dict[str, GitOpsTarget], models: dict[str, ClusterRouting]) -> int:
    """What a reconciler pass asks of each cluster's target: apply the model, then observe it."""
    writes = 0
    for name, model in models.items():
        writes += (await targets[name].apply(model)).writes
        await targets[name].observe(model)
    return writes


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def measure(products: int, repeat: int) -> dict[str, Any]:
    desired = fleet(products)
    route_s = statistics.median(timed(lambda: route(desired))[0] for _ in range(repeat))
    render_s, objects = timed(lambda: render_all(route(desired)))
    with tempfile.TemporaryDirectory() as directory:
        targets = {name: GitOpsTarget(spec, Path(directory)) for name, spec in desired.clusters.items()}
        first_s, first_writes = timed(lambda: asyncio.run(apply_all(targets, route(desired))))
        noop_s, noop_writes = timed(lambda: asyncio.run(apply_all(targets, route(desired))))
        changed = dataclasses.replace(
            desired,
            products={
                **desired.products,
                "p1": dataclasses.replace(desired.products["p1"], clusters=(*desired.products["p1"].clusters, "c5")),
            },
            generation=2,
        )
        change_s, change_writes = timed(lambda: asyncio.run(apply_all(targets, route(changed))))
    return {
        "products": products,
        "objects": objects,
        "route_s": route_s,
        "render_s": render_s,
        "first_apply_s": first_s,
        "first_writes": first_writes,
        "noop_s": noop_s,
        "noop_writes": noop_writes,
        "change_s": change_s,
        "change_writes": change_writes,
    }


def report(rows: list[dict[str, Any]]) -> str:
    base = rows[0]
    lines = [
        f"{'products':>8} {'objects':>8} {'route':>9} {'render':>9} {'1st apply':>10} {'no-op':>9} {'writes':>6} "
        f"{'1 change':>9} {'writes':>6} {'render x':>8} {'no-op x':>8}"
    ]
    for r in rows:
        lines.append(
            f"{r['products']:>8} {r['objects']:>8} {r['route_s']:>8.3f}s {r['render_s']:>8.3f}s "
            f"{r['first_apply_s']:>9.3f}s {r['noop_s']:>8.3f}s {r['noop_writes']:>6} {r['change_s']:>8.3f}s "
            f"{r['change_writes']:>6} {r['render_s'] / base['render_s']:>8.1f} {r['noop_s'] / base['noop_s']:>8.1f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,300,1000")
    parser.add_argument("--repeat", type=int, default=3, help="route() runs per size (median)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args()
    rows = [measure(int(n), args.repeat) for n in args.sizes.split(",")]
    print(f"sync at scale: N products x {CLUSTERS} clusters x {SERVICES_PER_PRODUCT} services each (one run)")
    print(report(rows))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
