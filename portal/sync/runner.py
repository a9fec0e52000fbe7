"""Running the sync worker: its targets made from settings, leadership, the reconciler loop, ``loom sync``.

This module is the composition root of the sync worker: the one place that knows every target. ``loom sync``
(:mod:`portal.sync.commands`) runs it as a process of its own; ``loom serve`` (and ``loom up``) run :func:`run`
in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy.engine import Engine

from portal.changes import ConfigChanges
from portal.db import session_scope
from portal.settings import Settings
from portal.sync.desired import ClusterSpec, DesiredState
from portal.sync.errors import Outcome
from portal.sync.leadership import LeadershipLost, NotLeading, leadership
from portal.sync.reading import from_session
from portal.sync.status import DatabaseStatus
from portal.sync.targets import Target
from portal.sync.worker import Backoff, Reconciler, TargetFactory

__all__ = [
    "envoy_dir",
    "gitops_dir",
    "in_process",
    "pass_once",
    "reconciler_for",
    "run",
    "run_forever",
    "target_factory",
]

log = logging.getLogger("portal.sync")


def envoy_dir(settings: Settings) -> Path:
    return settings.sync.envoy_dir or settings.data_dir / "envoy"


def gitops_dir(settings: Settings) -> Path:
    return settings.sync.gitops_dir or settings.data_dir / "gitops"


def target_factory(settings: Settings) -> TargetFactory:
    """A cluster's target by its ``spec.gloo.target``; each target module is imported when first needed."""

    def make(cluster: ClusterSpec) -> Target:
        if cluster.target == "local-envoy":
            from portal.sync.targets.local_envoy import LocalEnvoyTarget

            return LocalEnvoyTarget(cluster, envoy_dir(settings) / cluster.name)
        if cluster.target == "gitops":
            from portal.sync.targets.gitops import GitOpsTarget

            return GitOpsTarget(cluster, gitops_dir(settings))
        from portal.sync.crd_validation import validate_set
        from portal.sync.gloo import render
        from portal.sync.targets.kubernetes import KubernetesTarget

        # one cache per target: each distinct object is checked against its CRD once, the set rules every pass
        validate = functools.partial(validate_set, valid=set())
        return KubernetesTarget(cluster, render=render, validate=validate, kubeconfig=settings.sync.kubeconfig)

    return make


def reconciler_for(settings: Settings, engine: Engine, targets: TargetFactory | None = None) -> Reconciler:
    async def desired() -> DesiredState:
        def read() -> DesiredState:
            with session_scope(engine) as session:
                return from_session(session)

        return await asyncio.to_thread(read)

    sync = settings.sync
    return Reconciler(
        desired,
        targets or target_factory(settings),
        DatabaseStatus(engine),
        backoff=Backoff(sync.backoff_base_seconds, sync.backoff_cap_seconds),
        resync_seconds=sync.resync_seconds,
        apply_timeout=sync.apply_timeout_seconds,
        observe_timeout=sync.observe_timeout_seconds,
    )


async def run(
    settings: Settings,
    engine: Engine,
    stop: asyncio.Event,
    wake: asyncio.Event | None = None,
    *,
    targets: TargetFactory | None = None,
) -> None:
    """Lead the sync worker of this installation until ``stop`` is set: wait while another process leads, act while
    this one does, and go back to waiting if the lease is lost (its database session died)."""
    wake = wake or asyncio.Event()
    while not stop.is_set():
        try:
            async with leadership(engine, settings.data_dir, stop=stop) as lease:
                log.info("leading the sync worker")
                reconciler = reconciler_for(settings, engine, targets)
                try:
                    await reconciler.run(stop, wake, interval=settings.sync.interval_seconds, before_pass=lease.check)
                except LeadershipLost as exc:
                    log.warning("no longer leading the sync worker: %s", exc)
                finally:
                    await reconciler.aclose()
        except NotLeading:
            return


@contextlib.asynccontextmanager
async def in_process(
    settings: Settings, engine: Engine, *, targets: TargetFactory | None = None
) -> AsyncIterator[asyncio.Event]:
    """The worker as a task of the current event loop (``loom serve``, ``loom up``): it leads (or waits to lead)
    until the context exits, then stops and releases its lease. Yields the event that wakes it for a pass now."""
    stop, wake = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run(settings, engine, stop, wake, targets=targets), name="loom-sync-worker")
    try:
        yield wake
    finally:
        stop.set()
        wake.set()
        await task


async def pass_once(settings: Settings, engine: Engine) -> dict[str, Outcome | None]:
    """One reconciler pass as the leader (waiting for another leader to finish first), each cluster's outcome."""
    async with leadership(engine, settings.data_dir):
        reconciler = reconciler_for(settings, engine)
        try:
            return await reconciler.pass_once()
        finally:
            await reconciler.aclose()


async def run_forever(settings: Settings, engine: Engine) -> None:
    """:func:`run` until SIGINT or SIGTERM (``loom sync``), woken by every configuration change the database
    announces (PostgreSQL's ``NOTIFY``: a change made through any portal replica is synced as it commits)."""
    stop, wake = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    changes = ConfigChanges()
    changes.on_change(wake.set)
    await changes.start(engine)
    try:
        await run(settings, engine, stop, wake)
    finally:
        await changes.aclose()
