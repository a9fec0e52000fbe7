"""``/api/gateway/snapshot`` and the embedded gateway's source: the snapshot served, watched for changes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from portal import oauth
from portal.authentication import require_actor
from portal.authorization import Target, authorize
from portal.changes import ConfigChanges
from portal.db import session_scope
from portal.errors import Forbidden, Invalid, LoomError
from portal.gateway_checkins import EMBEDDED, gateway_version, record_checkin
from portal.models import utcnow
from portal.snapshot.building import build_snapshot
from stitcher.snapshot import Snapshot
from stitcher.snapshot_source import MAX_WATCH_SECONDS, SNAPSHOT_PATH, VERSION as GATEWAY_VERSION, SnapshotError

__all__ = [
    "HELD_SECONDS",
    "MAX_WAIT_SECONDS",
    "SNAPSHOT_PATH",
    "Built",
    "LocalSnapshotSource",
    "SnapshotBuilds",
    "routes",
    "snapshot_endpoint",
    "watch",
]

# The scope key where the endpoint adds up the seconds a watch was held waiting for a change (not serving).
HELD_SECONDS = "loom.held_seconds"
MAX_WAIT_SECONDS = MAX_WATCH_SECONDS  # ?wait=: the longest a request is held (a gateway asks for less by default)


@dataclass(frozen=True, slots=True)
class Built:
    """A snapshot and its ETag, computed once with it in the build's worker thread (the fingerprint serializes and
    hashes the whole snapshot: every watch a build answers compares it, none recomputes it)."""

    snapshot: Snapshot
    etag: str


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {part.strip().removeprefix("W/") for part in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


def _build(engine: Engine, issuer: str, clock: Callable[[], datetime], cluster: str | None = None) -> Built:
    with session_scope(engine) as session:
        snapshot = build_snapshot(session, issuer=issuer, now=clock(), cluster=cluster)
    return Built(snapshot, f'"{snapshot.fingerprint()}"')


async def watch(
    build: Callable[[], Awaitable[Built]],
    unchanged: Callable[[Built], bool],
    changes: ConfigChanges,
    *,
    wait: float,
    recheck: float,
    on_hold: Callable[[float], None] | None = None,
) -> Built:
    """The snapshot ``build`` gives; while it is ``unchanged`` (the caller holds it already), wait up to ``wait``
    seconds for a change and build again: at once when :class:`ConfigChanges` hears of a commit, and at least every
    ``recheck`` seconds for what it cannot hear (an expiry, another process writing to SQLite). ``on_hold`` is told
    each stretch of seconds spent waiting."""
    seen = changes.count  # before building: a change committed while building is not missed
    built = await build()
    if wait <= 0:
        return built
    deadline = time.monotonic() + wait
    while unchanged(built):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        held = time.monotonic()
        heard = await changes.wait(seen, min(remaining, recheck))
        if on_hold is not None:
            on_hold(time.monotonic() - held)
        if not heard and changes.closing:
            break
        seen = changes.count
        built = await build()
    return built


def _wait_seconds(raw: str | None) -> float:
    if raw is None:
        return 0.0
    try:
        wait = float(raw)
    except ValueError:
        wait = -1.0
    if not 0 <= wait <= MAX_WAIT_SECONDS:  # also NaN
        raise Invalid(f"wait must be a number of seconds from 0 to {MAX_WAIT_SECONDS:g}, not {raw!r}")
    return wait


class SnapshotBuilds:
    """One build at a time per (cluster view, change): every watch of a cluster woken by the same change, and any
    request arriving meanwhile, shares it, so a fleet of N gateways per cluster costs one build per change, not N.
    App-scoped (``create_app`` makes it, beside the limiters: it holds nothing until a build runs); ``counter`` (a
    Prometheus counter labelled by cluster) counts real builds."""

    def __init__(self, counter: Any | None = None) -> None:
        self._inflight: dict[tuple[str | None, int], asyncio.Future[Built]] = {}
        self._counter = counter

    async def run(self, cluster: str | None, change: int, build: Callable[[], Awaitable[Built]]) -> Built:
        key = (cluster, change)
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(build())
            self._inflight[key] = future
            future.add_done_callback(lambda done: self._done(key, done))
            if self._counter is not None:
                self._counter.labels(cluster=cluster or "").inc()
        # A waiter that goes away (its gateway hung up) must not cancel the build the others wait on.
        return await asyncio.shield(future)

    def _done(self, key: tuple[str | None, int], future: asyncio.Future[Built]) -> None:
        if self._inflight.get(key) is future:
            del self._inflight[key]
        if not future.cancelled():
            future.exception()  # retrieved: every waiter may have gone, and its error is theirs, not the loop's


async def snapshot_endpoint(request: Request) -> Response:
    """``GET /api/gateway/snapshot[?cluster=NAME][&wait=SECONDS]``: the snapshot as JSON with its ETag, or 304 when
    ``If-None-Match`` matches. With ``wait``, a matching request is held until the snapshot changes (then 200) or
    the time is up (then 304): a gateway learns of a change, a revoked key above all, as it commits. A platform admin
    may read any; a gateway robot only its own clusters' (it must name one)."""
    actor = await require_actor(request, robots=True)
    cluster = request.query_params.get("cluster") or None
    wait = _wait_seconds(request.query_params.get("wait"))
    if actor.kind == "robot" and cluster is None:
        raise Forbidden(f"{actor.describe()} reads its own cluster's snapshot only: ask for ?cluster=NAME")
    authorize(actor, "gateway.snapshot", Target("cluster", cluster) if cluster else Target("gateway", "snapshot"))
    state = request.app.state
    clock = cast(Callable[[], datetime], getattr(state, "clock", utcnow))
    if_none_match = request.headers.get("if-none-match")

    builds: SnapshotBuilds = state.snapshot_builds
    changes: ConfigChanges = state.changes

    async def build() -> Built:
        return await builds.run(
            cluster,
            changes.count,
            lambda: run_in_threadpool(_build, state.engine, oauth.issuer(state.settings), clock, cluster),
        )

    def on_hold(seconds: float) -> None:  # the portal's request timings leave a held watch's waiting out
        request.scope[HELD_SECONDS] = request.scope.get(HELD_SECONDS, 0.0) + seconds

    built = await watch(
        build,
        lambda b: _matches(if_none_match, b.etag),
        changes,
        wait=wait,
        recheck=state.settings.gateway.poll_interval_seconds,
        on_hold=on_hold,
    )
    etag = built.etag
    if cluster is not None:  # a cluster's gateway checks in: it holds this snapshot from now on
        version = gateway_version(request.headers.get("user-agent"))
        await run_in_threadpool(
            record_checkin,
            state.engine,
            cluster=cluster,
            gateway=actor.name,
            version=version,
            snapshot_etag=etag,
            now=clock(),
        )
    headers = {"etag": etag, "cache-control": "no-cache"}
    if _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(built.snapshot.model_dump_json(), media_type="application/json", headers=headers)


class LocalSnapshotSource:
    """The snapshot read straight from the portal's database: the gateway that ``loom serve`` embeds uses it
    (a :class:`stitcher.snapshot_source.SnapshotSource`). ``fetch`` returns None while the content is unchanged;
    with ``wait`` it first waits on ``changes`` (the app's) for a change, as the portal's endpoint does."""

    def __init__(
        self,
        engine: Engine,
        issuer: str,
        *,
        changes: ConfigChanges | None = None,
        recheck: float = 2.0,
        clock: Callable[[], datetime] = utcnow,
        cluster: str | None = None,
    ) -> None:
        self._engine = engine
        self._issuer = issuer
        self._changes = changes
        self._recheck = recheck
        self._clock = clock
        self._cluster = cluster  # LOOM_GATEWAY_CLUSTER: serve that cluster's view, as ``loom gateway --cluster``
        self._etag: str | None = None  # of the snapshot last returned

    async def fetch(self, wait: float = 0.0) -> Snapshot | None:
        async def build() -> Built:
            try:
                return await run_in_threadpool(_build, self._engine, self._issuer, self._clock, self._cluster)
            except LoomError as exc:
                raise SnapshotError(f"cannot build the snapshot from the portal's database: {exc}") from exc

        held = self._etag
        if self._changes is None:
            built = await build()
        else:
            built = await watch(build, lambda b: b.etag == held, self._changes, wait=wait, recheck=self._recheck)
        if self._cluster is not None:
            await run_in_threadpool(
                record_checkin,
                self._engine,
                cluster=self._cluster,
                gateway=EMBEDDED,
                version=GATEWAY_VERSION,
                snapshot_etag=built.etag,
                now=self._clock(),
            )
        if built.etag == held:
            return None
        self._etag = built.etag
        return built.snapshot

    def load_cached(self) -> Snapshot | None:
        return None  # the database is right here: there is nothing older worth serving

    def store(self, snapshot: Snapshot) -> None:
        return None

    async def aclose(self) -> None:
        return None


routes: list[BaseRoute] = [Route(SNAPSHOT_PATH, snapshot_endpoint, methods=["GET"], name="gateway_snapshot")]
