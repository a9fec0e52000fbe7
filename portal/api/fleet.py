"""The fleet view in the admin API: ``fleetStatus(cluster, product)``, what the sync worker last saw in each cluster.

Who sees what is :func:`portal.sync.status.visible_fleet_status`'s rule (the same as ``loom status``).
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from sqlmodel import Session
from strawberry.types import Info

from portal.api import shapes as sh
from portal.api.context import Context, run
from portal.authorization import Actor
from portal.gateway_checkins import GatewaySeen
from portal.sync import status as sync_status

__all__ = ["ClusterStatus", "ProductStatus", "UpstreamStatus", "fleet_status"]


@strawberry.type(description="One upstream's live health: which cluster serves it now, and every endpoint.")
class UpstreamStatus:
    upstream: str
    service: str | None
    serving: str | None = strawberry.field(description="The cluster taking traffic now; null: nothing is healthy.")
    failed_over: bool = strawberry.field(description="Traffic goes to another cluster than the first priority.")
    endpoints: list[sh.Endpoint]

    @classmethod
    def of(cls, value: sync_status.UpstreamStatus) -> UpstreamStatus:
        return cls(
            upstream=value.upstream,
            service=value.service,
            serving=value.serving,
            failed_over=value.failed_over,
            endpoints=[sh.Endpoint.of(e) for e in value.endpoints],
        )


@strawberry.type(description="A product in one cluster: what the cluster did with its configuration.")
class ProductStatus:
    product: str
    cluster: str
    verdict: str = strawberry.field(description="Accepted, Rejected, Warning or Pending.")
    reason: str = strawberry.field(description="Gloo's or Envoy's reason, or the last error.")
    applied_generation: int
    upstreams: list[UpstreamStatus]
    updated_at: datetime

    @classmethod
    def of(cls, value: sync_status.ProductStatus) -> ProductStatus:
        return cls(
            product=value.product,
            cluster=value.cluster,
            verdict=value.verdict,
            reason=value.reason,
            applied_generation=value.applied_generation,
            upstreams=[UpstreamStatus.of(u) for u in value.upstreams],
            updated_at=value.updated_at,
        )


@strawberry.type(
    description="A gateway that reads this cluster's snapshot (gateways poll, so an old lastSeenAt means it stopped)."
)
class GatewayStatus:
    gateway: str = strawberry.field(description="The account it authenticates as (a robot), or embedded.")
    version: str = strawberry.field(description="As its User-Agent states it (unknown for other clients).")
    snapshot_etag: str = strawberry.field(description="The snapshot it holds since it last asked.")
    last_seen_at: datetime

    @classmethod
    def of(cls, value: GatewaySeen) -> GatewayStatus:
        return cls(
            gateway=value.gateway,
            version=value.version,
            snapshot_etag=value.snapshot_etag,
            last_seen_at=value.last_seen_at,
        )


@strawberry.type(description="A cluster as the sync worker last saw it.")
class ClusterStatus:
    cluster: str
    region: str
    zone: str
    residency: str
    target: str
    state: str = strawberry.field(description="synced, degraded, failed or pending.")
    message: str
    reachable: bool | None
    versions: list[sh.ComponentVersion]
    observed_generation: int
    applied_generation: int
    last_success_at: datetime | None
    upstreams: list[UpstreamStatus]
    products: list[ProductStatus]
    gateways: list[GatewayStatus]

    @classmethod
    def of(cls, value: sync_status.ClusterStatus) -> ClusterStatus:
        return cls(
            cluster=value.cluster,
            region=value.region,
            zone=value.zone,
            residency=value.residency,
            target=value.target,
            state=value.state,
            message=value.message,
            reachable=value.reachable,
            versions=sh.component_versions(value.versions),
            observed_generation=value.observed_generation,
            applied_generation=value.applied_generation,
            last_success_at=value.last_success_at,
            upstreams=[UpstreamStatus.of(u) for u in value.upstreams],
            products=[ProductStatus.of(p) for p in value.products],
            gateways=[GatewayStatus.of(g) for g in value.gateways],
        )


async def fleet_status(
    info: Info[Context, None], cluster: str | None = None, product: str | None = None
) -> list[ClusterStatus]:
    """Every cluster's sync status (or one cluster's), each with its products' (or one product's)."""

    def work(session: Session, actor: Actor) -> list[ClusterStatus]:
        found = sync_status.visible_fleet_status(session, actor, cluster=cluster, product=product)
        return [ClusterStatus.of(s) for s in found]

    return await run(info, work)
