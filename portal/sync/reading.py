"""The one desired-state reader: the portal's database (or resource files) as :class:`DesiredState`.

The sync worker, ``loom render`` (files, no database) and the gateway snapshot's per-cluster view all route from
what these functions read, so they cannot disagree about which products are served where.

* Clusters: every cluster, with its Gloo settings as written (``spec.gloo``: target, namespace, kubeContext,
  failoverGateway, and ``proxy`` for local-envoy clusters) and where its gateway runs (``spec.gateway``).
* Services: every service with its deployments and its traffic overrides (``spec.traffic``).
* Products: those whose current version is published or deprecated (what gateways serve), with the services of that
  version and its routing (``routing.clusters``, ``routing.residency``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, col, select

from portal.models import (
    Cluster,
    ConfigGeneration,
    Lifecycle,
    Product,
    ProductSource,
    ProductVersion,
    Service,
    ServiceDeployment,
)
from portal.sync.desired import (
    ClusterSpec,
    DeploymentSpec,
    DesiredState,
    GatewayLocation,
    ProductSpec,
    ProxySpec,
    ServiceSpec,
    TargetKind,
    host_port,
    traffic_policy,
)

__all__ = ["SERVED_LIFECYCLES", "cluster_spec", "from_session", "gateway_location", "served_products"]

SERVED_LIFECYCLES = (Lifecycle.PUBLISHED, Lifecycle.DEPRECATED)


def from_session(session: Session) -> DesiredState:
    """Everything the sync worker routes, read in one transaction."""
    clusters = session.exec(select(Cluster).order_by(col(Cluster.name))).all()
    cluster_names = {c.id: c.name for c in clusters}
    services = session.exec(select(Service).order_by(col(Service.name))).all()
    service_names = {s.id: s.name for s in services}
    deployments: dict[int | None, list[DeploymentSpec]] = {}
    for row in session.exec(select(ServiceDeployment).order_by(col(ServiceDeployment.id))).all():
        deployments.setdefault(row.service_id, []).append(
            DeploymentSpec(
                cluster=cluster_names[row.cluster_id],
                address=row.address,
                kube_service=row.kube_service,
                kube_namespace=row.kube_namespace,
                kube_port=row.kube_port,
                health_path=row.health_path,
            )
        )
    served = served_products(session)
    sources: dict[int, list[str]] = {}
    version_ids = [version.id for _product, version in served]
    if version_ids:  # one query for every served version's sources, in position order
        for source in session.exec(
            select(ProductSource)
            .where(col(ProductSource.product_version_id).in_(version_ids))
            .order_by(col(ProductSource.product_version_id), col(ProductSource.position))
        ).all():
            sources.setdefault(source.product_version_id, []).append(service_names[source.service_id])
    products: dict[str, ProductSpec] = {}
    for product, version in served:
        routing = version.routing or {}
        products[product.name] = ProductSpec(
            name=product.name,
            services=tuple(sources.get(version.id or 0, ())),
            clusters=tuple(routing.get("clusters") or ()),
            residency=routing.get("residency") or None,
        )
    generation = session.get(ConfigGeneration, 1)
    return DesiredState(
        clusters={c.name: cluster_spec(c.name, c.region, c.zone, c.residency, c.gloo, c.gateway) for c in clusters},
        services={
            s.name: ServiceSpec(s.name, tuple(deployments.get(s.id, ())), traffic_policy(s.traffic)) for s in services
        },
        products=products,
        generation=generation.generation if generation is not None else 0,
    )


def served_products(session: Session) -> list[tuple[Product, ProductVersion]]:
    """Products whose current version gateways serve (published or deprecated), by name."""
    rows = session.exec(
        select(Product, ProductVersion)
        .join(ProductVersion, col(ProductVersion.product_id) == col(Product.id))
        .where(
            col(ProductVersion.version) == col(Product.current_version),
            col(ProductVersion.lifecycle).in_(SERVED_LIFECYCLES),
        )
        .order_by(col(Product.name))
    ).all()
    return [(product, version) for product, version in rows]


def cluster_spec(
    name: str,
    region: str,
    zone: str | None,
    residency: str,
    gloo: Mapping[str, Any],
    gateway: Mapping[str, Any] | None,
) -> ClusterSpec:
    """A cluster from its resource's values (``spec.gloo`` and ``spec.gateway`` as written, camelCase keys)."""
    failover = gloo.get("failoverGateway")
    proxy = gloo.get("proxy")
    target: TargetKind = gloo.get("target", "gitops")
    return ClusterSpec(
        name=name,
        region=region,
        zone=zone or "",
        residency=residency,
        target=target,
        namespace=gloo.get("namespace") or "gloo-system",
        kube_context=gloo.get("kubeContext"),
        failover_gateway=None if not failover else host_port(f"{failover['host']}:{failover['port']}"),
        gateway=gateway_location(gateway or {}),
        proxy=None
        if not proxy
        else ProxySpec(host_port(proxy["listener"]), host_port(proxy["internal"]), host_port(proxy["admin"])),
    )


def gateway_location(gateway: Mapping[str, Any]) -> GatewayLocation:
    """``spec.gateway``: ``{"address": URL}`` or ``{"kube": {service, namespace, port}}``; empty: the defaults."""
    if gateway.get("address"):
        return GatewayLocation(address=str(gateway["address"]))
    kube = gateway.get("kube") or {}
    defaults = GatewayLocation()
    return GatewayLocation(
        kube_service=kube.get("service", defaults.kube_service),
        kube_namespace=kube.get("namespace", defaults.kube_namespace),
        kube_port=int(kube.get("port", defaults.kube_port)),
    )
