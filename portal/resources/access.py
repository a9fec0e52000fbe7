"""Who may apply a document: the action of its kind on its team, and on the team that owns it now."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from portal import manifests as m
from portal.authorization import Actor, Target
from portal.models import Product, Service
from portal.resources.kinds import ACTIONS
from portal.resources.world import World, authorize_or_record

__all__ = ["authorize_documents", "owner_team"]


def owner_team(resource: m.Resource) -> str | None:
    """The team a resource names as its owner (a Team owns itself); None for platform kinds."""
    if isinstance(resource, m.Service | m.Product):
        return resource.metadata.team
    if isinstance(resource, m.Team):
        return resource.metadata.name
    return None


def authorize_documents(session: Session, actor: Actor, world: World, documents: Sequence[m.Document]) -> None:
    """Refuse (and record) the first document ``actor`` may not apply."""
    for doc in documents:
        team = owner_team(doc.resource)
        action = ACTIONS[doc.kind]
        authorize_or_record(session, actor, action, Target(kind=doc.kind.lower(), name=doc.name, team=team), doc)
        # Changing a team's resource needs rights in the team that owns it now, not only in the one it names.
        existing: Service | Product | None = None
        if isinstance(doc.resource, m.Service):
            existing = world.services.get(doc.name)
        elif isinstance(doc.resource, m.Product):
            existing = world.products.get(doc.name)
        if existing is not None:
            owner = world.team_names.get(existing.team_id)
            if owner != team:
                target = Target(kind=doc.kind.lower(), name=doc.name, team=owner)
                authorize_or_record(session, actor, action, target, doc)
