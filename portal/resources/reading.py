"""``get``: resources read back from the database in the shape ``apply`` reads, so applying them changes nothing."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from portal import manifests as m
from portal.authorization import Actor
from portal.errors import NotFound, Unauthenticated
from portal.models import Cluster, Service, Team
from portal.resources.handler import Names
from portal.resources.kinds import HANDLERS, canonical_kind

__all__ = ["get", "names_of"]


def names_of(session: Session) -> Names:
    """Id -> name of every cluster, team and service."""
    return Names(
        clusters={c.id: c.name for c in session.exec(select(Cluster)).all()},
        teams={t.id: t.name for t in session.exec(select(Team)).all()},
        services={s.id: s.name for s in session.exec(select(Service)).all()},
    )


def get(session: Session, actor: Actor, kind: str, name: str | None = None) -> list[dict[str, Any]]:
    """Resources of ``kind`` (one when ``name`` is given) in the shape ``apply`` reads."""
    if not actor.is_authenticated:
        raise Unauthenticated("sign in or pass a personal access token to read resources")
    kind = canonical_kind(kind)
    handler = HANDLERS[kind]
    model: Any = handler.row_type
    statement = select(model).order_by(col(model.name))
    if name is not None:
        statement = statement.where(col(model.name) == name)
    rows = session.exec(statement).all()
    if name is not None and not rows:
        raise NotFound(f"{kind} {name!r} not found")
    names = names_of(session)
    out: list[dict[str, Any]] = []
    for row in rows:
        resource = handler.read(session, row, names)
        if resource is not None:
            out.append(m.resource_to_dict(resource))
    return out
