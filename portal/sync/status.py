"""What the sync worker saw, kept in the portal's database (``cluster_sync_statuses``) for the API and ``loom status``.

One row per cluster (``product_id`` NULL) and one per product offered there. :class:`DatabaseStatus` is the
reconciler's status sink; :func:`fleet_status` reads the rows back as plain values.

A cluster row's ``state``: ``synced`` (the cluster holds the desired generation), ``degraded`` (it does, but a
product was not accepted or an upstream has nothing healthy), ``failed`` (the last pass failed: ``message`` says
why; the cluster keeps serving its last good config), ``pending`` (nothing applied yet).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

from portal.authorization import Actor, Target, is_allowed
from portal.db import session_scope, writer
from portal.errors import Forbidden, NotFound, Unauthenticated
from portal.gateway_checkins import GatewaySeen, checkins
from portal.models import Cluster, ClusterSyncStatus, Product, SyncState, Team, utcnow
from portal.sync.errors import Permanent, Synced, Temporary
from portal.sync.model import ClusterRouting
from portal.sync.targets import Observation, UpstreamHealth
from portal.sync.worker import ClusterReport

__all__ = ["ClusterStatus", "DatabaseStatus", "ProductStatus", "UpstreamStatus", "fleet_status", "visible_fleet_status"]


@dataclass(frozen=True, slots=True)
class UpstreamStatus:
    upstream: str
    service: str | None
    serving: str | None  # the cluster whose endpoints take traffic now (None: nothing healthy)
    endpoints: tuple[Mapping[str, Any], ...]

    @property
    def failed_over(self) -> bool:
        """Traffic goes to another cluster's endpoints although a first-priority endpoint exists."""
        first = [e for e in self.endpoints if e.get("priority") == 0]
        return self.serving is not None and bool(first) and all(e.get("cluster") != self.serving for e in first)


@dataclass(frozen=True, slots=True)
class ProductStatus:
    product: str
    cluster: str
    verdict: str  # Accepted, Rejected, Warning, Pending
    reason: str
    applied_generation: int
    upstreams: tuple[UpstreamStatus, ...]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    cluster: str
    region: str
    zone: str
    residency: str
    target: str
    state: str
    message: str
    reachable: bool | None
    versions: Mapping[str, str]
    observed_generation: int
    applied_generation: int
    last_success_at: datetime | None
    upstreams: tuple[UpstreamStatus, ...]
    products: tuple[ProductStatus, ...]
    updated_at: datetime | None
    gateways: tuple[GatewaySeen, ...] = ()  # the gateways that read this cluster's snapshot (they poll)


class DatabaseStatus:
    """The reconciler's status sink: one transaction per cluster report, in a worker thread."""

    def __init__(self, engine: Engine, *, now: Callable[[], datetime] = utcnow) -> None:
        self._engine = engine
        self._now = now

    async def record(self, report: ClusterReport) -> None:
        await asyncio.to_thread(self._record, report)

    async def forget(self, cluster: str) -> None:
        def work() -> None:
            with session_scope(writer(self._engine)) as session:
                row = session.exec(select(Cluster).where(col(Cluster.name) == cluster)).first()
                if row is not None:
                    session.exec(delete(ClusterSyncStatus).where(col(ClusterSyncStatus.cluster_id) == row.id))

        await asyncio.to_thread(work)

    def _record(self, report: ClusterReport) -> None:
        now = self._now()
        with session_scope(writer(self._engine)) as session:
            cluster = session.exec(select(Cluster).where(col(Cluster.name) == report.cluster)).first()
            if cluster is None:  # deleted since the pass read the desired state
                return
            rows = {
                row.product_id: row
                for row in session.exec(
                    select(ClusterSyncStatus).where(col(ClusterSyncStatus.cluster_id) == cluster.id)
                ).all()
            }
            product_ids = _product_ids(session, _offered(report.model))
            self._cluster_row(session, cluster.id, rows.get(None), report, now)
            self._product_rows(session, cluster.id, rows, product_ids, report, now)

    def _cluster_row(
        self,
        session: Session,
        cluster_id: int | None,
        row: ClusterSyncStatus | None,
        report: ClusterReport,
        now: datetime,
    ) -> None:
        assert cluster_id is not None
        if row is None:
            row = ClusterSyncStatus(cluster_id=cluster_id, product_id=None)
        observation = report.observation
        outcome = report.outcome
        if isinstance(outcome, Synced):
            row.applied_generation = outcome.generation
            row.last_success_at = now
            row.message = ""
        elif isinstance(outcome, Temporary):
            row.message = f"{outcome.reason} (retrying in {outcome.delay:g} s)"
        elif isinstance(outcome, Permanent):
            row.message = outcome.reason
        failing = isinstance(outcome, Temporary | Permanent) or (outcome is None and row.state is SyncState.FAILED)
        if failing:
            row.state = SyncState.FAILED
        elif row.last_success_at is None:
            row.state = SyncState.PENDING
        elif (why := _degraded(observation)) is not None:
            row.state = SyncState.DEGRADED
            row.message = why
        else:
            row.state = SyncState.SYNCED
        row.reachable = observation.reachable
        if observation.error and not row.message:
            row.message = observation.error
        row.versions = dict(observation.versions)
        row.upstreams = [_upstream_json(u) for u in observation.upstreams]
        row.observed_generation = report.generation
        row.updated_at = now
        session.add(row)

    def _product_rows(
        self,
        session: Session,
        cluster_id: int | None,
        rows: Mapping[int | None, ClusterSyncStatus],
        product_ids: Mapping[str, int | None],
        report: ClusterReport,
        now: datetime,
    ) -> None:
        assert cluster_id is not None
        verdicts = {v.product: v for v in report.observation.verdicts}
        problems: dict[str, list[str]] = {}
        for problem in report.model.problems:
            if problem.product is not None:
                problems.setdefault(problem.product, []).append(problem.message)
        health = {u.upstream: u for u in report.observation.upstreams}
        for product, product_id in product_ids.items():
            row = rows.get(product_id) or ClusterSyncStatus(cluster_id=cluster_id, product_id=product_id)
            verdict = verdicts.get(product)
            if product in problems:
                row.verdict, row.message = "Rejected", "; ".join(problems[product])
            elif verdict is not None:
                row.verdict, row.message = verdict.state, verdict.reason
                row.applied_generation = verdict.generation
            else:
                row.verdict, row.message = "Pending", ""
            row.state = (
                SyncState.SYNCED
                if row.verdict == "Accepted"
                else (SyncState.FAILED if row.verdict == "Rejected" else SyncState.PENDING)
            )
            row.upstreams = [
                _upstream_json(health[name]) for name in _upstreams_of(report.model, product) if name in health
            ]
            row.observed_generation = report.generation
            row.updated_at = now
            session.add(row)
        stale = [row.id for pid, row in rows.items() if pid is not None and pid not in set(product_ids.values())]
        if stale:
            session.exec(delete(ClusterSyncStatus).where(col(ClusterSyncStatus.id).in_(stale)))


def _offered(model: ClusterRouting) -> list[str]:
    names = [r.product for r in model.routes] + [p.product for p in model.problems if p.product is not None]
    return list(dict.fromkeys(names))


def _product_ids(session: Session, names: Iterable[str]) -> dict[str, int | None]:
    wanted = list(names)
    if not wanted:
        return {}
    rows = session.exec(select(Product).where(col(Product.name).in_(wanted))).all()
    return {row.name: row.id for row in rows}


def _upstreams_of(model: ClusterRouting, product: str) -> list[str]:
    """The upstreams a product's requests use in this cluster: its entry, then its services'."""
    names = [r.upstream for r in model.routes if r.product == product]
    for served in model.gateway_products:
        if served.product == product:
            names += [url.split("/_loom/upstreams/", 1)[1].split("/", 1)[0] for url in served.service_urls.values()]
    return list(dict.fromkeys(names))


def _degraded(observation: Observation) -> str | None:
    """Why a synced cluster is not serving as desired, or None when it is."""
    if not observation.reachable:
        return f"unreachable since the last sync: {observation.error or 'no answer'}"
    if observation.warnings:
        return "; ".join(observation.warnings)
    refused = [
        f"{v.product} ({v.state}: {v.reason})" for v in observation.verdicts if v.state in ("Rejected", "Warning")
    ]
    if refused:
        return "not accepted: " + ", ".join(refused)
    down = [u.upstream for u in observation.upstreams if u.endpoints and u.serving is None]
    if down:
        more = f" and {len(down) - 5} more" if len(down) > 5 else ""
        return "nothing healthy in " + ", ".join(down[:5]) + more
    return None


def _upstream_json(upstream: UpstreamHealth) -> dict[str, Any]:
    return {
        "upstream": upstream.upstream,
        "service": upstream.service,
        "serving": upstream.serving,
        "endpoints": [
            {
                "cluster": e.cluster,
                "address": e.address,
                "priority": e.priority,
                "healthy": e.healthy,
                "ejected": e.ejected,
            }
            for e in upstream.endpoints
        ],
    }


# --- reading it back -----------------------------------------------------------------------------------------


def fleet_status(session: Session, *, cluster: str | None = None, product: str | None = None) -> list[ClusterStatus]:
    """Every cluster's status (or one cluster's), each with its products' (or one product's)."""
    query = select(Cluster).order_by(col(Cluster.name))
    if cluster is not None:
        query = query.where(col(Cluster.name) == cluster)
    clusters = session.exec(query).all()
    products = {p.id: p.name for p in session.exec(select(Product)).all()}
    out: list[ClusterStatus] = []
    for row in clusters:
        statuses = session.exec(select(ClusterSyncStatus).where(col(ClusterSyncStatus.cluster_id) == row.id)).all()
        own = next((s for s in statuses if s.product_id is None), None)
        product_rows = sorted(
            (
                s
                for s in statuses
                if s.product_id is not None and (product is None or products.get(s.product_id) == product)
            ),
            key=lambda s: products.get(s.product_id, ""),
        )
        gloo = row.gloo or {}
        out.append(
            ClusterStatus(
                cluster=row.name,
                region=row.region,
                zone=row.zone,
                residency=row.residency,
                target=str(gloo.get("target", "")),
                state=own.state.value if own else SyncState.PENDING.value,
                message=own.message if own else "the sync worker has not reached this cluster yet",
                reachable=own.reachable if own else None,
                versions=dict(own.versions) if own else {},
                observed_generation=own.observed_generation if own else 0,
                applied_generation=own.applied_generation if own else 0,
                last_success_at=own.last_success_at if own else None,
                upstreams=tuple(_upstream_status(u) for u in (own.upstreams if own else [])),
                products=tuple(
                    ProductStatus(
                        product=products.get(s.product_id, "?"),
                        cluster=row.name,
                        verdict=s.verdict or "Pending",
                        reason=s.message,
                        applied_generation=s.applied_generation,
                        upstreams=tuple(_upstream_status(u) for u in s.upstreams),
                        updated_at=s.updated_at,
                    )
                    for s in product_rows
                ),
                updated_at=own.updated_at if own else None,
                gateways=checkins(session, row.id) if row.id is not None else (),
            )
        )
    return out


def _upstream_status(data: Mapping[str, Any]) -> UpstreamStatus:
    return UpstreamStatus(
        upstream=str(data.get("upstream", "")),
        service=data.get("service"),
        serving=data.get("serving"),
        endpoints=tuple(data.get("endpoints") or ()),
    )


def visible_fleet_status(
    session: Session, actor: Actor, *, cluster: str | None = None, product: str | None = None
) -> list[ClusterStatus]:
    """:func:`fleet_status` as ``actor`` may see it: a platform admin or platform-wide viewer everything; a member of
    a team (any role) every cluster's own state and the products of their teams; anybody else nothing
    (``Forbidden``: the status names upstream addresses, which consumers do not see). An unknown cluster or product
    is ``NotFound``."""
    if not actor.is_authenticated:
        raise Unauthenticated("the fleet status requires signing in: pass a personal access token")
    if not (actor.platform_admin or actor.read_only or actor.team_roles):
        raise Forbidden(
            f"{actor.describe()} may not read the fleet status: it is for platform admins, platform viewers and "
            "team members"
        )
    if cluster is not None and session.exec(select(Cluster.id).where(col(Cluster.name) == cluster)).first() is None:
        raise NotFound(f"no cluster named {cluster[:100]!r}; `loom get clusters` lists them")
    teams = dict(session.exec(select(Product.name, Team.name).join(Team, col(Team.id) == col(Product.team_id))).all())
    if product is not None and product not in teams:
        raise NotFound(f"no product named {product[:100]!r}")
    statuses = fleet_status(session, cluster=cluster, product=product)
    if actor.platform_admin or actor.read_only:  # a platform-wide viewer reads everything, writes nothing
        return statuses

    def visible(status: ProductStatus) -> bool:
        return is_allowed(actor, "fleet.read", Target("product", status.product, team=teams.get(status.product)))

    return [replace(s, products=tuple(p for p in s.products if visible(p))) for s in statuses]
