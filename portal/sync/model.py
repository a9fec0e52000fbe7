"""The routing model: what each cluster must do, as a pure function of the desired state.

``route(desired)`` answers one :class:`ClusterRouting` per cluster. Every renderer (Envoy, Gloo) and the gateway's
per-cluster snapshot read it; nothing here knows about a target, a file format or I/O.

The rules (docs/architecture.md, "Routing"):

* **Entry.** A product is offered in every cluster of its ``routing.clusters``, at ``/products/<name>/...``.
* **Processing.** A product with residency ``Z`` is processed only by gateways in clusters whose residency is ``Z``
  (and that offer it). A cluster outside ``Z`` forwards the request to such a gateway through that cluster's
  failover gateway. A product without residency is processed where it enters. Either way the entry's upstream
  lists the gateways that may process it by locality, so a dead local gateway fails over too, never out of ``Z``.
* **Upstream calls.** A gateway reaches each service through its own cluster's Envoy (internal routes
  ``/_loom/upstreams/<upstream>/...``), one Envoy cluster per service, or per service and residency zone when the
  product is pinned (so no failover list crosses a zone). Priorities: the same cluster, then the same zone, then
  the same region, then other regions; remote endpoints are reached through their cluster's failover gateway,
  addressed by the name of the *local* upstream there (``loom-local-<service>``), which never fails over again.
* **Problems** (a service with no deployment in the zone, a cluster without a failover gateway that a failover list
  needs, deployments that disagree on the path, ...) are reported per product; a cluster with problems must not be
  changed (the sync worker keeps its last good config and reports them).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from portal.sync.desired import (
    ClusterSpec,
    DesiredState,
    HostPort,
    ProductSpec,
    RetryPolicy,
    ServiceSpec,
    TrafficPolicy,
)

__all__ = [
    "GATEWAY_HEALTH_PATH",
    "INTERNAL_PREFIX",
    "LOCAL_GATEWAY",
    "ClusterRouting",
    "Endpoint",
    "FailoverRoute",
    "GatewayProduct",
    "InternalRoute",
    "Problem",
    "ProductRoute",
    "Upstream",
    "UpstreamRole",
    "locality_tier",
    "route",
]

INTERNAL_PREFIX = "/_loom/upstreams/"
LOCAL_GATEWAY = "loom-local-gateway"
GATEWAY_HEALTH_PATH = "/readyz"  # a gateway is ready once it serves a snapshot
# A gateway answers after its own upstream calls (each retried in Envoy), so the entry route must not give up on it
# after one service's per-try timeout: a dead gateway is found by connect failures and health checks instead.
_GATEWAY_TRAFFIC = TrafficPolicy(retries=RetryPolicy(per_try_timeout_ms=5_000))

UpstreamRole = Literal["service", "entry", "local-service", "local-gateway"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One address an upstream sends to. ``authority`` is the Host header (and, in Gloo, the SNI) it is addressed
    with: the deployment's own host for a direct endpoint, the name of the remote local upstream through a
    failover gateway."""

    cluster: str
    region: str
    zone: str
    address: HostPort
    tls: bool
    authority: str
    via_failover: bool


@dataclass(frozen=True, slots=True)
class Upstream:
    """An Envoy cluster (a Gloo Upstream): endpoints in priority order, all health-checked at ``health_path``."""

    name: str
    role: UpstreamRole
    service: str | None  # None for gateways
    zone: str | None  # the residency zone its failover list is confined to
    priorities: tuple[tuple[Endpoint, ...], ...]
    base_path: str
    health_path: str
    traffic: TrafficPolicy

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(e for level in self.priorities for e in level)


@dataclass(frozen=True, slots=True)
class ProductRoute:
    """Requests for ``/products/<product>/...`` entering this cluster go to ``upstream`` (gateways)."""

    product: str
    prefix: str
    upstream: str
    processed_here: bool
    zone: str | None


@dataclass(frozen=True, slots=True)
class InternalRoute:
    """The gateway's way to a service: ``prefix`` + path goes to ``upstream`` as ``/`` + path."""

    prefix: str
    upstream: str


@dataclass(frozen=True, slots=True)
class FailoverRoute:
    """What this cluster's failover gateway forwards: requests addressed to ``authority`` go to ``upstream``."""

    authority: str
    upstream: str


@dataclass(frozen=True, slots=True)
class GatewayProduct:
    """A product this cluster's gateway serves, and the URL of each of its services through this cluster's Envoy."""

    product: str
    service_urls: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Problem:
    """Why part of the desired state cannot be routed here; ``product`` None: the whole cluster."""

    product: str | None
    message: str

    def __str__(self) -> str:
        return f"product {self.product!r}: {self.message}" if self.product else self.message


@dataclass(frozen=True, slots=True)
class ClusterRouting:
    cluster: ClusterSpec
    generation: int
    routes: tuple[ProductRoute, ...]
    upstreams: tuple[Upstream, ...]
    internal_routes: tuple[InternalRoute, ...]
    failover_routes: tuple[FailoverRoute, ...]
    gateway_products: tuple[GatewayProduct, ...]
    problems: tuple[Problem, ...] = field(default=())

    def upstream(self, name: str) -> Upstream:
        for upstream in self.upstreams:
            if upstream.name == name:
                return upstream
        raise KeyError(name)


def locality_tier(source: ClusterSpec, target: ClusterSpec) -> int:
    """0 the same cluster, 1 the same zone, 2 the same region, 3 another region of the same residency, 4 elsewhere:
    the failover order. (Tier 3 matters to products without residency: their data stays in its residency while it
    can, before it goes abroad; a pinned product never leaves its residency at all.)"""
    if source.name == target.name:
        return 0
    if source.zone and source.zone == target.zone:
        return 1
    if source.region == target.region:
        return 2
    if source.residency and source.residency == target.residency:
        return 3
    return 4


def service_upstream_name(service: str, zone: str | None) -> str:
    return f"loom-svc-{service}" if zone is None else f"loom-svc-{service}-in-{_slug(zone)}"


def local_service_upstream_name(service: str) -> str:
    return f"loom-local-{service}"


def entry_upstream_name(product: str) -> str:
    return f"loom-entry-{product}"


def failover_authority(upstream: str, cluster: ClusterSpec) -> str:
    """How another cluster addresses a local upstream of ``cluster`` (Gloo's SNI convention ``<name>_<ns>``)."""
    return f"{upstream}_{cluster.namespace}"


# --- the function ---------------------------------------------------------------------------------------------


def route(desired: DesiredState) -> dict[str, ClusterRouting]:
    """The routing model of every cluster of ``desired``, by cluster name."""
    index = _Index(desired)
    return {name: index.cluster_routing(name) for name in sorted(desired.clusters)}


class _Index:
    """What every cluster's model needs from the whole state, computed once."""

    def __init__(self, desired: DesiredState) -> None:
        self.desired = desired
        self.clusters = desired.clusters
        # Which clusters each product is processed in (offered there and inside its residency zone).
        self.processing: dict[str, tuple[str, ...]] = {
            p.name: tuple(c for c in p.clusters if c in self.clusters and _may_process(p, self.clusters[c]))
            for p in desired.products.values()
        }
        # (service, zone) upstreams each cluster needs, and which clusters' local upstreams they fail over to.
        self.needed: dict[str, set[tuple[str, str | None]]] = {c: set() for c in self.clusters}
        for product in desired.products.values():
            for cluster in self.processing[product.name]:
                for service in product.services:
                    self.needed[cluster].add((service, product.residency))
        self.exported: dict[str, set[str]] = {c: set() for c in self.clusters}  # services exported per cluster
        self.gateway_exported: set[str] = set()
        for cluster, pairs in self.needed.items():
            for service, zone in pairs:
                for target in self._deployed_clusters(service, zone):
                    if target != cluster:
                        self.exported[target].add(service)
        for product in desired.products.values():
            for entry in product.clusters:
                self.gateway_exported.update(c for c in self.processing[product.name] if c != entry)

    def _deployed_clusters(self, service: str, zone: str | None) -> list[str]:
        spec = self.desired.services.get(service)
        if spec is None:
            return []
        return [
            d.cluster
            for d in spec.deployments
            if d.cluster in self.clusters and (zone is None or self.clusters[d.cluster].residency == zone)
        ]

    def cluster_routing(self, name: str) -> ClusterRouting:
        cluster = self.clusters[name]
        problems: list[Problem] = []
        upstreams: dict[str, Upstream] = {}
        routes: list[ProductRoute] = []
        gateway_products: list[GatewayProduct] = []

        for product in sorted(self.desired.products.values(), key=lambda p: p.name):
            if name not in product.clusters:
                continue
            for unknown in sorted(set(product.clusters) - set(self.clusters)):
                problems.append(Problem(product.name, f"routing names cluster {unknown!r}, which does not exist"))
            processing = self.processing[product.name]
            if not processing:
                where = f"residency zone {product.residency!r}" if product.residency else "any cluster"
                problems.append(
                    Problem(product.name, f"none of its routing clusters is in {where}, so no gateway may serve it")
                )
                continue
            entry = self._entry_upstream(cluster, product, processing, problems)
            upstreams[entry.name] = entry
            routes.append(
                ProductRoute(
                    product=product.name,
                    prefix=f"/products/{product.name}",
                    upstream=entry.name,
                    processed_here=name in processing,
                    zone=product.residency,
                )
            )
            if name in processing:
                urls: dict[str, str] = {}
                for service_name in product.services:
                    upstream = self._service_upstream(cluster, service_name, product, problems)
                    if upstream is None:
                        continue
                    upstreams.setdefault(upstream.name, upstream)
                    urls[service_name] = f"{cluster.internal_url}{INTERNAL_PREFIX}{upstream.name}{upstream.base_path}"
                gateway_products.append(GatewayProduct(product.name, urls))

        failover_routes: list[FailoverRoute] = []
        for service_name in sorted(self.exported[name]):
            local = self._local_service_upstream(cluster, self.desired.services[service_name])
            upstreams[local.name] = local
            failover_routes.append(FailoverRoute(failover_authority(local.name, cluster), local.name))
        if name in self.gateway_exported:
            local_gateway = self._local_gateway_upstream(cluster)
            upstreams[local_gateway.name] = local_gateway
            failover_routes.append(FailoverRoute(failover_authority(LOCAL_GATEWAY, cluster), LOCAL_GATEWAY))

        ordered = tuple(upstreams[k] for k in sorted(upstreams))
        internal = tuple(InternalRoute(f"{INTERNAL_PREFIX}{u.name}", u.name) for u in ordered if u.role == "service")
        return ClusterRouting(
            cluster=cluster,
            generation=self.desired.generation,
            routes=tuple(routes),
            upstreams=ordered,
            internal_routes=internal,
            failover_routes=tuple(failover_routes),
            gateway_products=tuple(gateway_products),
            problems=tuple(dict.fromkeys(problems)),
        )

    # -- upstreams -------------------------------------------------------------------------------------------

    def _entry_upstream(
        self, cluster: ClusterSpec, product: ProductSpec, processing: Sequence[str], problems: list[Problem]
    ) -> Upstream:
        def endpoint(target: ClusterSpec) -> Endpoint | None:
            if target.name == cluster.name:
                address, tls = target.gateway.endpoint
                return _direct(target, address, tls)
            return self._via_failover(cluster, target, LOCAL_GATEWAY, product.name, problems)

        return Upstream(
            name=entry_upstream_name(product.name),
            role="entry",
            service=None,
            zone=product.residency,
            priorities=self._by_locality(cluster, processing, endpoint),
            base_path="",
            health_path=GATEWAY_HEALTH_PATH,
            traffic=_GATEWAY_TRAFFIC,
        )

    def _service_upstream(
        self, cluster: ClusterSpec, service_name: str, product: ProductSpec, problems: list[Problem]
    ) -> Upstream | None:
        service = self.desired.services.get(service_name)
        if service is None:
            problems.append(Problem(product.name, f"its source service {service_name!r} does not exist"))
            return None
        zone = product.residency
        targets = self._deployed_clusters(service_name, zone)
        if not targets:
            where = f" in residency zone {zone!r}" if zone else ""
            problems.append(Problem(product.name, f"service {service_name!r} has no deployment{where}"))
            return None
        paths = _consistent(service, problems, product.name)
        if paths is None:
            return None
        base_path, health_path = paths
        by_cluster = {d.cluster: d for d in service.deployments}

        def endpoint(target: ClusterSpec) -> Endpoint | None:
            if target.name == cluster.name:
                address, tls = by_cluster[target.name].endpoint
                return _direct(target, address, tls)
            return self._via_failover(
                cluster, target, local_service_upstream_name(service_name), product.name, problems
            )

        return Upstream(
            name=service_upstream_name(service_name, zone),
            role="service",
            service=service_name,
            zone=zone,
            priorities=self._by_locality(cluster, targets, endpoint),
            base_path=base_path,
            health_path=health_path,
            traffic=service.traffic,
        )

    def _local_service_upstream(self, cluster: ClusterSpec, service: ServiceSpec) -> Upstream:
        deployment = next(d for d in service.deployments if d.cluster == cluster.name)
        address, tls = deployment.endpoint
        return Upstream(
            name=local_service_upstream_name(service.name),
            role="local-service",
            service=service.name,
            zone=None,
            priorities=((_direct(cluster, address, tls),),),
            base_path=deployment.base_path,
            health_path=deployment.health_path or service.traffic.health_check.path,
            traffic=service.traffic,
        )

    def _local_gateway_upstream(self, cluster: ClusterSpec) -> Upstream:
        address, tls = cluster.gateway.endpoint
        return Upstream(
            name=LOCAL_GATEWAY,
            role="local-gateway",
            service=None,
            zone=None,
            priorities=((_direct(cluster, address, tls),),),
            base_path="",
            health_path=GATEWAY_HEALTH_PATH,
            traffic=_GATEWAY_TRAFFIC,
        )

    def _via_failover(
        self, source: ClusterSpec, target: ClusterSpec, upstream: str, product: str, problems: list[Problem]
    ) -> Endpoint | None:
        if target.failover_gateway is None:
            problems.append(
                Problem(
                    product,
                    f"cluster {source.name!r} must be able to fail over to cluster {target.name!r}, which has no "
                    "failover gateway: set spec.gloo.failoverGateway on Cluster/" + target.name,
                )
            )
            return None
        return Endpoint(
            cluster=target.name,
            region=target.region,
            zone=target.zone,
            address=target.failover_gateway,
            tls=False,
            authority=failover_authority(upstream, target),
            via_failover=True,
        )

    def _by_locality(
        self,
        source: ClusterSpec,
        targets: Iterable[str],
        endpoint: Callable[[ClusterSpec], Endpoint | None],
    ) -> tuple[tuple[Endpoint, ...], ...]:
        tiers: dict[int, list[Endpoint]] = {}
        for target_name in sorted(set(targets)):
            target = self.clusters[target_name]
            made = endpoint(target)
            if made is not None:
                tiers.setdefault(locality_tier(source, target), []).append(made)
        return tuple(tuple(tiers[t]) for t in sorted(tiers))  # empty tiers are skipped: priorities stay contiguous


def _may_process(product: ProductSpec, cluster: ClusterSpec) -> bool:
    return product.residency is None or cluster.residency == product.residency


def _direct(cluster: ClusterSpec, address: HostPort, tls: bool) -> Endpoint:
    default_port = 443 if tls else 80
    authority = address.host if address.port == default_port else str(address)
    return Endpoint(cluster.name, cluster.region, cluster.zone, address, tls, authority, via_failover=False)


def _consistent(service: ServiceSpec, problems: list[Problem], product: str) -> tuple[str, str] | None:
    """The one base path and health path every deployment of ``service`` shares (Envoy rewrites per route, not per
    endpoint), or None with a problem naming the disagreeing deployments."""
    base_paths = {d.cluster: d.base_path for d in service.deployments}
    health_paths = {d.cluster: d.health_path or service.traffic.health_check.path for d in service.deployments}
    for what, values in (("path", base_paths), ("health check path", health_paths)):
        if len(set(values.values())) > 1:
            listed = ", ".join(f"{c}: {v or '/'}" for c, v in sorted(values.items()))
            problems.append(
                Problem(product, f"the deployments of service {service.name!r} disagree on the {what} ({listed})")
            )
            return None
    return next(iter(base_paths.values()), ""), next(iter(health_paths.values()), service.traffic.health_check.path)


_UNSAFE = re.compile(r"[^a-z0-9]+")


def _slug(value: str) -> str:
    """A DNS-label-safe form of a free-text value; a hash keeps different values apart when characters were lost."""
    slug = _UNSAFE.sub("-", value.lower()).strip("-")
    if slug == value and slug:
        return slug
    return f"{slug[:40]}-{hashlib.sha256(value.encode()).hexdigest()[:6]}".lstrip("-")
