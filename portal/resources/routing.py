"""A product's routing must be servable: checked at apply for every product an apply touches.

* **Residency.** A product pinned to residency ``Z`` is processed only in clusters of ``Z`` that offer it, so at least
  one cluster of ``routing.clusters`` must be in ``Z``.
* **Deployments.** Where a product is processed, each of its services must be reachable: deployed in that cluster,
  or deployed in another cluster (of ``Z`` when pinned) that has a failover gateway to reach it through
  (``spec.gloo.failoverGateway``; the routing model fails over to other clusters only through those). A product
  routed to a cluster where a service has no deployment and no reachable one is refused, with the reason.

Retired versions are not served, so they are not checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from portal import manifests as m
from portal.errors import Invalid
from portal.resources.handler import Pending
from portal.resources.product import current_version, sources_of
from portal.resources.world import World

__all__ = ["check_routing"]


@dataclass(frozen=True, slots=True)
class _Routed:
    name: str
    lifecycle: str
    services: tuple[str, ...]
    clusters: tuple[str, ...]
    residency: str | None
    doc: m.Document | None


def _products(session: Session, world: World, pending: Sequence[Pending]) -> dict[str, _Routed]:
    """Every product's current version after this apply."""
    out: dict[str, _Routed] = {}
    service_names = {s.id: n for n, s in world.services.items()}
    for name, row in world.products.items():
        version = current_version(session, row)
        if version is not None:
            out[name] = _Routed(
                name,
                version.lifecycle.value,
                tuple(s["service"] for s in sources_of(session, version, service_names)),
                tuple(version.routing.get("clusters") or ()),
                version.routing.get("residency") or None,
                None,
            )
    for item in pending:
        resource = item.doc.resource
        if isinstance(resource, m.Product):
            spec = resource.spec
            out[item.doc.name] = _Routed(
                item.doc.name,
                spec.lifecycle,
                tuple(s.service for s in spec.sources),
                tuple(spec.routing.clusters),
                spec.routing.residency,
                item.doc,
            )
    return out


def _failover_clusters(world: World) -> set[str]:
    """Clusters (after this apply) with a failover gateway, through which other clusters reach their services."""
    out = {name for name, row in world.clusters.items() if (row.gloo or {}).get("failoverGateway")}
    for (kind, name), doc in world.docs.items():
        if kind == "Cluster" and isinstance(doc.resource, m.Cluster):
            if doc.resource.spec.gloo.failover_gateway is not None:
                out.add(name)
            else:
                out.discard(name)
    return out


def check_routing(session: Session, world: World, pending: Sequence[Pending]) -> None:
    """Refuse (``Invalid``, naming the product, the cluster and the service) a routing that cannot be served."""
    changed = [p for p in pending if p.change.action != "unchanged"]
    touched = {(p.doc.kind, p.doc.name) for p in changed}
    if not touched:
        return
    clusters_touched = any(kind == "Cluster" for kind, _name in touched)  # a residency or failover gateway moved
    residencies = world.residencies()
    failover = _failover_clusters(world)
    deployed: dict[str, set[str]] = {}
    for product in sorted(_products(session, world, pending).values(), key=lambda p: p.name):
        if product.lifecycle == "retired":
            continue
        if not (
            clusters_touched
            or ("Product", product.name) in touched
            or any(("Service", s) in touched for s in product.services)
        ):
            continue
        for service in product.services:
            if service not in deployed:
                deployed[service] = world.deployed_in(session, service)
        _check_product(product, residencies, failover, deployed)


def _refuse(product: _Routed, field: str, message: str) -> Invalid:
    if product.doc is not None:
        return product.doc.error(field, message)
    return Invalid(f"product {product.name!r}: {message}")


def _check_product(
    product: _Routed, residencies: dict[str, str], failover: set[str], deployed: dict[str, set[str]]
) -> None:
    zone = product.residency
    if zone is not None and product.clusters:
        processing = [c for c in product.clusters if residencies.get(c) == zone]
        if not processing:
            routed = ", ".join(f"{c} ({residencies.get(c, '?')})" for c in product.clusters)
            raise _refuse(
                product,
                "spec.routing.residency",
                f"residency {zone!r} is in none of the routed clusters ({routed}), so no cluster could process the "
                f"product; route it to a cluster of residency {zone!r}",
            )
    else:
        processing = list(product.clusters)
    for index, service in enumerate(product.services):
        clusters = deployed[service]
        candidates = sorted(c for c in clusters if zone is None or residencies.get(c) == zone)
        if not candidates:
            where = f" in residency zone {zone!r}" if zone else ""
            if not product.clusters:
                continue  # routed nowhere: nothing serves it yet
            raise _refuse(
                product,
                f"spec.sources[{index}].service",
                f"service {service!r} has no deployment{where}; deploy it there before routing the product",
            )
        for cluster in processing:
            if cluster in clusters:
                continue
            if any(c in failover for c in candidates):
                continue  # reached through another cluster's failover gateway
            position = product.clusters.index(cluster)
            raise _refuse(
                product,
                f"spec.routing.clusters[{position}]",
                f"the product is routed to cluster {cluster!r}, where service {service!r} has no deployment, and "
                f"no cluster that has one ({', '.join(candidates)}) has a failover gateway to reach it through; "
                f"deploy {service!r} in {cluster!r} or give one of those clusters spec.gloo.failoverGateway",
            )
