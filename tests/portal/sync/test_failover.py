"""End to end through real Envoys and real gateways (tests/portal/sync/_e2e.py): a query entering a cluster's
Envoy is processed by a gateway and answered by a service replica; faults under a steady stream of requests fail
over with no failed request and fail back; a residency-pinned product never reaches a service outside its zone.

Assertions are on outcomes (answers, which replica served, counts of requests); time only paces the stream and
bounds the waits. How fast each transition is gets measured in ``bench/failover.py``, not here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from portal.models import Lifecycle
from portal.sync.desired import DesiredState, ProductSpec, RetryPolicy, TrafficPolicy
from portal.sync.envoy import SAFE_RETRY_HEADER
from portal.sync.model import service_upstream_name
from portal.sync.status import DatabaseStatus, UpstreamStatus, fleet_status
from portal.sync.worker import Reconciler
from stitcher.execution import SAFE_RETRY
from stitcher.transport import Http11Transport
from tests.factories import make_cluster, make_product, make_team
from tests.portal.sync._e2e import QUERY, Fleet, OpenLoop, eventually, fleet

pytestmark = [pytest.mark.slow, pytest.mark.serial]

LIBRARY = ProductSpec("library", ("members",), ("a", "b", "e"))
EU_ONLY = ProductSpec("eu-library", ("members",), ("a", "e"), residency="eu")


# Loom's default per-try timeout (100 ms) is what bench/failover.py measures. These tests assert outcomes (no
# failed request) on machines that may be busy with other tests, where a healthy Python replica can take longer
# than 100 ms to answer: they give the service a 1 s per-try timeout, so only a fault triggers a retry.
PATIENT = TrafficPolicy(retries=RetryPolicy(per_try_timeout_ms=1000))


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[Fleet]:
    async with fleet(tmp_path / "envoy", PATIENT) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(trust_env=False, timeout=10.0, limits=limits) as client:
        yield client


async def whoami(http: httpx.AsyncClient, url: str) -> tuple[int, str | None]:
    response = await http.post(url, json=QUERY)
    try:
        replica = response.json()["data"]["whoami"]["replica"]
    except (ValueError, KeyError, TypeError):
        replica = None
    return response.status_code, replica


async def served_by(http: httpx.AsyncClient, url: str, replica: str) -> None:
    await eventually(lambda: whoami(http, url), lambda answer: answer == (200, replica), f"{url} served by {replica}")


def test_the_gateway_marks_queries_with_the_header_envoy_retries() -> None:
    assert SAFE_RETRY == (SAFE_RETRY_HEADER, "safe")


async def test_a_query_entering_a_clusters_envoy_is_stitched_by_its_gateway_from_its_own_replica(
    world: Fleet, http: httpx.AsyncClient
) -> None:
    await world.apply(LIBRARY)
    for cluster in "abe":
        await served_by(http, world.product_url(cluster, "library"), f"members-{cluster}")


@pytest.mark.parametrize("fault", ["kill", "fail", "hang"])
async def test_a_faulted_service_fails_over_with_no_failed_request_and_fails_back(
    world: Fleet, http: httpx.AsyncClient, fault: str
) -> None:
    """kill: the replica's process is gone; fail: it answers 503 while its health check stays green; hang: it
    accepts requests and never answers. In each case cluster a's queries go to b's replica, none fails."""
    await world.apply(LIBRARY)
    url = world.product_url("a", "library")
    await served_by(http, url, "members-a")
    await served_by(http, world.product_url("b", "library"), "members-b")  # b's replica is healthy as well
    replica = world.replicas["members-a"]

    def inject() -> None:
        if fault == "kill":
            replica.stop()
        elif fault == "fail":
            replica.app.mode = "fail"
        else:
            replica.app.hang()

    client = await Http11Transport.create()
    try:
        stream = OpenLoop(client, url, rate=100, total=300, actions={100: inject})
        results = await stream.run()
    finally:
        await client.aclose()
    assert stream.failed == [], stream.failed[:5]
    assert {s.replica for s in results[:100]} == {"members-a"}
    assert results[-1].replica == "members-b"  # failed over to the next priority: the same region

    if fault == "kill":
        world.restart("members-a")
    else:
        replica.app.recover()
    await served_by(http, url, "members-a")  # fail-back


async def test_a_pinned_product_entering_outside_its_zone_is_served_inside_and_never_leaves_it(
    world: Fleet, http: httpx.AsyncClient
) -> None:
    models = await world.apply(LIBRARY, EU_ONLY)
    assert service_upstream_name("members", "eu") in {u.name for u in models["e"].upstreams}
    us_served = {r: world.replicas[r].served for r in ("members-a", "members-b")}
    url = world.product_url("a", "eu-library")  # enters in us-residency cluster a
    await served_by(http, url, "members-e")

    world.replicas["members-e"].stop()  # the only in-zone replica
    await eventually(lambda: whoami(http, url), lambda answer: answer[1] is None, "no answer once zone eu is down")
    unavailable = {
        "message": "no endpoint of service 'members' is healthy in residency zone 'eu'",
        "extensions": {"code": "UNAVAILABLE"},
    }
    for _ in range(20):
        response = await http.post(url, json=QUERY)
        assert response.json()["errors"] == [unavailable]
    assert {r: world.replicas[r].served for r in us_served} == us_served  # not one request left the zone
    assert (await whoami(http, world.product_url("a", "library"))) == (200, "members-a")  # the rest goes on


async def test_the_status_says_what_a_request_does(world: Fleet, http: httpx.AsyncClient, engine: Engine) -> None:
    """The worker's recorded status (what `loom status` and fleetStatus show) turns when a service fails, and a
    request then goes exactly where it says."""
    with Session(engine) as session:
        team = make_team(session, "library")
        clusters = [make_cluster(session, name, residency=world.clusters[name].residency) for name in "abe"]
        make_product(session, "library", team=team, lifecycle=Lifecycle.PUBLISHED, clusters=clusters)
        session.commit()
    await world.apply(LIBRARY)

    async def desired() -> DesiredState:
        assert world.current is not None
        return world.current

    reconciler = Reconciler(desired, lambda spec: world.targets[spec.name], DatabaseStatus(engine))

    async def members_in_a() -> UpstreamStatus:
        await reconciler.pass_once()
        with Session(engine) as session:
            [a] = fleet_status(session, cluster="a")
        [library] = a.products
        [members] = [u for u in library.upstreams if u.service == "members"]
        return members

    url = world.product_url("a", "library")
    await eventually(members_in_a, lambda m: m.serving == "a" and not m.failed_over, "a's members served in a")
    assert await whoami(http, url) == (200, "members-a")

    world.replicas["members-a"].stop()
    turned = await eventually(members_in_a, lambda m: m.serving == "b", "the status saying a's members fail over to b")
    assert turned.failed_over
    assert await whoami(http, url) == (200, "members-b")
