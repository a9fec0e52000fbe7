"""Declarative resources: ``apply``, ``get`` and ``delete`` for Cluster, Team, Service, Product and Plan.

The admin API, ``loom apply`` and the web UI all go through these functions, so the same validation,
authorization and audit run whichever way a change comes in.

``apply`` works in two phases. First every document is authorized and validated against the database *and* the
other documents of the same apply (references, team placements, residency, lifecycle and version rules, schemas,
and the composition of published products). Only when all are valid is anything written, all in the caller's one
transaction. One bad document means nothing changes, with an error that names the file, the document and the field
path. ``get`` prints resources in the shape ``apply`` reads, so applying its output changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml
from sqlmodel import Session, col, select

from portal import manifests as m
from portal.audit import audit_scope, denials_audited, record, record_denied
from portal.authorization import Actor, Target, authorize, check_placement
from portal.composer import (
    CompositionFailed,
    compose_specs,
    composition_available,
    print_product,
    source_spec,
    stored_source_spec,
)
from portal.db import bump_generation
from portal.errors import Conflict, Forbidden, Invalid, LoomError, NotFound, Unauthenticated
from portal.models import (
    Cluster,
    Lifecycle,
    Plan,
    Product,
    ProductPlan,
    ProductSource,
    ProductVersion,
    Service,
    ServiceDeployment,
    ServiceVersion,
    Subscription,
    SubscriptionState,
    Team,
    TeamPlacement,
    utcnow,
)
from portal.publishing import ValidatedSchema, latest_version, publish_version, validate_schema
from portal.ssrf import EgressPolicy, introspect
from stitcher.ir import SourceKind

__all__ = [
    "ACTIONS",
    "Change",
    "apply",
    "apply_command",
    "apply_json",
    "canonical_kind",
    "delete",
    "delete_command",
    "get",
    "get_command",
    "render",
]

ACTIONS: Mapping[str, str] = {
    "Cluster": "cluster.apply",
    "Team": "team.apply",
    "Plan": "plan.apply",
    "Service": "service.publish",
    "Product": "product.apply",
}
_ORDER = {kind: i for i, kind in enumerate(m.KIND_ORDER)}
_PER_SECONDS: dict[str, int] = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_SECONDS_PER = {v: k for k, v in _PER_SECONDS.items()}
# Lifecycle moves a version may make; anything else is refused (a retired version stays retired).
_LIFECYCLE: dict[str, frozenset[str]] = {
    "draft": frozenset({"draft", "published", "retired"}),
    "published": frozenset({"published", "deprecated", "retired"}),
    "deprecated": frozenset({"deprecated", "published", "retired"}),
    "retired": frozenset({"retired"}),
}
_LIVE = (Lifecycle.PUBLISHED, Lifecycle.DEPRECATED)

ChangeAction = Literal["created", "updated", "unchanged", "deleted"]


@dataclass(frozen=True, slots=True)
class Change:
    """What ``apply`` did (or, in a dry run, would do) to one resource."""

    kind: str
    name: str
    action: ChangeAction
    details: tuple[str, ...] = ()

    def line(self, *, dry_run: bool = False) -> str:
        text = f"{self.kind.lower()}/{self.name} {self.action}"
        if self.details:
            text += f" ({'; '.join(self.details)})"
        return text + (" (dry run)" if dry_run and self.action != "unchanged" else "")

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "action": self.action, "details": list(self.details)}


# --- reading the current state ---------------------------------------------------------------------------------


def _by_name(session: Session, model: Any) -> dict[str, Any]:
    return {row.name: row for row in session.exec(select(model)).all()}


@dataclass
class _World:
    """The database's rows by name, and what this apply will make of them (for reference checks)."""

    clusters: dict[str, Cluster]
    teams: dict[str, Team]
    services: dict[str, Service]
    products: dict[str, Product]
    plans: dict[str, Plan]
    team_names: dict[int, str]
    docs: dict[tuple[str, str], m.Document] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, documents: Sequence[m.Document]) -> _World:
        teams = _by_name(session, Team)
        return cls(
            clusters=_by_name(session, Cluster),
            teams=teams,
            services=_by_name(session, Service),
            products=_by_name(session, Product),
            plans=_by_name(session, Plan),
            team_names={t.id: t.name for t in teams.values()},
            docs={(d.kind, d.name): d for d in documents},
        )

    def has(self, kind: str, name: str) -> bool:
        tables: dict[str, Mapping[str, Any]] = {
            "Cluster": self.clusters,
            "Team": self.teams,
            "Service": self.services,
            "Plan": self.plans,
        }
        rows = tables[kind]
        return name in rows or (kind, name) in self.docs

    def residencies(self) -> dict[str, str]:
        """Cluster name -> residency, after this apply."""
        out = {name: row.residency for name, row in self.clusters.items()}
        for (kind, name), doc in self.docs.items():
            if kind == "Cluster" and isinstance(doc.resource, m.Cluster):
                out[name] = doc.resource.spec.residency
        return out

    def placements(self, session: Session, team: str) -> dict[str, list[str]]:
        doc = self.docs.get(("Team", team))
        if doc is not None and isinstance(doc.resource, m.Team):
            return {p.cluster: list(p.namespaces) for p in doc.resource.spec.placements}
        row = self.teams.get(team)
        if row is None:
            return {}
        return _placements_of(session, row, {c.id: n for n, c in self.clusters.items()})


def _placements_of(session: Session, team: Team, cluster_names: Mapping[int | None, str]) -> dict[str, list[str]]:
    rows = session.exec(select(TeamPlacement).where(TeamPlacement.team_id == team.id)).all()
    return {cluster_names[p.cluster_id]: list(p.namespaces) for p in rows if p.cluster_id in cluster_names}


def _owner_team(world: _World, resource: m.Resource) -> str | None:
    if isinstance(resource, m.Service | m.Product):
        return resource.metadata.team
    if isinstance(resource, m.Team):
        return resource.metadata.name
    return None


# --- resources from rows (what `get` prints; `apply` compares against it) ----------------------------------------


def _cluster_resource(row: Cluster) -> m.Cluster:
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
                "introspection": {"allowLoopback": row.allow_loopback, "allowedHosts": list(row.allowed_hosts)},
            },
        }
    )


def _team_resource(session: Session, row: Team, cluster_names: Mapping[int | None, str]) -> m.Team:
    placements = _placements_of(session, row, cluster_names)
    return m.Team.model_validate(
        {
            "apiVersion": m.API_VERSION,
            "kind": "Team",
            "metadata": {"name": row.name, "description": row.description or None},
            "spec": {"placements": [{"cluster": c, "namespaces": n} for c, n in sorted(placements.items())]},
        }
    )


def _plan_resource(row: Plan) -> m.Plan:
    per = _SECONDS_PER.get(row.rate_limit_per_seconds)
    requests = row.rate_limit_requests
    if per is None:  # a limit set elsewhere over an odd window: express it per second, never more permissive
        per, requests = "second", max(1, requests // row.rate_limit_per_seconds)
    return m.Plan.model_validate(
        {
            "apiVersion": m.API_VERSION,
            "kind": "Plan",
            "metadata": {"name": row.name, "description": row.description or None},
            "spec": {
                "rateLimit": {"requests": requests, "per": per},
                "auth": list(row.auth_kinds),
                "approval": "automatic" if row.auto_approve else "manual",
            },
        }
    )


def _deployment_dict(row: ServiceDeployment, cluster: str) -> dict[str, Any]:
    out: dict[str, Any] = {"cluster": cluster}
    if row.address is not None:
        out["address"] = row.address
    else:
        out["kube"] = {"service": row.kube_service, "namespace": row.kube_namespace, "port": row.kube_port}
    if row.health_path is not None:
        out["healthCheck"] = {"path": row.health_path}
    return out


def _service_resource(session: Session, row: Service, team: str, cluster_names: Mapping[int | None, str]) -> m.Service:
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
            "metadata": {"name": row.name, "team": team, "description": row.description or None},
            "spec": {
                "protocol": row.protocol.value,
                "schema": schema,
                "entities": dict(row.entities),
                "deployments": [_deployment_dict(d, cluster_names[d.cluster_id]) for d in deployments],
            },
        }
    )


def _current_version(session: Session, row: Product) -> ProductVersion | None:
    if row.current_version is None:
        return None
    return session.exec(
        select(ProductVersion).where(ProductVersion.product_id == row.id, ProductVersion.version == row.current_version)
    ).first()


def _sources_of(
    session: Session, version: ProductVersion, service_names: Mapping[int | None, str]
) -> list[dict[str, Any]]:
    rows = session.exec(
        select(ProductSource)
        .where(ProductSource.product_version_id == version.id)
        .order_by(col(ProductSource.position))
    ).all()
    return [{"service": service_names[r.service_id], **r.transforms} for r in rows]


def _plans_of(session: Session, row: Product) -> list[str]:
    names = session.exec(
        select(Plan.name)
        .join(ProductPlan, col(ProductPlan.plan_id) == col(Plan.id))
        .where(ProductPlan.product_id == row.id)
    ).all()
    return sorted(names)


def _product_resource(session: Session, row: Product, team: str, service_names: Mapping[int | None, str]) -> m.Product:
    version = _current_version(session, row)
    if version is None:
        raise NotFound(f"product {row.name!r} has no version yet")
    return m.Product.model_validate(
        {
            "apiVersion": m.API_VERSION,
            "kind": "Product",
            "metadata": {"name": row.name, "team": team, "description": row.description or None},
            "spec": {
                "version": version.version,
                "lifecycle": version.lifecycle.value,
                "sources": _sources_of(session, version, service_names),
                "rest": list(version.rest),
                "routing": {
                    "clusters": list(version.routing.get("clusters", [])),
                    "residency": version.routing.get("residency"),
                },
                "plans": _plans_of(session, row),
            },
        }
    )


# --- normalised views for comparison -------------------------------------------------------------------------------


def _desired_allow_loopback(spec: m.ClusterSpec) -> bool:
    policy = spec.introspection
    if policy is not None and policy.allow_loopback is not None:
        return policy.allow_loopback
    return spec.gloo.target == "local-envoy"  # the embedded demo's services live on 127.0.0.1


def _cluster_values(resource: m.Cluster) -> dict[str, Any]:
    spec = resource.spec
    return {
        "region": spec.region,
        "zone": spec.zone or "",
        "residency": spec.residency,
        "gloo": spec.gloo.model_dump(mode="json", by_alias=True, exclude_none=True),
        "allow_loopback": _desired_allow_loopback(spec),
        "allowed_hosts": list(spec.introspection.allowed_hosts) if spec.introspection else [],
    }


def _plan_values(resource: m.Plan) -> dict[str, Any]:
    spec = resource.spec
    return {
        "description": resource.metadata.description or "",
        "rate_limit_requests": spec.rate_limit.requests,
        "rate_limit_per_seconds": _PER_SECONDS[spec.rate_limit.per],
        "auth_kinds": list(spec.auth),
        "auto_approve": spec.approval == "automatic",
    }


def _diff(row: Any, values: Mapping[str, Any]) -> list[str]:
    return [key for key, value in values.items() if getattr(row, key) != value]


def _version_key(version: str) -> tuple[int, int, int, int, str]:
    match = re.match(r"^(\d+)\.(\d+)\.(\d+)(?:-([^+]+))?", version)
    if match is None:
        return (0, 0, 0, 0, version)
    major, minor, patch, pre = match.groups()
    # A release sorts after its pre-releases.
    return (int(major), int(minor), int(patch), 0 if pre else 1, pre or "")


# --- the apply --------------------------------------------------------------------------------------------------


@dataclass
class _Pending:
    """One document's validated intent, computed in the check phase and carried out in the write phase."""

    doc: m.Document
    change: Change
    schema: ValidatedSchema | None = None


def _authorize(session: Session, actor: Actor, action: str, target: Target, doc: m.Document | None) -> None:
    try:
        authorize(actor, action, target)
    except (Forbidden, Unauthenticated) as exc:
        record_denied(session, actor, action, target.kind, target.name, reason=exc.message)
        if doc is not None:
            raise type(exc)(exc.message, path=doc.where()) from exc
        raise


def apply(
    session: Session,
    actor: Actor,
    documents: Sequence[m.Document],
    *,
    dry_run: bool = False,
    force: bool = False,
) -> list[Change]:
    """Validate every document, then write them all in ``session``'s transaction (the caller commits).

    Returns one :class:`Change` per document (created, updated or unchanged). With ``dry_run`` nothing is written.
    ``force`` lets a team admin of a published product (or a platform admin) publish a change that breaks its
    composition; the forced publish is audited. Raises :class:`LoomError` subclasses naming the document and field.

    Every refusal is audited here, whichever channel called (the API, ``loom apply``, the UI): authorization and a
    forced publish in ``_authorize``, a team placement per document, anything else under ``resources.apply``.
    """
    with denials_audited(session, actor, "resources.apply", "resource"):
        return _apply(session, actor, documents, dry_run=dry_run, force=force)


def _apply(
    session: Session, actor: Actor, documents: Sequence[m.Document], *, dry_run: bool, force: bool
) -> list[Change]:
    _check_duplicates(documents)
    ordered = sorted(documents, key=lambda d: _ORDER[d.kind])
    world = _World.load(session, ordered)
    # Authorization first: a caller who may not change a resource learns nothing else about it.
    for doc in ordered:
        _authorize_document(session, actor, world, doc)
    ordered = _introspected(world, ordered)  # only after authorization: no fetch on behalf of a stranger
    world.docs = {(d.kind, d.name): d for d in ordered}
    pending: list[_Pending] = []
    for doc in ordered:
        # A placement refusal is a denial of this document's action (the same for every actor, an admin included).
        with denials_audited(session, actor, ACTIONS[doc.kind], doc.kind.lower(), doc.name):
            pending.append(_check(session, world, doc))
    forced = _check_compositions(session, actor, world, pending, force=force)
    if dry_run:
        return [p.change for p in pending]
    for item in pending:
        if item.change.action != "unchanged":
            _write(session, actor, world, item)
            record(
                session,
                actor,
                ACTIONS[item.doc.kind],
                item.doc.kind.lower(),
                item.doc.name,
                {"change": item.change.action, "details": list(item.change.details)},
            )
    for product, conflicts in forced:
        record(session, actor, "service.publish.force", "product", product, {"conflicts": conflicts})
    if any(p.change.action != "unchanged" for p in pending):
        _recompose(session, world)
        bump_generation(session)
    session.flush()
    return [p.change for p in pending]


def _introspected(world: _World, documents: list[m.Document]) -> list[m.Document]:
    """Documents whose Service schema says ``introspect``, with the schema fetched through the SSRF guard."""
    jobs = [
        d for d in documents if isinstance(d.resource, m.Service) and d.resource.spec.schema_.introspect is not None
    ]
    if not jobs:
        return documents
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise Invalid("schema.introspect needs apply to run outside the event loop (call it in a worker thread)")
    fetched = asyncio.run(_fetch_schemas(world, jobs))
    return [fetched.get((d.kind, d.name), d) for d in documents]


async def _fetch_schemas(world: _World, jobs: Sequence[m.Document]) -> dict[tuple[str, str], m.Document]:
    import httpx

    out: dict[tuple[str, str], m.Document] = {}
    async with httpx.AsyncClient(timeout=10.0, follow_redirects=False) as client:
        for doc in jobs:
            resource = doc.resource
            assert isinstance(resource, m.Service) and resource.spec.schema_.introspect is not None
            wanted = resource.spec.schema_.introspect
            field_path = "spec.schema.introspect"
            deployment = next((d for d in resource.spec.deployments if d.cluster == wanted.cluster), None)
            if deployment is None:
                raise doc.error(
                    f"{field_path}.cluster",
                    f"the service has no deployment in cluster {wanted.cluster!r} to introspect; add one or name "
                    "another cluster",
                )
            if deployment.address is not None:
                url = deployment.address.rstrip("/") + wanted.path
            else:
                assert deployment.kube is not None
                kube = deployment.kube
                url = f"http://{kube.service}.{kube.namespace}.svc.cluster.local:{kube.port}{wanted.path}"
            policy = _policy(world, wanted.cluster)
            if policy is None:
                raise doc.error(f"{field_path}.cluster", _missing("Cluster", wanted.cluster, world.clusters))
            try:
                text = await introspect(url, client=client, policy=policy, protocol=resource.spec.protocol)
            except Invalid as exc:
                raise type(exc)(exc.message, path=f"{doc.where()}: {field_path}") from exc
            out[(doc.kind, doc.name)] = dataclasses.replace(doc, schema_text=text)
    return out


def _policy(world: _World, cluster: str) -> EgressPolicy | None:
    doc = world.docs.get(("Cluster", cluster))
    if doc is not None and isinstance(doc.resource, m.Cluster):
        spec = doc.resource.spec
        hosts = spec.introspection.allowed_hosts if spec.introspection else []
        return EgressPolicy.from_hosts(allow_loopback=_desired_allow_loopback(spec), allowed_hosts=hosts)
    row = world.clusters.get(cluster)
    return EgressPolicy.for_cluster(row) if row is not None else None


def _check_duplicates(documents: Sequence[m.Document]) -> None:
    seen: dict[tuple[str, str], m.Document] = {}
    for doc in documents:
        key = (doc.kind, doc.name)
        if key in seen:
            raise doc.error("metadata.name", f"duplicate {doc.kind} {doc.name!r}; already in {seen[key].where()}")
        seen[key] = doc


def _authorize_document(session: Session, actor: Actor, world: _World, doc: m.Document) -> None:
    resource = doc.resource
    team = _owner_team(world, resource)
    target = Target(kind=doc.kind.lower(), name=doc.name, team=team)
    _authorize(session, actor, ACTIONS[doc.kind], target, doc)
    # Changing a team's resource needs rights in the team that owns it now, not only in the one it names.
    existing: Service | Product | None = None
    if isinstance(resource, m.Service):
        existing = world.services.get(doc.name)
    elif isinstance(resource, m.Product):
        existing = world.products.get(doc.name)
    if existing is not None:
        owner = world.team_names.get(existing.team_id)
        if owner != team:
            _authorize(session, actor, ACTIONS[doc.kind], Target(kind=doc.kind.lower(), name=doc.name, team=owner), doc)


def _check(session: Session, world: _World, doc: m.Document) -> _Pending:
    resource = doc.resource
    if isinstance(resource, m.Cluster):
        return _check_cluster(world, doc, resource)
    if isinstance(resource, m.Team):
        return _check_team(session, world, doc, resource)
    if isinstance(resource, m.Plan):
        return _check_plan(world, doc, resource)
    if isinstance(resource, m.Service):
        return _check_service(session, world, doc, resource)
    assert isinstance(resource, m.Product)
    return _check_product(session, world, doc, resource)


def _check_cluster(world: _World, doc: m.Document, resource: m.Cluster) -> _Pending:
    row = world.clusters.get(doc.name)
    if row is None:
        return _Pending(doc, Change("Cluster", doc.name, "created"))
    changed = _diff(row, _cluster_values(resource))
    return _Pending(doc, Change("Cluster", doc.name, "updated" if changed else "unchanged", tuple(changed)))


def _check_team(session: Session, world: _World, doc: m.Document, resource: m.Team) -> _Pending:
    seen: set[str] = set()
    for i, placement in enumerate(resource.spec.placements):
        if not world.has("Cluster", placement.cluster):
            raise doc.error(f"spec.placements[{i}].cluster", _missing("Cluster", placement.cluster, world.clusters))
        if placement.cluster in seen:
            raise doc.error(f"spec.placements[{i}].cluster", f"cluster {placement.cluster!r} is listed twice")
        seen.add(placement.cluster)
    row = world.teams.get(doc.name)
    if row is None:
        return _Pending(doc, Change("Team", doc.name, "created"))
    changed = []
    if row.description != (resource.metadata.description or ""):
        changed.append("description")
    current = _placements_of(session, row, {c.id: n for n, c in world.clusters.items()})
    if current != {p.cluster: list(p.namespaces) for p in resource.spec.placements}:
        changed.append("placements")
    return _Pending(doc, Change("Team", doc.name, "updated" if changed else "unchanged", tuple(changed)))


def _check_plan(world: _World, doc: m.Document, resource: m.Plan) -> _Pending:
    row = world.plans.get(doc.name)
    if row is None:
        return _Pending(doc, Change("Plan", doc.name, "created"))
    changed = _diff(row, _plan_values(resource))
    return _Pending(doc, Change("Plan", doc.name, "updated" if changed else "unchanged", tuple(changed)))


def _missing(kind: str, name: str, existing: Mapping[str, Any]) -> str:
    known = ", ".join(sorted(existing)) or "none yet"
    return f"{kind} {name!r} does not exist (existing: {known}); create it first or in the same apply"


def _check_service(session: Session, world: _World, doc: m.Document, resource: m.Service) -> _Pending:
    team = resource.metadata.team
    if not world.has("Team", team):
        raise doc.error("metadata.team", _missing("Team", team, world.teams))
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
            raise doc.error(f"{path}.cluster", _missing("Cluster", deployment.cluster, world.clusters))
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
        return _Pending(doc, Change("Service", doc.name, "created", ("version 1",)), schema)
    changed: list[str] = []
    current = latest_version(session, row)
    if current is None or current.schema_hash != schema.hash:
        changed.append(f"version {(current.version + 1) if current else 1}")
    if row.protocol.value != resource.spec.protocol:
        changed.append("protocol")
    if row.description != (resource.metadata.description or ""):
        changed.append("description")
    if dict(row.entities) != _entities(resource):
        changed.append("entities")
    cluster_names = {c.id: n for n, c in world.clusters.items()}
    existing = _service_resource(session, row, team, cluster_names).spec.deployments
    if _deployments(existing) != _deployments(resource.spec.deployments):
        changed.append("deployments")
    return _Pending(doc, Change("Service", doc.name, "updated" if changed else "unchanged", tuple(changed)), schema)


def _entities(resource: m.Service) -> dict[str, Any]:
    return {k: v.model_dump(mode="json", by_alias=True, exclude_none=True) for k, v in resource.spec.entities.items()}


def _deployments(items: Iterable[m.Deployment]) -> dict[str, dict[str, Any]]:
    return {d.cluster: d.model_dump(mode="json", by_alias=True, exclude_none=True) for d in items}


_FIXED_WHAT = {"sources": "sources", "rest": "REST routes"}  # what a published version keeps, said in words


def _product_version_values(resource: m.Product) -> dict[str, Any]:
    spec = resource.spec
    return {
        "routing": {"clusters": list(spec.routing.clusters), "residency": spec.routing.residency},
        "rest": [r.model_dump(mode="json", by_alias=True) for r in spec.rest],
        "sources": [_source_dict(s) for s in spec.sources],
    }


def _source_dict(source: m.SourceRef) -> dict[str, Any]:
    return {"service": source.service, **_transforms(source)}


def _transforms(source: m.SourceRef) -> dict[str, Any]:
    return source.model_dump(mode="json", by_alias=True, exclude_defaults=True, exclude_none=True, exclude={"service"})


def _check_product(session: Session, world: _World, doc: m.Document, resource: m.Product) -> _Pending:
    spec = resource.spec
    team = resource.metadata.team
    if not world.has("Team", team):
        raise doc.error("metadata.team", _missing("Team", team, world.teams))
    for i, source in enumerate(spec.sources):
        if not world.has("Service", source.service):
            raise doc.error(f"spec.sources[{i}].service", _missing("Service", source.service, world.services))
    for i, plan in enumerate(spec.plans):
        if not world.has("Plan", plan):
            raise doc.error(f"spec.plans[{i}]", _missing("Plan", plan, world.plans))
    residencies = world.residencies()
    for i, cluster in enumerate(spec.routing.clusters):
        if cluster not in residencies:
            raise doc.error(f"spec.routing.clusters[{i}]", _missing("Cluster", cluster, world.clusters))
    residency = spec.routing.residency
    if residency is not None and residency not in residencies.values():
        zones = ", ".join(sorted(set(residencies.values()))) or "none"
        raise doc.error(
            "spec.routing.residency",
            f"no cluster has residency {residency!r} (residencies of the clusters: {zones}); a product's data "
            "must be processed somewhere in its zone",
        )
    row = world.products.get(doc.name)
    if row is not None and world.team_names.get(row.team_id) != team:
        raise doc.error(
            "metadata.team",
            f"product {doc.name!r} belongs to team {world.team_names.get(row.team_id)!r}; a product cannot move "
            "between teams",
        )
    if row is None:
        return _Pending(doc, Change("Product", doc.name, "created", (f"version {spec.version}",)))
    versions = session.exec(select(ProductVersion).where(ProductVersion.product_id == row.id)).all()
    same = next((v for v in versions if v.version == spec.version), None)
    changed: list[str] = []
    if same is None:
        newest = max((v.version for v in versions), key=_version_key, default=None)
        if newest is not None and _version_key(spec.version) <= _version_key(newest):
            raise doc.error(
                "spec.version", f"version {spec.version} is older than the newest version {newest}; use a newer one"
            )
        changed.append(f"version {spec.version}")
    else:
        old = same.lifecycle.value
        if spec.lifecycle not in _LIFECYCLE[old]:
            allowed = ", ".join(sorted(_LIFECYCLE[old]))
            raise doc.error(
                "spec.lifecycle",
                f"version {spec.version} is {old} and cannot become {spec.lifecycle} (allowed: {allowed}); "
                "publish a new version instead",
            )
        if spec.lifecycle != old:
            changed.append(f"lifecycle {old} -> {spec.lifecycle}")
        service_names = {s.id: n for n, s in world.services.items()}
        current = {
            "routing": {"clusters": list(same.routing.get("clusters", [])), "residency": same.routing.get("residency")},
            "rest": list(same.rest),
            "sources": _sources_of(session, same, service_names),
        }
        desired = _product_version_values(resource)
        for key in ("sources", "rest"):
            if current[key] != desired[key]:
                if old != "draft":
                    raise doc.error(
                        f"spec.{key}",
                        f"version {spec.version} is {old}, so its {_FIXED_WHAT[key]} are fixed; bump spec.version "
                        "to change them",
                    )
                changed.append(key)
        if current["routing"] != desired["routing"]:
            changed.append("routing")
        if row.current_version != spec.version:
            changed.append(f"current version {row.current_version} -> {spec.version}")
    if row.description != (resource.metadata.description or ""):
        changed.append("description")
    if _plans_of(session, row) != sorted(spec.plans):
        changed.append("plans")
    return _Pending(doc, Change("Product", doc.name, "updated" if changed else "unchanged", tuple(changed)))


# --- composition of published products -----------------------------------------------------------------------------


def _service_inputs(session: Session, world: _World, pending: Sequence[_Pending]) -> dict[str, dict[str, Any]]:
    """Service name -> what composition needs, as it will be after this apply."""
    out: dict[str, dict[str, Any]] = {}
    for name, row in world.services.items():
        version = latest_version(session, row)
        if version is not None:
            out[name] = {
                "protocol": row.protocol.value,
                "schema": version.schema_text,
                "files": dict(version.schema_files),
                "entities": dict(row.entities),
                "base_path": None,
            }
    for item in pending:
        resource = item.doc.resource
        if isinstance(resource, m.Service) and item.schema is not None:
            out[item.doc.name] = {
                "protocol": resource.spec.protocol,
                "schema": item.schema.text,
                "files": dict(item.schema.files),
                "entities": _entities(resource),
                "base_path": None,
            }
    return out


def _products_after(
    session: Session, world: _World, pending: Sequence[_Pending]
) -> dict[str, tuple[str, str, list[dict[str, Any]]]]:
    """Product name -> (team, lifecycle, sources) of its current version after this apply."""
    out: dict[str, tuple[str, str, list[dict[str, Any]]]] = {}
    service_names = {s.id: n for n, s in world.services.items()}
    for name, row in world.products.items():
        version = _current_version(session, row)
        if version is not None:
            out[name] = (
                world.team_names.get(row.team_id, ""),
                version.lifecycle.value,
                _sources_of(session, version, service_names),
            )
    for item in pending:
        resource = item.doc.resource
        if isinstance(resource, m.Product):
            out[item.doc.name] = (
                resource.metadata.team,
                resource.spec.lifecycle,
                [_source_dict(s) for s in resource.spec.sources],
            )
    return out


def _check_compositions(
    session: Session, actor: Actor, world: _World, pending: Sequence[_Pending], *, force: bool
) -> list[tuple[str, list[str]]]:
    """Refuse a change that breaks a published product's composition, unless forced by its team admin.

    Returns the forced products with their conflicts (for the audit log).
    """
    if not composition_available():
        return []
    touched_services = {
        p.doc.name for p in pending if isinstance(p.doc.resource, m.Service) and p.change.action != "unchanged"
    }
    touched_products = {
        p.doc.name for p in pending if isinstance(p.doc.resource, m.Product) and p.change.action != "unchanged"
    }
    if not touched_services and not touched_products:
        return []
    services = _service_inputs(session, world, pending)
    forced: list[tuple[str, list[str]]] = []
    for product, (team, lifecycle, sources) in sorted(_products_after(session, world, pending).items()):
        if lifecycle not in ("published", "deprecated"):
            continue
        names = [s["service"] for s in sources]
        if product not in touched_products and not touched_services.intersection(names):
            continue
        doc = world.docs.get(("Product", product))
        missing = [n for n in names if n not in services]
        if missing:
            message = f"product {product!r} is {lifecycle} but service(s) {', '.join(missing)} have no schema"
            raise doc.error("spec.sources", message) if doc else Invalid(message)
        try:
            compose_specs(product, [_spec(s, services[s["service"]]) for s in sources])
        except CompositionFailed as exc:
            breaking = sorted(touched_services.intersection(names))
            culprit = f"publishing {', '.join(breaking)}" if breaking else "this change"
            message = f"{culprit} would break the composition of {lifecycle} product {product!r}: " + "; ".join(
                exc.conflicts
            )
            if not force:
                hint = f"; fix it, or force it as a team admin of team {team!r} (--force)"
                raise Conflict(message + hint, path=doc.where() if doc else None) from exc
            _authorize(session, actor, "service.publish.force", Target(kind="product", name=product, team=team), doc)
            forced.append((product, list(exc.conflicts)))
    return forced


def _spec(source: Mapping[str, Any], service: Mapping[str, Any]) -> Any:
    transforms = {k: v for k, v in source.items() if k != "service"}
    return source_spec(
        name=str(source["service"]),
        protocol=service["protocol"],
        schema=service["schema"],
        entities=service["entities"],
        transforms=transforms,
        files=service["files"],
    )


def _recompose(session: Session, world: _World) -> None:
    """Store the composed SDLs of every product's current version, pinned to the schemas they were built from."""
    if not composition_available():
        return
    session.flush()
    services = {s.id: s for s in session.exec(select(Service)).all()}
    for product in session.exec(select(Product)).all():
        version = _current_version(session, product)
        if version is None:
            continue
        sources = session.exec(
            select(ProductSource)
            .where(ProductSource.product_version_id == version.id)
            .order_by(col(ProductSource.position))
        ).all()
        specs = []
        pins: list[tuple[ProductSource, ServiceVersion]] = []
        for source in sources:
            service = services[source.service_id]
            latest = latest_version(session, service)
            if latest is None:
                break
            pins.append((source, latest))
            specs.append(stored_source_spec(service, latest, source))
        else:
            composed: str | None = None
            super_sdl: str | None = None
            try:
                supergraph = compose_specs(product.name, specs)
                composed, super_sdl = print_product(supergraph), _maybe_supergraph(supergraph)
            except (CompositionFailed, Invalid):
                pass  # a draft may not compose yet; published ones were checked above
            if version.composed_sdl != composed or version.supergraph_sdl != super_sdl:
                version.composed_sdl, version.supergraph_sdl = composed, super_sdl
                version.updated_at = utcnow()
                session.add(version)
            for source, latest in pins:
                if source.service_version_id != latest.id:
                    source.service_version_id = latest.id
                    session.add(source)


def _maybe_supergraph(supergraph: Any) -> str | None:
    try:
        return print_product(supergraph, supergraph_sdl=True)
    except Invalid:
        return None


# --- writing ----------------------------------------------------------------------------------------------------


def _write(session: Session, actor: Actor, world: _World, item: _Pending) -> None:
    resource = item.doc.resource
    if isinstance(resource, m.Cluster):
        _write_cluster(session, world, resource)
    elif isinstance(resource, m.Team):
        _write_team(session, world, resource)
    elif isinstance(resource, m.Plan):
        _write_plan(session, world, resource)
    elif isinstance(resource, m.Service):
        assert item.schema is not None
        _write_service(session, actor, world, resource, item.schema)
    else:
        assert isinstance(resource, m.Product)
        _write_product(session, actor, world, resource)
    session.flush()


def _assign(row: Any, values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        setattr(row, key, value)


def _write_cluster(session: Session, world: _World, resource: m.Cluster) -> None:
    row = world.clusters.get(resource.metadata.name)
    if row is None:
        row = Cluster(name=resource.metadata.name)
        world.clusters[row.name] = row
    _assign(row, _cluster_values(resource))
    row.updated_at = utcnow()
    session.add(row)


def _write_team(session: Session, world: _World, resource: m.Team) -> None:
    row = world.teams.get(resource.metadata.name)
    if row is None:
        row = Team(name=resource.metadata.name)
        world.teams[row.name] = row
    row.description = resource.metadata.description or ""
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    assert row.id is not None
    world.team_names[row.id] = row.name
    existing = {p.cluster_id: p for p in session.exec(select(TeamPlacement).where(TeamPlacement.team_id == row.id))}
    wanted = {world.clusters[p.cluster].id: list(p.namespaces) for p in resource.spec.placements}
    for cluster_id, placement in existing.items():
        if cluster_id not in wanted:
            session.delete(placement)
    for wanted_id, namespaces in wanted.items():
        assert wanted_id is not None
        placement = existing.get(wanted_id) or TeamPlacement(team_id=row.id, cluster_id=wanted_id, namespaces=[])
        if placement.namespaces != namespaces:
            placement.namespaces = namespaces
        session.add(placement)


def _write_plan(session: Session, world: _World, resource: m.Plan) -> None:
    values = _plan_values(resource)
    row = world.plans.get(resource.metadata.name)
    if row is None:
        row = Plan(name=resource.metadata.name, **values)
        world.plans[row.name] = row
    else:
        _assign(row, values)
    row.updated_at = utcnow()
    session.add(row)


def _write_service(session: Session, actor: Actor, world: _World, resource: m.Service, schema: ValidatedSchema) -> None:
    team = world.teams[resource.metadata.team]
    row = world.services.get(resource.metadata.name)
    if row is None:
        assert team.id is not None
        row = Service(name=resource.metadata.name, team_id=team.id, protocol=SourceKind(resource.spec.protocol))
        world.services[row.name] = row
    row.protocol = SourceKind(resource.spec.protocol)
    row.description = resource.metadata.description or ""
    row.entities = _entities(resource)
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    publish_version(session, row, schema, actor=actor.name)
    existing = {
        d.cluster_id: d for d in session.exec(select(ServiceDeployment).where(ServiceDeployment.service_id == row.id))
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


def _write_product(session: Session, actor: Actor, world: _World, resource: m.Product) -> None:
    spec = resource.spec
    team = world.teams[resource.metadata.team]
    row = world.products.get(resource.metadata.name)
    if row is None:
        assert team.id is not None
        row = Product(name=resource.metadata.name, team_id=team.id)
        world.products[row.name] = row
    row.description = resource.metadata.description or ""
    row.current_version = spec.version
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    assert row.id is not None
    version = session.exec(
        select(ProductVersion).where(ProductVersion.product_id == row.id, ProductVersion.version == spec.version)
    ).first()
    values = _product_version_values(resource)
    if version is None:
        version = ProductVersion(product_id=row.id, version=spec.version, created_by=actor.name)
    version.lifecycle = Lifecycle(spec.lifecycle)
    version.routing = values["routing"]
    version.rest = values["rest"]
    version.updated_at = utcnow()
    session.add(version)
    session.flush()
    old_sources = session.exec(select(ProductSource).where(ProductSource.product_version_id == version.id)).all()
    if [
        {"service": world.services[s["service"]].id, **{k: v for k, v in s.items() if k != "service"}}
        for s in values["sources"]
    ] != [{"service": s.service_id, **s.transforms} for s in sorted(old_sources, key=lambda s: s.position)]:
        for old in old_sources:
            session.delete(old)
        session.flush()
        assert version.id is not None
        for position, source in enumerate(spec.sources):
            service_id = world.services[source.service].id
            assert service_id is not None
            session.add(
                ProductSource(
                    product_version_id=version.id,
                    service_id=service_id,
                    position=position,
                    transforms=_transforms(source),
                )
            )
    plan_ids = {world.plans[p].id for p in spec.plans}
    existing = {p.plan_id: p for p in session.exec(select(ProductPlan).where(ProductPlan.product_id == row.id))}
    for plan_id, link in existing.items():
        if plan_id not in plan_ids:
            session.delete(link)
    for wanted_plan in plan_ids:
        assert wanted_plan is not None
        if wanted_plan not in existing:
            session.add(ProductPlan(product_id=row.id, plan_id=wanted_plan))


# --- get --------------------------------------------------------------------------------------------------------

_KIND_NAMES = {k.lower(): k for k in m.KINDS} | {k.lower() + "s": k for k in m.KINDS}


def canonical_kind(kind: str) -> str:
    """``cluster``, ``clusters`` or ``Cluster`` -> ``Cluster``; anything else is :class:`Invalid`."""
    found = _KIND_NAMES.get(kind.lower())
    if found is None:
        raise Invalid(f"unknown kind {kind!r}; expected one of {', '.join(m.KINDS)}")
    return found


def get(session: Session, actor: Actor, kind: str, name: str | None = None) -> list[dict[str, Any]]:
    """Resources of ``kind`` (one when ``name`` is given) in the shape ``apply`` reads."""
    if not actor.is_authenticated:
        raise Unauthenticated("sign in or pass a personal access token to read resources")
    kind = canonical_kind(kind)
    model: Any = {"Cluster": Cluster, "Team": Team, "Plan": Plan, "Service": Service, "Product": Product}[kind]
    statement = select(model).order_by(col(model.name))
    if name is not None:
        statement = statement.where(col(model.name) == name)
    rows = session.exec(statement).all()
    if name is not None and not rows:
        raise NotFound(f"{kind} {name!r} not found")
    cluster_names = {c.id: c.name for c in session.exec(select(Cluster)).all()}
    team_names = {t.id: t.name for t in session.exec(select(Team)).all()}
    service_names = {s.id: s.name for s in session.exec(select(Service)).all()}
    out: list[dict[str, Any]] = []
    for row in rows:
        resource: m.Resource
        if isinstance(row, Cluster):
            resource = _cluster_resource(row)
        elif isinstance(row, Team):
            resource = _team_resource(session, row, cluster_names)
        elif isinstance(row, Plan):
            resource = _plan_resource(row)
        elif isinstance(row, Service):
            resource = _service_resource(session, row, team_names[row.team_id], cluster_names)
        else:
            assert isinstance(row, Product)
            if row.current_version is None:
                continue
            resource = _product_resource(session, row, team_names[row.team_id], service_names)
        out.append(m.resource_to_dict(resource))
    return out


class _BlockStyleDumper(yaml.SafeDumper):
    """Multi-line strings (schemas) as literal blocks, so ``get -o yaml`` stays readable."""


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_BlockStyleDumper.add_representer(str, _str_presenter)


def render(resources: Sequence[Mapping[str, Any]], output: str) -> str:
    """``yaml``: ``---``-separated documents; ``json``: one object, or a list for several."""
    if output == "json":
        return json.dumps(resources[0] if len(resources) == 1 else list(resources), indent=2)
    return "".join(
        ("---\n" if i else "") + yaml.dump(dict(r), Dumper=_BlockStyleDumper, sort_keys=False, allow_unicode=True)
        for i, r in enumerate(resources)
    )


# --- delete -----------------------------------------------------------------------------------------------------


def delete(session: Session, actor: Actor, kind: str, name: str) -> Change:
    """Delete one resource; refused with :class:`Conflict` while something still refers to it."""
    kind = canonical_kind(kind)
    with denials_audited(session, actor, f"{kind.lower()}.delete", kind.lower(), name):
        return _delete(session, actor, kind, name)


def _delete(session: Session, actor: Actor, kind: str, name: str) -> Change:
    model: Any = {"Cluster": Cluster, "Team": Team, "Plan": Plan, "Service": Service, "Product": Product}[kind]
    row = session.exec(select(model).where(col(model.name) == name)).first()
    team: str | None = None
    if isinstance(row, Service | Product):
        owner = session.get(Team, row.team_id)
        team = owner.name if owner is not None else None
    elif isinstance(row, Team):
        team = row.name
    target = Target(kind=kind.lower(), name=name, team=team)
    _authorize(session, actor, f"{kind.lower()}.delete", target, None)
    if row is None:
        raise NotFound(f"{kind} {name!r} not found")
    users = _users_of(session, row)
    if users:
        raise Conflict(f"{kind} {name!r} is still used by {', '.join(users)}; remove those first")
    session.delete(row)
    record(session, actor, f"{kind.lower()}.delete", kind.lower(), name, {"change": "deleted"})
    bump_generation(session)
    session.flush()
    return Change(kind, name, "deleted")


def _users_of(session: Session, row: Any) -> list[str]:
    """What refers to ``row`` (and would block deleting it), in words."""
    out: list[str] = []
    if isinstance(row, Cluster):
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
    elif isinstance(row, Team):
        out += [f"service {n!r}" for n in session.exec(select(Service.name).where(Service.team_id == row.id))]
        out += [f"product {n!r}" for n in session.exec(select(Product.name).where(Product.team_id == row.id))]
    elif isinstance(row, Service):
        products = session.exec(
            select(Product.name, ProductVersion.version)
            .join(ProductVersion, col(ProductVersion.product_id) == col(Product.id))
            .join(ProductSource, col(ProductSource.product_version_id) == col(ProductVersion.id))
            .where(ProductSource.service_id == row.id)
        ).all()
        out += [f"product {p!r} {v}" for p, v in sorted(set(products))]
    elif isinstance(row, Product):
        live = session.exec(
            select(Subscription.id).where(
                Subscription.product_id == row.id,
                col(Subscription.state).in_([SubscriptionState.REQUESTED, SubscriptionState.APPROVED]),
            )
        ).all()
        if live:
            out.append(f"{len(live)} live subscription(s)")
    elif isinstance(row, Plan):
        offering = session.exec(
            select(Product.name)
            .join(ProductPlan, col(ProductPlan.product_id) == col(Product.id))
            .where(ProductPlan.plan_id == row.id)
        ).all()
        out += [f"product {n!r}" for n in sorted(offering)]
        subs = session.exec(select(Subscription.id).where(Subscription.plan_id == row.id)).all()
        if subs:
            out.append(f"{len(subs)} subscription(s)")
    return out


# --- for the admin API ------------------------------------------------------------------------------------------


def apply_json(
    session: Session,
    actor: Actor,
    items: Sequence[Any],
    *,
    dry_run: bool = False,
    force: bool = False,
    max_bytes: int = m.DEFAULT_MAX_BYTES,
) -> list[dict[str, Any]]:
    """``apply`` for resources sent as JSON (schemas inline): what the admin API's ``apply`` mutation calls.

    Returns ``[{kind, name, action, details}]``. Raises :class:`LoomError` (``Invalid``, ``Forbidden``, ...).
    """
    if not isinstance(items, list):
        raise Invalid("documents must be a list of resources")
    documents = m.parse_documents(items, source="request", max_bytes=max_bytes)
    return [c.as_dict() for c in apply(session, actor, documents, dry_run=dry_run, force=force)]


# --- CLI --------------------------------------------------------------------------------------------------------

_APPLY_MUTATION = """
mutation Apply($documents: JSON!, $dryRun: Boolean, $force: Boolean) {
  apply(documents: $documents, dryRun: $dryRun, force: $force) { kind name action details }
}
"""


def _inline(doc: m.Document) -> dict[str, Any]:
    """The document as JSON with its schema file read in, for sending to a server."""
    data = m.resource_to_dict(doc.resource)
    resource = doc.resource
    if isinstance(resource, m.Service) and resource.spec.schema_.file is not None:
        key = "openapi" if resource.spec.protocol == "openapi" else "sdl"
        schema: dict[str, Any] = {key: doc.schema_text or ""}
        if key == "openapi" and doc.schema_path is not None:
            files = validate_schema(
                doc.name, "openapi", doc.schema_text or "", where=doc.schema_path.name, base_dir=doc.schema_path.parent
            ).files
            if files:
                schema["files"] = dict(files)
        data["spec"]["schema"] = schema
    return data


def _remote(args: argparse.Namespace, query: str, variables: Mapping[str, Any]) -> Any:
    from portal.client import AdminClient

    with AdminClient(args.server, args.token) as client:
        return client.execute(query, variables)


def _local_engine() -> Any:
    from portal.db import create_engine_for, prepare_schema
    from portal.settings import Settings

    settings = Settings()
    engine = create_engine_for(settings)
    try:
        prepare_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return settings, engine


_REQUEST_DOCUMENT = re.compile(r"\brequest: document (\d+)(?: \([^)]*\))?")


def _named_by_file(message: str, documents: Sequence[m.Document]) -> str:
    """The server numbers the documents of one request ("request: document 7"); name the file and the document
    in it instead, as a local apply does, so the user knows which file to fix."""

    def where(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return documents[index - 1].where() if 0 < index <= len(documents) else match.group(0)

    return _REQUEST_DOCUMENT.sub(where, message)


def apply_command(args: argparse.Namespace) -> int:
    """``loom apply -f PATH... [--dry-run] [--server URL --token TOKEN]``."""
    from portal.settings import Settings

    dry_run = bool(args.dry_run)
    force = bool(getattr(args, "force", False))
    documents = m.load_documents(args.files, max_bytes=Settings().auth.max_document_bytes)
    if args.server:
        try:
            data = _remote(
                args, _APPLY_MUTATION, {"documents": [_inline(d) for d in documents], "dryRun": dry_run, "force": force}
            )
        except LoomError as exc:
            raise type(exc)(_named_by_file(exc.message, documents)) from exc
        changes = [Change(c["kind"], c["name"], c["action"], tuple(c.get("details") or ())) for c in data["apply"]]
    else:
        from portal.db import session_scope

        _settings, engine = _local_engine()
        try:
            with session_scope(engine) as session, audit_scope(via="apply"):
                changes = apply(session, Actor.system("loom-apply"), documents, dry_run=dry_run, force=force)
                if dry_run:
                    session.rollback()
        finally:
            engine.dispose()
    for change in changes:
        print(change.line(dry_run=dry_run))
    return 0


_GET_QUERY = """
query Resources($kind: String!, $name: String) { resources(kind: $kind, name: $name) }
"""
_DELETE_MUTATION = """
mutation Delete($kind: String!, $name: String!) { deleteResource(kind: $kind, name: $name) }
"""


def get_command(args: argparse.Namespace) -> int:
    """``loom get KIND [NAME] -o yaml|json``."""
    if args.server:
        resources = _remote(args, _GET_QUERY, {"kind": canonical_kind(args.kind), "name": args.name})["resources"]
    else:
        from portal.db import session_scope

        _settings, engine = _local_engine()
        try:
            with session_scope(engine) as session:
                resources = get(session, Actor.system("loom-get"), args.kind, args.name)
        finally:
            engine.dispose()
    if resources:
        sys.stdout.write(render(resources, args.output).rstrip("\n") + "\n")
    return 0


def delete_command(args: argparse.Namespace) -> int:
    """``loom delete KIND NAME``."""
    kind = canonical_kind(args.kind)
    if args.server:
        _remote(args, _DELETE_MUTATION, {"kind": kind, "name": args.name})
    else:
        from portal.db import session_scope

        _settings, engine = _local_engine()
        try:
            with session_scope(engine) as session, audit_scope(via="cli"):
                delete(session, Actor.system("loom-delete"), kind, args.name)
        finally:
            engine.dispose()
    print(f"{kind.lower()}/{args.name} deleted")
    return 0
