"""The state an apply checks against: the database's rows by name, and what the apply's documents make of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from portal import manifests as m
from portal.audit import record_denied
from portal.authorization import Actor, Target, authorize
from portal.errors import Forbidden, Unauthenticated
from portal.models import Cluster, Plan, Product, Service, ServiceDeployment, Team, TeamPlacement
from portal.resources.egress import Resolver, system_resolver
from portal.ssrf import EgressPolicy

__all__ = ["World", "authorize_or_record", "desired_allow_loopback", "missing", "placements_of"]


def _by_name(session: Session, model: Any) -> dict[str, Any]:
    return {row.name: row for row in session.exec(select(model)).all()}


def placements_of(session: Session, team: Team, cluster_names: Mapping[int | None, str]) -> dict[str, list[str]]:
    """A team's placements: cluster name -> namespaces."""
    rows = session.exec(select(TeamPlacement).where(TeamPlacement.team_id == team.id)).all()
    return {cluster_names[p.cluster_id]: list(p.namespaces) for p in rows if p.cluster_id in cluster_names}


def missing(kind: str, name: str, existing: Mapping[str, Any]) -> str:
    """The message for a reference to a resource that does not exist."""
    known = ", ".join(sorted(existing)) or "none yet"
    return f"{kind} {name!r} does not exist (existing: {known}); create it first or in the same apply"


def desired_allow_loopback(spec: m.ClusterSpec) -> bool:
    """``spec.introspection.allowLoopback``; unset means allowed for the local-envoy target (the embedded demo)."""
    policy = spec.introspection
    if policy is not None and policy.allow_loopback is not None:
        return policy.allow_loopback
    return spec.gloo.target == "local-envoy"  # the embedded demo's services live on 127.0.0.1


def authorize_or_record(session: Session, actor: Actor, action: str, target: Target, doc: m.Document | None) -> None:
    """:func:`portal.authorization.authorize`, recording a refusal and naming the document in its message."""
    try:
        authorize(actor, action, target)
    except (Forbidden, Unauthenticated) as exc:
        record_denied(session, actor, action, target.kind, target.name, reason=exc.message)
        if doc is not None:
            raise type(exc)(exc.message, path=doc.where()) from exc
        raise


@dataclass
class World:
    """The database's rows by name, and what this apply will make of them (for reference checks)."""

    clusters: dict[str, Cluster]
    teams: dict[str, Team]
    services: dict[str, Service]
    products: dict[str, Product]
    plans: dict[str, Plan]
    team_names: dict[int, str]
    docs: dict[tuple[str, str], m.Document] = field(default_factory=dict)
    resolve: Resolver = system_resolver  # host names of deployment addresses, for the egress check

    @classmethod
    def load(cls, session: Session, documents: Sequence[m.Document], *, resolve: Resolver = system_resolver) -> World:
        teams = _by_name(session, Team)
        return cls(
            clusters=_by_name(session, Cluster),
            teams=teams,
            services=_by_name(session, Service),
            products=_by_name(session, Product),
            plans=_by_name(session, Plan),
            team_names={t.id: t.name for t in teams.values() if t.id is not None},
            docs={(d.kind, d.name): d for d in documents},
            resolve=resolve,
        )

    def has(self, kind: str, name: str) -> bool:
        tables: dict[str, Mapping[str, Any]] = {
            "Cluster": self.clusters,
            "Team": self.teams,
            "Service": self.services,
            "Plan": self.plans,
            "Product": self.products,
        }
        return name in tables[kind] or (kind, name) in self.docs

    def cluster_names(self) -> dict[int | None, str]:
        return {c.id: n for n, c in self.clusters.items()}

    def residencies(self) -> dict[str, str]:
        """Cluster name -> residency, after this apply."""
        out = {name: row.residency for name, row in self.clusters.items()}
        for (kind, name), doc in self.docs.items():
            if kind == "Cluster" and isinstance(doc.resource, m.Cluster):
                out[name] = doc.resource.spec.residency
        return out

    def placements(self, session: Session, team: str) -> dict[str, list[str]]:
        """A team's placements after this apply."""
        doc = self.docs.get(("Team", team))
        if doc is not None and isinstance(doc.resource, m.Team):
            return {p.cluster: list(p.namespaces) for p in doc.resource.spec.placements}
        row = self.teams.get(team)
        if row is None:
            return {}
        return placements_of(session, row, self.cluster_names())

    def policy(self, cluster: str) -> EgressPolicy | None:
        """The egress policy of ``cluster`` after this apply (None: no such cluster)."""
        doc = self.docs.get(("Cluster", cluster))
        if doc is not None and isinstance(doc.resource, m.Cluster):
            spec = doc.resource.spec
            hosts = spec.introspection.allowed_hosts if spec.introspection else []
            return EgressPolicy.from_hosts(allow_loopback=desired_allow_loopback(spec), allowed_hosts=hosts)
        row = self.clusters.get(cluster)
        return EgressPolicy.for_cluster(row) if row is not None else None

    def deployed_in(self, session: Session, service: str) -> set[str]:
        """The clusters ``service`` is deployed in after this apply."""
        doc = self.docs.get(("Service", service))
        if doc is not None and isinstance(doc.resource, m.Service):
            return {d.cluster for d in doc.resource.spec.deployments}
        row = self.services.get(service)
        if row is None or row.id is None:
            return set()
        names = self.cluster_names()
        rows = session.exec(select(ServiceDeployment.cluster_id).where(ServiceDeployment.service_id == row.id)).all()
        return {names[c] for c in rows if c in names}
