"""Schemas fetched from a deployment (``schema: {introspect: ...}``): an async step that callers run before ``apply``.

``apply`` is synchronous domain code that runs in one database transaction; fetching a schema is network I/O. So the
caller fetches first, in two steps, and hands ``apply`` documents whose schema text is filled in:

1. :func:`schema_fetches` (a session): authorizes every document exactly as ``apply`` will (a caller who may not
   change a resource makes the portal fetch nothing on their behalf), then says what to fetch from where, under which
   cluster's egress policy.
2. :func:`fetch_schemas` (async, an injected ``httpx.AsyncClient``): fetches each through the SSRF guard.

``apply`` refuses an introspecting document whose schema was not fetched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import httpx
from sqlmodel import Session

from portal import manifests as m
from portal.authorization import Actor
from portal.errors import Invalid
from portal.resources.access import authorize_documents
from portal.resources.world import World, missing
from portal.settings import DEFAULT_MAX_DOCUMENT_BYTES
from portal.ssrf import EgressPolicy, introspect

__all__ = ["SchemaFetch", "fetch_schemas", "needs_fetch", "schema_fetches"]


@dataclass(frozen=True, slots=True)
class SchemaFetch:
    """One schema to fetch: for which document, from where, under which egress policy."""

    key: tuple[str, str]
    url: str
    policy: EgressPolicy
    protocol: Literal["federation", "graphql", "openapi"]
    where: str  # "FILE: document N (Service/NAME): spec.schema.introspect", for errors


def _introspects(doc: m.Document) -> bool:
    return isinstance(doc.resource, m.Service) and doc.resource.spec.schema_.introspect is not None


def needs_fetch(documents: Sequence[m.Document]) -> bool:
    """Whether any document's schema is still to be fetched."""
    return any(_introspects(d) and d.schema_text is None for d in documents)


def schema_fetches(session: Session, actor: Actor, documents: Sequence[m.Document]) -> list[SchemaFetch]:
    """Authorize the documents (as ``apply`` does), then what to fetch for each introspecting Service."""
    jobs = [d for d in documents if _introspects(d) and d.schema_text is None]
    if not jobs:
        return []
    ordered = sorted(documents, key=lambda d: m.KIND_ORDER.index(d.kind))
    world = World.load(session, ordered)
    authorize_documents(session, actor, world, ordered)
    out: list[SchemaFetch] = []
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
        policy = world.policy(wanted.cluster)
        if policy is None:
            raise doc.error(f"{field_path}.cluster", missing("Cluster", wanted.cluster, world.clusters))
        where = f"{doc.where()}: {field_path}"
        out.append(SchemaFetch((doc.kind, doc.name), url, policy, resource.spec.protocol, where))
    return out


async def fetch_schemas(
    documents: Sequence[m.Document],
    fetches: Sequence[SchemaFetch],
    *,
    http: httpx.AsyncClient | None = None,
    max_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
) -> list[m.Document]:
    """``documents`` with the schema of each fetch filled in (fetched through the SSRF guard).

    ``max_bytes`` caps each fetched schema: callers pass ``LOOM_AUTH_MAX_DOCUMENT_BYTES``
    (``settings.auth.max_document_bytes``), the limit a schema given in a file has too.
    """
    if not fetches:
        return list(documents)
    texts: dict[tuple[str, str], str] = {}
    client = http if http is not None else httpx.AsyncClient(timeout=10.0, follow_redirects=False)
    try:
        for fetch in fetches:
            try:
                texts[fetch.key] = await introspect(
                    fetch.url, client=client, policy=fetch.policy, protocol=fetch.protocol, max_bytes=max_bytes
                )
            except Invalid as exc:
                raise type(exc)(exc.message, path=fetch.where) from exc
    finally:
        if http is None:
            await client.aclose()
    return [
        dataclasses.replace(d, schema_text=texts[(d.kind, d.name)]) if (d.kind, d.name) in texts else d
        for d in documents
    ]
