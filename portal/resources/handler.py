"""The one interface every kind implements, and what its check hands to its write.

A kind's module (``cluster``, ``team``, ``plan``, ``service``, ``product``) holds everything about that kind: how
its rows read back as a resource (``read``, what ``get`` prints), how a document is checked against the database
and the other documents of the same apply (``check``), how it is written (``write``) and what blocks deleting it
(``users``). :mod:`portal.resources.applier` only orchestrates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from sqlmodel import Session

from portal import manifests as m
from portal.authorization import Actor
from portal.publishing import ValidatedSchema
from portal.resources.change import Change
from portal.resources.world import World

__all__ = ["Names", "Pending", "ResourceHandler"]


@dataclass(frozen=True, slots=True)
class Names:
    """Row id -> name of the tables resources refer to (for reading rows back as resources)."""

    clusters: Mapping[int | None, str]
    teams: Mapping[int | None, str]
    services: Mapping[int | None, str]


@dataclass
class Pending:
    """One document's validated intent, computed in the check phase and carried out in the write phase."""

    doc: m.Document
    change: Change
    schema: ValidatedSchema | None = None


class ResourceHandler(Protocol):
    """One kind of resource: its manifest model, its table, and its read/check/write/delete rules."""

    kind: ClassVar[str]
    action: ClassVar[str]  # the authorization action of applying it ("service.publish", ...)
    row_type: ClassVar[type[Any]]

    def read(self, session: Session, row: Any, names: Names) -> m.Resource | None:
        """The row as a resource in the shape ``apply`` reads (None: nothing to print yet)."""
        ...

    def check(self, session: Session, world: World, doc: m.Document) -> Pending:
        """Validate ``doc`` against ``world``; what would change. Raises :class:`portal.errors.LoomError`."""
        ...

    def write(self, session: Session, actor: Actor, world: World, item: Pending) -> None:
        """Carry out a checked change (the caller flushes, audits and commits)."""
        ...

    def users(self, session: Session, row: Any) -> list[str]:
        """What refers to ``row`` and would block deleting it, in words."""
        ...
