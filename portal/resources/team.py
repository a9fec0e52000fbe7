"""Team resources: who owns services and products, and where (clusters, namespaces) the team may deploy."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlmodel import Session, select

from portal import manifests as m
from portal.authorization import Actor
from portal.models import Product, Service, Team, TeamPlacement, utcnow
from portal.resources.change import Change
from portal.resources.handler import Names, Pending
from portal.resources.world import World, missing, placements_of

__all__ = ["TeamHandler"]


class TeamHandler:
    kind: ClassVar[str] = "Team"
    action: ClassVar[str] = "team.apply"
    row_type: ClassVar[type[Any]] = Team

    def read(self, session: Session, row: Any, names: Names) -> m.Resource:
        assert isinstance(row, Team)
        placements = placements_of(session, row, names.clusters)
        return m.Team.model_validate(
            {
                "apiVersion": m.API_VERSION,
                "kind": "Team",
                "metadata": {"name": row.name, "description": row.description or None},
                "spec": {"placements": [{"cluster": c, "namespaces": n} for c, n in sorted(placements.items())]},
            }
        )

    def check(self, session: Session, world: World, doc: m.Document) -> Pending:
        resource = doc.resource
        assert isinstance(resource, m.Team)
        seen: set[str] = set()
        for i, placement in enumerate(resource.spec.placements):
            if not world.has("Cluster", placement.cluster):
                raise doc.error(f"spec.placements[{i}].cluster", missing("Cluster", placement.cluster, world.clusters))
            if placement.cluster in seen:
                raise doc.error(f"spec.placements[{i}].cluster", f"cluster {placement.cluster!r} is listed twice")
            seen.add(placement.cluster)
        row = world.teams.get(doc.name)
        if row is None:
            return Pending(doc, Change("Team", doc.name, "created"))
        changed = []
        if row.description != (resource.metadata.description or ""):
            changed.append("description")
        current = placements_of(session, row, world.cluster_names())
        if current != {p.cluster: list(p.namespaces) for p in resource.spec.placements}:
            changed.append("placements")
        return Pending(doc, Change("Team", doc.name, "updated" if changed else "unchanged", tuple(changed)))

    def write(self, session: Session, actor: Actor, world: World, item: Pending) -> None:
        resource = item.doc.resource
        assert isinstance(resource, m.Team)
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

    def users(self, session: Session, row: Any) -> list[str]:
        out = [f"service {n!r}" for n in session.exec(select(Service.name).where(Service.team_id == row.id))]
        out += [f"product {n!r}" for n in session.exec(select(Product.name).where(Product.team_id == row.id))]
        return out
