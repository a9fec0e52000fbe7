"""Service resources: a team's upstream, its schema (published as immutable versions) and its deployments."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from sqlmodel import Session, col, select

from portal import manifests as m
from portal.authorization import Actor, check_placement
from portal.errors import Forbidden, Invalid
from portal.models import Product, ProductSource, ProductVersion, Service, ServiceDeployment, utcnow
from portal.publishing import latest_version, publish_version, validate_schema
from portal.resources.change import Change
from portal.resources.egress import check_deployment_address
from portal.resources.handler import Names, Pending
from portal.resources.world import World, missing
from portal.ssrf import RefusedTarget
from stitcher.ir import SourceKind

__all__ = ["ServiceHandler", "entities_of"]


def entities_of(resource: m.Service) -> dict[str, Any]:
    """``spec.entities`` as stored (camelCase keys, unset fields left out)."""
    return {k: v.model_dump(mode="json", by_alias=True, exclude_none=True) for k, v in resource.spec.entities.items()}


def _check_egress(world: World, doc: m.Document, path: str, deployment: m.Deployment) -> None:
    policy = world.policy(deployment.cluster)
    assert policy is not None and deployment.address is not None  # the cluster was checked first
    try:
        check_deployment_address(deployment.address, policy, world.resolve)
    except RefusedTarget as exc:
        raise RefusedTarget(
            f"{exc.message} (a deployment address obeys cluster {deployment.cluster!r}'s egress policy, "
            "spec.introspection, set by platform admins)",
            path=f"{doc.where()}: {path}.address",
        ) from exc


def _traffic_of(resource: m.Service) -> dict[str, Any]:
    traffic = resource.spec.traffic
    return traffic.stored() if traffic is not None else {}


def _deployments(items: Iterable[m.Deployment]) -> dict[str, dict[str, Any]]:
    return {d.cluster: d.model_dump(mode="json", by_alias=True, exclude_none=True) for d in items}


def _deployment_dict(row: ServiceDeployment, cluster: str) -> dict[str, Any]:
    out: dict[str, Any] = {"cluster": cluster}
    if row.address is not None:
        out["address"] = row.address
    else:
        out["kube"] = {"service": row.kube_service, "namespace": row.kube_namespace, "port": row.kube_port}
    if row.health_path is not None:
        out["healthCheck"] = {"path": row.health_path}
    return out


class ServiceHandler:
    kind: ClassVar[str] = "Service"
    action: ClassVar[str] = "service.publish"
    row_type: ClassVar[type[Any]] = Service

    def read(self, session: Session, row: Any, names: Names) -> m.Service:
        assert isinstance(row, Service)
        version = latest_version(session, row)
        text = version.schema_text if version is not None else ""
        schema: dict[str, Any] = {"openapi": text} if row.protocol.value == "openapi" else {"sdl": text}
        if version is not None and version.schema_files:
            schema["files"] = dict(version.schema_files)
        deployments = session.exec(
            select(ServiceDeployment).where(ServiceDeployment.service_id == row.id).order_by(col(ServiceDeployment.id))
        ).all()
        return m.Service.model_validate(
            {
                "apiVersion": m.API_VERSION,
                "kind": "Service",
                "metadata": {
                    "name": row.name,
                    "team": names.teams[row.team_id],
                    "description": row.description or None,
                },
                "spec": {
                    "protocol": row.protocol.value,
                    "schema": schema,
                    "entities": dict(row.entities),
                    "deployments": [_deployment_dict(d, names.clusters[d.cluster_id]) for d in deployments],
                    "traffic": row.traffic or None,
                },
            }
        )

    def check(self, session: Session, world: World, doc: m.Document) -> Pending:
        resource = doc.resource
        assert isinstance(resource, m.Service)
        team = resource.metadata.team
        if not world.has("Team", team):
            raise doc.error("metadata.team", missing("Team", team, world.teams))
        row = world.services.get(doc.name)
        if row is not None and world.team_names.get(row.team_id) != team:
            raise doc.error(
                "metadata.team",
                f"service {doc.name!r} belongs to team {world.team_names.get(row.team_id)!r}; a service cannot move "
                "between teams (delete it and create it again)",
            )
        placements = world.placements(session, team)
        seen: set[str] = set()
        for i, deployment in enumerate(resource.spec.deployments):
            path = f"spec.deployments[{i}]"
            if not world.has("Cluster", deployment.cluster):
                raise doc.error(f"{path}.cluster", missing("Cluster", deployment.cluster, world.clusters))
            if deployment.cluster in seen:
                raise doc.error(
                    f"{path}.cluster", f"a second deployment in cluster {deployment.cluster!r}; one per cluster"
                )
            seen.add(deployment.cluster)
            namespace = deployment.kube.namespace if deployment.kube is not None else None
            try:
                check_placement(team, deployment.cluster, namespace, placements)
            except Forbidden as exc:
                field_name = "kube.namespace" if deployment.cluster in placements else "cluster"
                raise Forbidden(exc.message, path=f"{doc.where()}: {path}.{field_name}") from exc
            if deployment.address is not None:
                _check_egress(world, doc, path, deployment)
        schema_source = resource.spec.schema_
        where = schema_source.file or ("introspection" if schema_source.introspect else "inline schema")
        try:
            schema = validate_schema(
                doc.name,
                resource.spec.protocol,
                doc.schema_text or "",
                where=where,
                base_dir=doc.schema_path.parent if doc.schema_path is not None else None,
                files=schema_source.files if schema_source.openapi is not None else None,
            )
        except Invalid as exc:
            raise Invalid(exc.message, path=f"{doc.where()}: spec.schema") from exc
        if row is None:
            return Pending(doc, Change("Service", doc.name, "created", ("version 1",)), schema)
        changed: list[str] = []
        current = latest_version(session, row)
        if current is None or current.schema_hash != schema.hash:
            changed.append(f"version {(current.version + 1) if current else 1}")
        if row.protocol.value != resource.spec.protocol:
            changed.append("protocol")
        if row.description != (resource.metadata.description or ""):
            changed.append("description")
        if dict(row.entities) != entities_of(resource):
            changed.append("entities")
        if dict(row.traffic) != _traffic_of(resource):
            changed.append("traffic")
        teams: dict[int | None, str] = {k: v for k, v in world.team_names.items()}
        names = Names(clusters=world.cluster_names(), teams=teams, services={})
        existing = self.read(session, row, names).spec.deployments
        if _deployments(existing) != _deployments(resource.spec.deployments):
            changed.append("deployments")
        return Pending(doc, Change("Service", doc.name, "updated" if changed else "unchanged", tuple(changed)), schema)

    def write(self, session: Session, actor: Actor, world: World, item: Pending) -> None:
        resource = item.doc.resource
        assert isinstance(resource, m.Service) and item.schema is not None
        team = world.teams[resource.metadata.team]
        row = world.services.get(resource.metadata.name)
        if row is None:
            assert team.id is not None
            row = Service(name=resource.metadata.name, team_id=team.id, protocol=SourceKind(resource.spec.protocol))
            world.services[row.name] = row
        row.protocol = SourceKind(resource.spec.protocol)
        row.description = resource.metadata.description or ""
        row.entities = entities_of(resource)
        row.traffic = _traffic_of(resource)
        row.updated_at = utcnow()
        session.add(row)
        session.flush()
        publish_version(session, row, item.schema, actor=actor.name)
        existing = {
            d.cluster_id: d
            for d in session.exec(select(ServiceDeployment).where(ServiceDeployment.service_id == row.id))
        }
        wanted = {world.clusters[d.cluster].id: d for d in resource.spec.deployments}
        for cluster_id, deployment in existing.items():
            if cluster_id not in wanted:
                session.delete(deployment)
        for wanted_id, spec in wanted.items():
            assert wanted_id is not None and row.id is not None
            deployment = existing.get(wanted_id) or ServiceDeployment(service_id=row.id, cluster_id=wanted_id)
            deployment.kube_service = spec.kube.service if spec.kube else None
            deployment.kube_namespace = spec.kube.namespace if spec.kube else None
            deployment.kube_port = spec.kube.port if spec.kube else None
            deployment.address = spec.address
            deployment.health_path = spec.health_check.path if spec.health_check else None
            deployment.updated_at = utcnow()
            session.add(deployment)

    def users(self, session: Session, row: Any) -> list[str]:
        products = session.exec(
            select(Product.name, ProductVersion.version)
            .join(ProductVersion, col(ProductVersion.product_id) == col(Product.id))
            .join(ProductSource, col(ProductSource.product_version_id) == col(ProductVersion.id))
            .where(ProductSource.service_id == row.id)
        ).all()
        return [f"product {p!r} {v}" for p, v in sorted(set(products))]
