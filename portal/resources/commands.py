"""``loom apply``, ``loom get`` and ``loom delete``: on the local database as platform admin, or against a running
portal (``--server URL --token T``) through :class:`portal.client.AdminClient`."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from portal import manifests as m
from portal.audit import audit_scope
from portal.authorization import Actor
from portal.client import AdminClient
from portal.errors import LoomError
from portal.publishing import validate_schema
from portal.resources.applier import apply
from portal.resources.change import Change
from portal.resources.deletion import delete
from portal.resources.introspection import fetch_schemas, schema_fetches
from portal.resources.kinds import canonical_kind
from portal.resources.reading import get
from portal.resources.rendering import render

__all__ = ["apply_command", "delete_command", "get_command"]

_APPLY_MUTATION = """
mutation Apply($documents: JSON!, $dryRun: Boolean, $force: Boolean) {
  apply(documents: $documents, dryRun: $dryRun, force: $force) { kind name action details }
}
"""
_GET_QUERY = """
query Resources($kind: String!, $name: String) { resources(kind: $kind, name: $name) }
"""
_DELETE_MUTATION = """
mutation Delete($kind: String!, $name: String!) { deleteResource(kind: $kind, name: $name) }
"""
_REQUEST_DOCUMENT = re.compile(r"\brequest: document (\d+)(?: \([^)]*\))?")


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


def _named_by_file(message: str, documents: Sequence[m.Document]) -> str:
    """The server numbers the documents of one request ("request: document 7"); name the file and the document
    in it instead, as a local apply does, so the user knows which file to fix."""

    def where(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return documents[index - 1].where() if 0 < index <= len(documents) else match.group(0)

    return _REQUEST_DOCUMENT.sub(where, message)


@contextmanager
def _local_engine() -> Iterator[Engine]:
    from portal.db import create_engine_for, prepare_schema
    from portal.settings import Settings

    engine = create_engine_for(Settings())
    try:
        prepare_schema(engine)
        yield engine
    finally:
        engine.dispose()


def _remote(args: argparse.Namespace, query: str, variables: dict[str, Any], http: httpx.Client | None) -> Any:
    with AdminClient(args.server, args.token, http=http) as client:
        return client.execute(query, variables)


def _apply_locally(documents: list[m.Document], *, dry_run: bool, force: bool, max_bytes: int) -> list[Change]:
    from portal.db import session_scope, writer

    actor = Actor.system("loom-apply")
    with _local_engine() as engine:
        with session_scope(engine) as session, audit_scope(via="apply"):
            fetches = schema_fetches(session, actor, documents)
        documents = asyncio.run(fetch_schemas(documents, fetches, max_bytes=max_bytes))
        with session_scope(writer(engine)) as session, audit_scope(via="apply"):
            changes = apply(session, actor, documents, dry_run=dry_run, force=force)
            if dry_run:
                session.rollback()
    return changes


def apply_command(args: argparse.Namespace, *, http: httpx.Client | None = None) -> int:
    """``loom apply -f PATH... [--dry-run] [--force] [--server URL --token TOKEN]``."""
    from portal.settings import Settings

    dry_run = bool(args.dry_run)
    force = bool(getattr(args, "force", False))
    max_bytes = Settings().auth.max_document_bytes
    documents = m.load_documents(args.files, max_bytes=max_bytes)
    if args.server:
        variables = {"documents": [_inline(d) for d in documents], "dryRun": dry_run, "force": force}
        try:
            data = _remote(args, _APPLY_MUTATION, variables, http)
        except LoomError as exc:
            raise type(exc)(_named_by_file(exc.message, documents)) from exc
        changes = [Change(c["kind"], c["name"], c["action"], tuple(c.get("details") or ())) for c in data["apply"]]
    else:
        changes = _apply_locally(documents, dry_run=dry_run, force=force, max_bytes=max_bytes)
    for change in changes:
        print(change.line(dry_run=dry_run))
    return 0


def get_command(args: argparse.Namespace, *, http: httpx.Client | None = None) -> int:
    """``loom get KIND [NAME] -o yaml|json``."""
    if args.server:
        variables = {"kind": canonical_kind(args.kind), "name": args.name}
        resources = _remote(args, _GET_QUERY, variables, http)["resources"]
    else:
        from portal.db import session_scope

        with _local_engine() as engine, session_scope(engine) as session:
            resources = get(session, Actor.system("loom-get"), args.kind, args.name)
    if resources:
        sys.stdout.write(render(resources, args.output).rstrip("\n") + "\n")
    return 0


def delete_command(args: argparse.Namespace, *, http: httpx.Client | None = None) -> int:
    """``loom delete KIND NAME``."""
    kind = canonical_kind(args.kind)
    if args.server:
        _remote(args, _DELETE_MUTATION, {"kind": kind, "name": args.name}, http)
    else:
        from portal.db import session_scope, writer

        with _local_engine() as engine, session_scope(writer(engine)) as session, audit_scope(via="cli"):
            delete(session, Actor.system("loom-delete"), kind, args.name)
    print(f"{kind.lower()}/{args.name} deleted")
    return 0
