"""``delete``: one resource by kind and name, refused while something still refers to it."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from portal.audit import denials_audited, record
from portal.authorization import Actor, Target
from portal.db import bump_generation
from portal.errors import Conflict, NotFound
from portal.models import Product, Service, Team
from portal.resources.change import Change
from portal.resources.kinds import HANDLERS, canonical_kind
from portal.resources.world import authorize_or_record

__all__ = ["delete"]


def delete(session: Session, actor: Actor, kind: str, name: str) -> Change:
    """Delete one resource; refused with :class:`Conflict` while something still refers to it."""
    kind = canonical_kind(kind)
    with denials_audited(session, actor, f"{kind.lower()}.delete", kind.lower(), name):
        return _delete(session, actor, kind, name)


def _delete(session: Session, actor: Actor, kind: str, name: str) -> Change:
    handler = HANDLERS[kind]
    model: Any = handler.row_type
    row = session.exec(select(model).where(col(model.name) == name)).first()
    team: str | None = None
    if isinstance(row, Service | Product):
        owner = session.get(Team, row.team_id)
        team = owner.name if owner is not None else None
    elif isinstance(row, Team):
        team = row.name
    target = Target(kind=kind.lower(), name=name, team=team)
    authorize_or_record(session, actor, f"{kind.lower()}.delete", target, None)
    if row is None:
        raise NotFound(f"{kind} {name!r} not found")
    users = handler.users(session, row)
    if users:
        raise Conflict(f"{kind} {name!r} is still used by {', '.join(users)}; remove those first")
    session.delete(row)
    record(session, actor, f"{kind.lower()}.delete", kind.lower(), name, {"change": "deleted"})
    bump_generation(session)
    session.flush()
    return Change(kind, name, "deleted")
