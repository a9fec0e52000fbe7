"""The reconciler over the portal's real database, with real local Envoys as targets, and the status it keeps.

The clock is injected (retries and the resync period are decided by it); the Envoys and the database are real.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from portal.db import bump_generation, session_scope
from portal.manifests import load_documents
from portal.models import Cluster
from portal.sync.desired import ClusterSpec
from portal.sync.errors import Permanent, Synced, Temporary
from portal.sync.reading import from_session
from portal.sync.status import DatabaseStatus, fleet_status
from portal.sync.targets.local_envoy import LocalEnvoyTarget
from portal.sync.worker import Backoff, Reconciler
from tests._ports import free_port
from tests.portal._apply import LIBRARY, run
from tests.portal.sync.test_local_envoy import eventually, loopback

pytestmark = pytest.mark.slow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _local(engine: Engine, name: str) -> None:
    """Make the example's cluster ``name`` a local-envoy cluster on free loopback ports."""
    listener, internal, admin = (f"127.0.0.1:{free_port()}" for _ in range(3))
    failover = loopback()
    with session_scope(engine) as session:
        row = session.exec(select(Cluster).where(Cluster.name == name)).one()
        row.gloo = {
            **row.gloo,
            "target": "local-envoy",
            "failoverGateway": {"host": failover.host, "port": failover.port},
            "proxy": {"listener": listener, "internal": internal, "admin": admin},
        }
        row.gateway = {"address": f"http://127.0.0.1:{free_port()}"}
        bump_generation(session)


@pytest.fixture
async def world(engine: Engine, tmp_path: Path) -> AsyncIterator[tuple[Reconciler, dict[str, LocalEnvoyTarget], Clock]]:
    run(engine, load_documents([LIBRARY]))
    for name in ("us-east", "us-west", "eu-central"):
        _local(engine, name)
    targets: dict[str, LocalEnvoyTarget] = {}

    def make(spec: ClusterSpec) -> LocalEnvoyTarget:
        targets[spec.name] = LocalEnvoyTarget(spec, tmp_path / "envoy" / spec.name, admin_timeout=1.0)
        return targets[spec.name]

    async def desired():  # type: ignore[no-untyped-def]
        with session_scope(engine) as session:
            return from_session(session)

    clock = Clock()
    reconciler = Reconciler(
        desired, make, DatabaseStatus(engine), clock=clock, backoff=Backoff(base=5, cap=60), resync_seconds=30
    )
    try:
        yield reconciler, targets, clock
    finally:
        await reconciler.aclose()


def _status(engine: Engine) -> dict[str, tuple[str, str]]:
    with session_scope(engine) as session:
        return {c.cluster: (c.state, c.message) for c in fleet_status(session)}


async def test_a_pass_syncs_every_cluster_then_nothing_is_due_and_a_resync_writes_nothing(
    world: tuple[Reconciler, dict[str, LocalEnvoyTarget], Clock], engine: Engine
) -> None:
    reconciler, _targets, clock = world
    first = await reconciler.pass_once()
    assert all(isinstance(o, Synced) and o.writes > 0 for o in first.values()), first
    with session_scope(engine) as session:
        fleet = {c.cluster: c for c in fleet_status(session)}
    generation = first["us-east"].generation  # type: ignore[union-attr]
    for status in fleet.values():
        assert (status.applied_generation, status.reachable) == (generation, True)
        assert status.versions["envoy"].startswith("1.")
        # applied, but no gateway or service runs in this test: the status says so
        assert status.state == "degraded" and status.message.startswith("nothing healthy in loom-")
    east_products = {p.product: p for p in fleet["us-east"].products}
    assert set(east_products) == {"library"}  # library-eu is offered in eu-central only
    assert east_products["library"].verdict == "Accepted"
    assert {p.product for p in fleet["eu-central"].products} == {"library", "library-eu"}

    clock.now += 1
    assert set((await reconciler.pass_once()).values()) == {None}, "nothing changed, nothing is due"
    clock.now += 30
    resync = await reconciler.pass_once()
    assert all(isinstance(o, Synced) and o.writes == 0 for o in resync.values()), resync


async def test_a_refused_cluster_holds_back_no_other_and_is_applied_once_fixed(
    world: tuple[Reconciler, dict[str, LocalEnvoyTarget], Clock], engine: Engine
) -> None:
    reconciler, _targets, clock = world
    with session_scope(engine) as session:  # an admin address off loopback: the local-envoy target refuses it
        row = session.exec(select(Cluster).where(Cluster.name == "us-west")).one()
        row.gloo = {**row.gloo, "proxy": {**row.gloo["proxy"], "admin": "10.1.2.3:9901"}}
        bump_generation(session)
    outcomes = await reconciler.pass_once()
    assert isinstance(outcomes["us-west"], Permanent)
    assert isinstance(outcomes["us-east"], Synced) and isinstance(outcomes["eu-central"], Synced)
    state, message = _status(engine)["us-west"]
    assert state == "failed" and "loopback" in message

    clock.now += 1
    assert (await reconciler.pass_once())["us-west"] is None, "a permanent refusal waits for a change"
    _local(engine, "us-west")  # fixed (and the generation moves)
    clock.now += 1
    assert isinstance((await reconciler.pass_once())["us-west"], Synced)
    assert _status(engine)["us-west"][0] == "degraded"  # applied (nothing runs behind it here)


async def test_an_unreachable_cluster_is_retried_with_backoff_and_the_others_go_on(
    world: tuple[Reconciler, dict[str, LocalEnvoyTarget], Clock], engine: Engine
) -> None:
    reconciler, targets, clock = world
    await reconciler.pass_once()
    east = targets["us-east"]
    assert east.pid is not None
    os.kill(east.pid, signal.SIGSTOP)  # its admin API stops answering
    try:
        with session_scope(engine) as session:
            bump_generation(session)
        clock.now += 1
        outcomes = await reconciler.pass_once()
        retry = outcomes["us-east"]
        assert isinstance(retry, Temporary) and retry.delay == 5, outcomes
        assert isinstance(outcomes["us-west"], Synced) and isinstance(outcomes["eu-central"], Synced)
        state, message = _status(engine)["us-east"]
        assert state == "failed" and "retrying in 5 s" in message
        clock.now += 4
        assert (await reconciler.pass_once())["us-east"] is None, "not before its retry time"
    finally:
        os.kill(east.pid, signal.SIGCONT)
    clock.now += 1
    assert isinstance((await reconciler.pass_once())["us-east"], (Synced, Temporary))
    clock.now += 60
    final = await reconciler.pass_once()
    assert isinstance(final["us-east"], Synced), final
    assert _status(engine)["us-east"][0] in ("synced", "degraded")


async def test_a_product_with_problems_is_reported_and_its_cluster_keeps_its_last_good_config(
    world: tuple[Reconciler, dict[str, LocalEnvoyTarget], Clock], engine: Engine
) -> None:
    reconciler, targets, clock = world
    await reconciler.pass_once()
    before = {p.name: p.read_bytes() for p in (targets["eu-central"].directory).glob("*.json")}
    with session_scope(engine) as session:  # eu-central loses its failover gateway, which us-east needs
        row = session.exec(select(Cluster).where(Cluster.name == "eu-central")).one()
        row.gloo = {k: v for k, v in row.gloo.items() if k != "failoverGateway"}
        bump_generation(session)
    clock.now += 1
    outcomes = await reconciler.pass_once()
    assert isinstance(outcomes["us-east"], Permanent)
    assert "failover gateway" in outcomes["us-east"].reason
    with session_scope(engine) as session:
        [east] = fleet_status(session, cluster="us-east")
    [library] = east.products
    assert library.verdict == "Rejected" and "eu-central" in library.reason
    # eu-central itself is fine: it only stops exporting what others fail over to
    assert isinstance(outcomes["eu-central"], Synced)
    after_east = {p.name: p.read_bytes() for p in targets["eu-central"].directory.glob("*.json")}
    assert after_east != before  # eu-central changed; us-east did not:
    assert targets["us-east"].pid is not None


async def test_a_dead_envoy_is_restarted_on_the_next_pass_not_a_resync_later(
    world: tuple[Reconciler, dict[str, LocalEnvoyTarget], Clock], engine: Engine
) -> None:
    reconciler, targets, _clock = world
    assert all(isinstance(o, Synced) for o in (await reconciler.pass_once()).values())
    east = targets["us-east"]
    dead = east.pid
    assert dead is not None
    os.kill(dead, signal.SIGKILL)

    async def running_pid() -> int | None:
        return east.pid

    # SIGKILL is delivered asynchronously: until the process has exited, it is a wedged Envoy, not a dead one
    await eventually(running_pid, lambda pid: pid is None, "the killed Envoy to have exited")
    outcomes = await reconciler.pass_once()  # nothing due yet: it only observes, and sees it gone
    assert outcomes["us-east"] is None and _status(engine)["us-east"][0] != "synced"
    outcomes = await reconciler.pass_once()  # the clock did not move: due because it stopped answering
    assert isinstance(outcomes["us-east"], Synced), outcomes
    assert east.pid is not None and east.pid != dead
    assert _status(engine)["us-east"][0] in ("synced", "degraded")
