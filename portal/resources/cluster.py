"""Cluster resources: where services run, their residency zone, their Gloo settings and their egress policy."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlmodel import Session, col, select

from portal import manifests as m
from portal.authorization import Actor
from portal.models import Cluster, Product, ProductVersion, Service, ServiceDeployment, Team, TeamPlacement, utcnow
from portal.resources.change import Change
from portal.resources.egress import check_deployment_address
from portal.resources.handler import Names, Pending
from portal.resources.world import World, desired_allow_loopback
from portal.ssrf import RefusedTarget

__all__ = ["ClusterHandler", "cluster_values"]


def cluster_values(resource: m.Cluster) -> dict[str, Any]:
    """The row's columns as the resource wants them."""
    spec = resource.spec
    return {
        "region": spec.region,
        "zone": spec.zone or "",
        "residency": spec.residency,
        "gloo": spec.gloo.model_dump(mode="json", by_alias=True, exclude_none=True),
        "gateway": spec.gateway.model_dump(mode="json", by_alias=True, exclude_none=True) if spec.gateway else {},
        "allow_loopback": desired_allow_loopback(spec),
        "allowed_hosts": list(spec.introspection.allowed_hosts) if spec.introspection else [],
    }


def _check_existing_addresses(session: Session, world: World, doc: m.Document, row: Cluster) -> None:
    """A narrower egress policy must not leave deployments already stored outside it (services applied in the same
    apply are checked against it as they come)."""
    policy = world.policy(doc.name)
    assert policy is not None
    deployments = session.exec(
        select(Service.name, ServiceDeployment.address)
        .join(ServiceDeployment, col(ServiceDeployment.service_id) == col(Service.id))
        .where(ServiceDeployment.cluster_id == row.id, col(ServiceDeployment.address).is_not(None))
        .order_by(col(Service.name))
    ).all()
    for service, address in deployments:
        if ("Service", service) in world.docs or address is None:
            continue
        try:
            check_deployment_address(address, policy, world.resolve)
        except RefusedTarget as exc:
            raise RefusedTarget(
                f"the deployment of service {service!r} in this cluster would be outside the new egress policy: "
                f"{exc.message}; move that deployment first (or apply its new address in the same apply)",
                path=f"{doc.where()}: spec.introspection",
            ) from exc


class ClusterHandler:
    kind: ClassVar[str] = "Cluster"
    action: ClassVar[str] = "cluster.apply"
    row_type: ClassVar[type[Any]] = Cluster

    def read(self, session: Session, row: Any, names: Names) -> m.Resource:
        assert isinstance(row, Cluster)
        return m.Cluster.model_validate(
            {
                "apiVersion": m.API_VERSION,
                "kind": "Cluster",
                "metadata": {"name": row.name},
                "spec": {
                    "region": row.region,
                    "zone": row.zone or None,
                    "residency": row.residency,
                    "gloo": row.gloo,
                    "gateway": row.gateway or None,
                    "introspection": {"allowLoopback": row.allow_loopback, "allowedHosts": list(row.allowed_hosts)},
                },
            }
        )

    def check(self, session: Session, world: World, doc: m.Document) -> Pending:
        assert isinstance(doc.resource, m.Cluster)
        row = world.clusters.get(doc.name)
        if row is None:
            return Pending(doc, Change("Cluster", doc.name, "created"))
        values = cluster_values(doc.resource)
        changed = [key for key, value in values.items() if getattr(row, key) != value]
        if {"allow_loopback", "allowed_hosts"}.intersection(changed):
            _check_existing_addresses(session, world, doc, row)
        return Pending(doc, Change("Cluster", doc.name, "updated" if changed else "unchanged", tuple(changed)))

    def write(self, session: Session, actor: Actor, world: World, item: Pending) -> None:
        resource = item.doc.resource
        assert isinstance(resource, m.Cluster)
        row = world.clusters.get(resource.metadata.name)
        if row is None:
            row = Cluster(name=resource.metadata.name)
            world.clusters[row.name] = row
        for key, value in cluster_values(resource).items():
            setattr(row, key, value)
        row.updated_at = utcnow()
        session.add(row)

    def users(self, session: Session, row: Any) -> list[str]:
        out: list[str] = []
        deployments = session.exec(
            select(Service.name)
            .join(ServiceDeployment, col(ServiceDeployment.service_id) == col(Service.id))
            .where(ServiceDeployment.cluster_id == row.id)
        ).all()
        out += [f"a deployment of service {n!r}" for n in sorted(deployments)]
        teams = session.exec(
            select(Team.name)
            .join(TeamPlacement, col(TeamPlacement.team_id) == col(Team.id))
            .where(TeamPlacement.cluster_id == row.id)
        ).all()
        out += [f"a placement of team {n!r}" for n in sorted(teams)]
        for version in session.exec(select(ProductVersion)).all():
            if row.name in version.routing.get("clusters", []):
                product = session.get(Product, version.product_id)
                out.append(f"the routing of product {product.name if product else '?'!r} {version.version}")
        return out
