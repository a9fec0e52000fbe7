"""A whole local fleet for end-to-end tests and the failover benchmark: real Envoys, real gateways, fake-able services.

Three clusters: ``a`` (residency us, region r1, zone r1a), ``b`` (us, r1, r1b: a's first failover) and ``e``
(eu, r3). Each has its own real Envoy
(the local-envoy target, configured from the routing model), its own real Loom gateway (the stitcher app serving
that cluster's snapshot, as ``loom gateway --cluster`` does, built from the same routing model the portal uses) and
its own replica of the ``members`` GraphQL service (:mod:`tests.portal.sync._replica`, which can be killed, made to
answer 503 with a green health check, or made to hang).

:class:`OpenLoop` sends a steady stream of requests at a fixed rate whatever the answers take (open loop, bounded
in-flight), records every outcome, and runs actions after given numbers of requests were sent: faults are injected
at a request count, never after a sleep.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import orjson

from portal.sync.desired import (
    ClusterSpec,
    DeploymentSpec,
    DesiredState,
    GatewayLocation,
    HostPort,
    ProductSpec,
    ProxySpec,
    ServiceSpec,
    TrafficPolicy,
)
from portal.sync.model import ClusterRouting, route
from portal.sync.targets.local_envoy import LocalEnvoyTarget
from stitcher.app import create_gateway_app
from stitcher.settings import GatewaySettings
from stitcher.snapshot import ProductConfig, Snapshot, SourceConfig
from stitcher.snapshot_source import StaticSnapshotSource
from stitcher.transport import Transport, UpstreamError
from tests._ports import free_port
from tests._serving import serving
from tests.portal.sync._replica import RunningReplica

__all__ = ["MEMBERS_SDL", "Fleet", "OpenLoop", "Sent", "fleet"]

MEMBERS_SDL = "type Query { whoami: Replica }\ntype Replica { replica: String }\n"
QUERY = {"query": "{ whoami { replica } }"}
_QUERY_BYTES = orjson.dumps(QUERY)
_JSON = {"content-type": "application/json", "accept": "application/json"}
BOUND = 30.0


def _loopback() -> HostPort:
    """A free port on a 127.0.0.x address of its own (a failover gateway listener)."""
    while True:
        host = f"127.0.0.{random.randint(100, 250)}"
        try:
            return HostPort(host, free_port(host))
        except OSError:
            continue


@dataclasses.dataclass
class Fleet:
    clusters: dict[str, ClusterSpec]
    replicas: dict[str, RunningReplica]  # "members-a", ...
    sources: dict[str, StaticSnapshotSource]  # each cluster's gateway's snapshot
    targets: dict[str, LocalEnvoyTarget]
    generation: int = 0
    current: DesiredState | None = None  # what apply() last applied
    traffic: TrafficPolicy = dataclasses.field(default_factory=TrafficPolicy)  # the members service's

    def desired(self, *products: ProductSpec) -> DesiredState:
        members = ServiceSpec(
            "members",
            tuple(
                DeploymentSpec(c, address=self.replicas[f"members-{c}"].url, health_path="/healthz")
                for c in sorted(self.clusters)
            ),
            self.traffic,
        )
        self.generation += 1
        return DesiredState(self.clusters, {"members": members}, {p.name: p for p in products}, self.generation)

    async def apply(self, *products: ProductSpec) -> dict[str, ClusterRouting]:
        """Route ``products``, give every gateway its cluster's snapshot and every Envoy its config."""
        self.current = self.desired(*products)
        models = route(self.current)
        for name, model in models.items():
            assert not model.problems, model.problems
            self.sources[name].set(cluster_snapshot(model, products))
            await self.targets[name].apply(model)
        return models

    def product_url(self, cluster: str, product: str) -> str:
        proxy = self.clusters[cluster].proxy
        assert proxy is not None
        return f"http://{proxy.listener}/products/{product}/graphql"

    def restart(self, replica: str) -> None:
        """Bring a stopped replica back on its port (a dead service that comes back)."""
        port = int(self.replicas[replica].url.rsplit(":", 1)[1])
        self.replicas[replica] = RunningReplica(replica, port=port)


def cluster_snapshot(model: ClusterRouting, products: tuple[ProductSpec, ...]) -> Snapshot:
    """What the portal sends ``loom gateway --cluster`` (portal.snapshot's cluster view), for open products."""
    here = {p.product: p.service_urls for p in model.gateway_products}
    return Snapshot(
        products=[
            ProductConfig(
                name=name,
                auth_required=False,
                sources=[SourceConfig(name=s, protocol="graphql", schema_text=MEMBERS_SDL, url=urls[s]) for s in urls],
            )
            for name, urls in sorted(here.items())
        ],
        cluster=model.cluster.name,
        elsewhere={p.name: f"product {p.name!r} is processed elsewhere" for p in products if p.name not in here},
    )


@asynccontextmanager
async def fleet(directory: Path, traffic: TrafficPolicy | None = None) -> AsyncIterator[Fleet]:
    """Start replicas and gateways (threads with their own loops) and one Envoy target per cluster; stop them all.
    ``traffic``: the members service's policy (default: Loom's defaults)."""
    async with AsyncExitStack() as stack:
        threads = stack.enter_context(ExitStack())
        replicas = {f"members-{c}": RunningReplica(f"members-{c}") for c in "abe"}
        for replica in replicas.values():
            stack.callback(replica.stop)
        sources = {c: StaticSnapshotSource() for c in "abe"}
        options = GatewaySettings(poll_interval_seconds=0.02, access_log=False, graphiql=False).options()
        gateways = {
            c: threads.enter_context(
                serving(create_gateway_app(source=sources[c], options=options), f"gateway {c}", lifespan="on")
            )
            for c in "abe"
        }
        places = {"a": ("r1", "r1a", "us"), "b": ("r1", "r1b", "us"), "e": ("r3", "r3a", "eu")}
        clusters = {
            c: ClusterSpec(
                name=c,
                region=region,
                zone=zone,
                residency=residency,
                target="local-envoy",
                failover_gateway=_loopback(),
                gateway=GatewayLocation(address=gateways[c]),
                proxy=ProxySpec(
                    listener=HostPort("127.0.0.1", free_port()),
                    internal=HostPort("127.0.0.1", free_port()),
                    admin=HostPort("127.0.0.1", free_port()),
                ),
            )
            for c, (region, zone, residency) in places.items()
        }
        targets = {c: LocalEnvoyTarget(clusters[c], directory / c) for c in clusters}
        for target in targets.values():
            stack.push_async_callback(target.aclose)
        yield Fleet(clusters, replicas, sources, targets, traffic=traffic or TrafficPolicy())


# --- waiting and streaming -------------------------------------------------------------------------------------


async def eventually(probe: Callable[[], Awaitable[Any]], holds: Callable[[Any], bool], what: str) -> Any:
    """Poll ``probe`` until ``holds`` of its value, within BOUND seconds (a condition, not a duration)."""
    deadline = time.monotonic() + BOUND
    while True:
        value = await probe()
        if holds(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {BOUND:g} s: {what}; last seen: {value!r}")
        await asyncio.sleep(0.02)


@dataclasses.dataclass(frozen=True, slots=True)
class Sent:
    index: int
    sent_at: float  # seconds since the stream started
    latency: float
    status: int  # 0: no answer (connection error, client timeout)
    replica: str | None


class OpenLoop:
    """``total`` requests at ``rate`` per second to ``url``, at most ``max_in_flight`` at once; ``actions[n]`` runs
    right after request ``n`` was sent. ``results`` holds every outcome, in sending order.

    ``client`` is a stitcher transport (Loom's own HTTP/1.1 client): the stream shares one process and one GIL with
    the gateways and replicas it measures, and httpx spent milliseconds of CPU per request (bench/README.md)."""

    def __init__(
        self,
        client: Transport,
        url: str,
        *,
        rate: float,
        total: int,
        actions: Mapping[int, Callable[[], Any]] | None = None,
        max_in_flight: int = 200,
    ) -> None:
        self.client, self.url, self.rate, self.total = client, url, rate, total
        self.actions = dict(actions or {})
        self.marks: dict[int, float] = {}  # when each action ran, seconds since the start
        self.results: list[Sent] = []
        self._slots = asyncio.Semaphore(max_in_flight)

    async def run(self) -> list[Sent]:
        start = time.monotonic()
        tasks = []
        for i in range(self.total):
            due = start + i / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing of an open loop, not a wait for a condition
            await self._slots.acquire()
            tasks.append(asyncio.create_task(self._one(i, start)))
            if i in self.actions:
                self.marks[i] = time.monotonic() - start
                await asyncio.to_thread(self.actions[i])
        self.results = sorted(await asyncio.gather(*tasks), key=lambda s: s.index)
        return self.results

    async def _one(self, index: int, start: float) -> Sent:
        sent = time.monotonic()
        try:
            response = await self.client.request("POST", self.url, headers=_JSON, body=_QUERY_BYTES, timeout=10)
            body = (
                orjson.loads(response.body)
                if response.headers.get("content-type", "").startswith("application")
                else {}
            )
            replica = ((body.get("data") or {}).get("whoami") or {}).get("replica")
            return Sent(index, sent - start, time.monotonic() - sent, response.status, replica)
        except (UpstreamError, orjson.JSONDecodeError):
            return Sent(index, sent - start, time.monotonic() - sent, 0, None)
        finally:
            self._slots.release()

    @property
    def failed(self) -> list[Sent]:
        return [s for s in self.results if s.status != 200 or s.replica is None]
