"""``apply``: validate every document, then write them all in the caller's one transaction.

``apply`` works in two phases. First every document is authorized and validated against the database *and* the
other documents of the same apply (references, team placements, residency, lifecycle and version rules, schemas,
and the composition of published products). Only when all are valid is anything written. One bad document means
nothing changes, with an error that names the file, the document and the field path.

Each kind's own rules live in its module behind :class:`portal.resources.handler.ResourceHandler`; this module
only orders, audits and orchestrates them. Schemas fetched from deployments are fetched before, by the caller
(:mod:`portal.resources.introspection`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from portal import manifests as m
from portal.audit import denials_audited, record
from portal.authorization import Actor
from portal.db import bump_generation
from portal.errors import Invalid
from portal.resources.access import authorize_documents
from portal.resources.change import Change
from portal.resources.composition import check_compositions, recompose
from portal.resources.egress import Resolver, system_resolver
from portal.resources.handler import Pending
from portal.resources.kinds import ACTIONS, HANDLERS
from portal.resources.routing import check_routing
from portal.resources.world import World

__all__ = ["apply", "apply_json", "parse_json"]

_ORDER = {kind: i for i, kind in enumerate(m.KIND_ORDER)}


def apply(
    session: Session,
    actor: Actor,
    documents: Sequence[m.Document],
    *,
    dry_run: bool = False,
    force: bool = False,
    resolve: Resolver = system_resolver,
) -> list[Change]:
    """Validate every document, then write them all in ``session``'s transaction (the caller commits).

    Returns one :class:`Change` per document (created, updated or unchanged). With ``dry_run`` nothing is written.
    ``force`` lets a team admin of a published product (or a platform admin) publish a change that breaks its
    composition; the forced publish is audited. ``resolve`` looks up the host names of deployment addresses for
    the egress check (:mod:`portal.resources.egress`). Raises :class:`LoomError` subclasses naming the document
    and field.

    Every refusal is audited here, whichever channel called (the API, ``loom apply``, the UI): authorization and a
    forced publish where they are decided, a team placement per document, anything else under ``resources.apply``.
    """
    with denials_audited(session, actor, "resources.apply", "resource"):
        return _apply(session, actor, documents, dry_run=dry_run, force=force, resolve=resolve)


def _apply(
    session: Session, actor: Actor, documents: Sequence[m.Document], *, dry_run: bool, force: bool, resolve: Resolver
) -> list[Change]:
    _check_duplicates(documents)
    ordered = sorted(documents, key=lambda d: _ORDER[d.kind])
    world = World.load(session, ordered, resolve=resolve)
    # Authorization first: a caller who may not change a resource learns nothing else about it.
    authorize_documents(session, actor, world, ordered)
    _check_fetched(ordered)
    pending: list[Pending] = []
    for doc in ordered:
        # A placement refusal is a denial of this document's action (the same for every actor, an admin included).
        with denials_audited(session, actor, ACTIONS[doc.kind], doc.kind.lower(), doc.name):
            pending.append(HANDLERS[doc.kind].check(session, world, doc))
    check_routing(session, world, pending)
    forced = check_compositions(session, actor, world, pending, force=force)
    if dry_run:
        return [p.change for p in pending]
    for item in pending:
        if item.change.action != "unchanged":
            HANDLERS[item.doc.kind].write(session, actor, world, item)
            session.flush()
            record(
                session,
                actor,
                ACTIONS[item.doc.kind],
                item.doc.kind.lower(),
                item.doc.name,
                {"change": item.change.action, "details": list(item.change.details)},
            )
    for forced_change in forced:
        details = {"conflicts": forced_change.conflicts} if forced_change.conflicts else {}
        if forced_change.breaking:
            details["breaking"] = forced_change.breaking
        record(session, actor, "service.publish.force", "product", forced_change.product, details)
    if any(p.change.action != "unchanged" for p in pending):
        checked = {p.doc.name: p.schema for p in pending if isinstance(p.doc.resource, m.Service) and p.schema}
        recompose(session, checked)
        bump_generation(session)
    session.flush()
    return [p.change for p in pending]


def _check_fetched(documents: Sequence[m.Document]) -> None:
    for doc in documents:
        resource = doc.resource
        if isinstance(resource, m.Service) and resource.spec.schema_.introspect is not None and doc.schema_text is None:
            raise doc.error(
                "spec.schema.introspect",
                "the schema was not fetched: fetch it first (portal.resources.schema_fetches, then fetch_schemas); "
                "loom apply and the admin API do",
            )


def _check_duplicates(documents: Sequence[m.Document]) -> None:
    seen: dict[tuple[str, str], m.Document] = {}
    for doc in documents:
        key = (doc.kind, doc.name)
        if key in seen:
            raise doc.error("metadata.name", f"duplicate {doc.kind} {doc.name!r}; already in {seen[key].where()}")
        seen[key] = doc


def parse_json(items: Any, *, max_bytes: int = m.DEFAULT_MAX_BYTES) -> list[m.Document]:
    """Resources sent as JSON (schemas inline), validated: what the admin API's ``apply`` mutation reads."""
    if not isinstance(items, list):
        raise Invalid("documents must be a list of resources")
    return m.parse_documents(items, source="request", max_bytes=max_bytes)


def apply_json(
    session: Session,
    actor: Actor,
    items: Sequence[Any],
    *,
    dry_run: bool = False,
    force: bool = False,
    max_bytes: int = m.DEFAULT_MAX_BYTES,
) -> list[dict[str, Any]]:
    """``apply`` for resources sent as JSON (schemas inline).

    Returns ``[{kind, name, action, details}]``. Raises :class:`LoomError` (``Invalid``, ``Forbidden``, ...).
    """
    documents = parse_json(items, max_bytes=max_bytes)
    return [c.as_dict() for c in apply(session, actor, documents, dry_run=dry_run, force=force)]
