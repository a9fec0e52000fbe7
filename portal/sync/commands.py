"""The sync worker's commands: ``loom sync``, ``loom status`` and ``loom render``.

* ``loom sync [--once]`` runs the worker (:mod:`portal.sync.runner`): one per installation; a second waits.
* ``loom status [PRODUCT] [--cluster C] [-o table|json|yaml]`` shows what the worker last saw in each cluster: from
  the local database as a platform admin, or from a portal with ``--server URL --token T`` (the admin API's
  ``fleetStatus``, the same rule for who sees what). Both give the same document.
* ``loom render -f PATH... --cluster NAME [--target gloo|envoy] [-o yaml|json]`` prints what the worker would
  apply to one cluster, from resource YAML alone: no server, no database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import Engine

from portal.authorization import Actor
from portal.errors import Invalid
from portal.settings import Settings
from portal.sync.errors import Permanent, Synced, Temporary
from portal.sync.status import ClusterStatus, ProductStatus, UpstreamStatus, visible_fleet_status

__all__ = ["STATUS_QUERY", "render_command", "status_command", "status_document", "sync_command"]

log = logging.getLogger("portal.sync")

_UPSTREAM_FIELDS = "upstream service serving failedOver endpoints { cluster address priority healthy ejected }"
STATUS_QUERY = f"""query($cluster: String, $product: String) {{
  fleetStatus(cluster: $cluster, product: $product) {{
    cluster region zone residency target state message reachable versions {{ component version }}
    observedGeneration appliedGeneration
    lastSuccessAt upstreams {{ {_UPSTREAM_FIELDS} }} gateways {{ gateway version snapshotEtag lastSeenAt }}
    products {{ product cluster verdict reason appliedGeneration updatedAt upstreams {{ {_UPSTREAM_FIELDS} }} }}
  }}
}}"""


# --- loom sync -----------------------------------------------------------------------------------------------------


def sync_command(args: argparse.Namespace) -> int:
    """``loom sync [--once]``: the sync worker (one per installation; a second waits for the first)."""
    from portal.db import create_engine_for, prepare_schema
    from portal.sync.runner import run_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    engine = create_engine_for(settings)
    try:
        prepare_schema(engine)
        if args.once:
            return asyncio.run(_once(settings, engine))
        asyncio.run(run_forever(settings, engine))
        return 0
    finally:
        engine.dispose()


async def _once(settings: Settings, engine: Engine) -> int:
    """One pass, each cluster's outcome printed; exit 1 when a cluster did not sync."""
    from portal.sync.runner import pass_once

    outcomes = await pass_once(settings, engine)
    failed = 0
    for cluster, outcome in sorted(outcomes.items()):
        if isinstance(outcome, Synced):
            print(f"cluster/{cluster} synced (generation {outcome.generation}, {outcome.writes} writes)")
        elif isinstance(outcome, Temporary | Permanent):
            failed += 1
            kind = "will retry" if isinstance(outcome, Temporary) else "refused"
            print(f"cluster/{cluster} failed ({kind}): {outcome.reason}", file=sys.stderr)
    return 1 if failed else 0


# --- loom status ---------------------------------------------------------------------------------------------------


def status_command(args: argparse.Namespace) -> int:
    """``loom status [PRODUCT] [--cluster C] [-o table|json|yaml] [--server URL --token T]``."""
    if args.server:
        from portal.client import AdminClient

        with AdminClient(args.server, args.token) as client:
            data = client.execute(STATUS_QUERY, {"cluster": args.cluster, "product": args.product})
        clusters: list[dict[str, Any]] = data["fleetStatus"]
    else:
        from portal.db import create_engine_for, prepare_schema, session_scope

        engine = create_engine_for(Settings())
        try:
            prepare_schema(engine)
            with session_scope(engine) as session:
                found = visible_fleet_status(
                    session, Actor.system("loom-status"), cluster=args.cluster, product=args.product
                )
        finally:
            engine.dispose()
        clusters = [status_document(s) for s in found]
    if args.output == "json":
        print(json.dumps({"clusters": clusters}, indent=2))
    elif args.output == "yaml":
        print(yaml.safe_dump({"clusters": clusters}, sort_keys=False).rstrip("\n"))
    else:
        print(_table(clusters, args.product))
    return 0


def status_document(status: ClusterStatus) -> dict[str, Any]:
    """A cluster's status as the admin API spells it (camelCase, ISO times): ``loom status -o json`` either way."""
    return {
        "cluster": status.cluster,
        "region": status.region,
        "zone": status.zone,
        "residency": status.residency,
        "target": status.target,
        "state": status.state,
        "message": status.message,
        "reachable": status.reachable,
        "versions": [{"component": str(k), "version": str(v)} for k, v in sorted(status.versions.items())],
        "observedGeneration": status.observed_generation,
        "appliedGeneration": status.applied_generation,
        "lastSuccessAt": _iso(status.last_success_at),
        "upstreams": [_upstream_document(u) for u in status.upstreams],
        "products": [_product_document(p) for p in status.products],
        "gateways": [
            {
                "gateway": g.gateway,
                "version": g.version,
                "snapshotEtag": g.snapshot_etag,
                "lastSeenAt": _iso(g.last_seen_at),
            }
            for g in status.gateways
        ],
    }


def _product_document(status: ProductStatus) -> dict[str, Any]:
    return {
        "product": status.product,
        "cluster": status.cluster,
        "verdict": status.verdict,
        "reason": status.reason,
        "appliedGeneration": status.applied_generation,
        "updatedAt": _iso(status.updated_at),
        "upstreams": [_upstream_document(u) for u in status.upstreams],
    }


def _upstream_document(status: UpstreamStatus) -> dict[str, Any]:
    return {
        "upstream": status.upstream,
        "service": status.service,
        "serving": status.serving,
        "failedOver": status.failed_over,
        "endpoints": [_endpoint_document(e) for e in status.endpoints],
    }


def _endpoint_document(endpoint: Mapping[str, Any]) -> dict[str, Any]:
    """The admin API's ``Endpoint`` (portal.api.shapes, not imported: it loads the whole admin schema); the test
    that compares ``loom status`` through the server with the local one keeps the two spellings equal."""
    priority, cluster, address = endpoint.get("priority"), endpoint.get("cluster"), endpoint.get("address")
    return {
        "cluster": cluster if isinstance(cluster, str) else "",
        "address": address if isinstance(address, str) else "",
        "priority": priority if isinstance(priority, int) and not isinstance(priority, bool) else 0,
        "healthy": endpoint.get("healthy") is True,
        "ejected": endpoint.get("ejected") is True,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _table(clusters: Sequence[Mapping[str, Any]], product: str | None) -> str:
    """Two tables for people: clusters, then each product in each cluster with each upstream's serving cluster."""
    if not clusters:
        return "no clusters"
    rows = [["CLUSTER", "REGION", "RESIDENCY", "STATE", "REACHABLE", "VERSIONS", "GENERATION", "LAST SYNC"]]
    for c in clusters:
        seen = sorted({g["version"] for g in c.get("gateways") or ()})
        stated = [(v["component"], v["version"]) for v in c.get("versions") or ()] + [("gateway", v) for v in seen]
        versions = " ".join(f"{k} {v}" for k, v in stated) or "-"
        reachable = {True: "yes", False: "no", None: "-"}[c.get("reachable")]
        generation = f"{c['appliedGeneration']}/{c['observedGeneration']}"
        rows.append([c["cluster"], c["region"], c["residency"], c["state"], reachable, versions, generation, _when(c)])
    out = [_columns(rows)]
    problems = [f"  {c['cluster']}: {c['message']}" for c in clusters if c["state"] != "synced" and c["message"]]
    if problems:
        out.append("\n".join(problems))
    products = [["PRODUCT", "CLUSTER", "VERDICT", "GENERATION", "UPSTREAMS", "REASON"]]
    for c in clusters:
        for p in c["products"]:
            products.append(
                [
                    p["product"],
                    c["cluster"],
                    p["verdict"],
                    str(p["appliedGeneration"]),
                    _upstreams_cell(p["upstreams"]),
                    p["reason"] or "-",
                ]
            )
    if len(products) > 1:
        out.append(_columns(products))
    elif product is not None:
        out.append(f"product {product} is offered in none of these clusters")
    return "\n\n".join(out)


def _upstreams_cell(upstreams: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for u in upstreams:
        name = u.get("service") or u["upstream"]
        serving = u.get("serving")
        if serving is None:
            parts.append(f"{name}: NOTHING HEALTHY")
        elif u.get("failedOver"):
            parts.append(f"{name}: failed over to {serving}")
        else:
            parts.append(f"{name}: {serving}")
    return ", ".join(parts) or "-"


def _when(cluster: Mapping[str, Any]) -> str:
    value = cluster.get("lastSuccessAt")
    return str(value)[:19].replace("T", " ") if value else "never"


def _columns(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


# --- loom render ---------------------------------------------------------------------------------------------------


def render_command(args: argparse.Namespace) -> int:
    """``loom render -f PATH... --cluster NAME [--target gloo|envoy] [-o yaml|json]``: no server, no database."""
    from portal.manifests import load_documents
    from portal.sync.documents import from_documents
    from portal.sync.model import route

    documents = load_documents([Path(f) for f in args.files])
    if not documents:
        raise Invalid(f"{', '.join(args.files)} holds no resources")
    desired = from_documents(documents, source=", ".join(args.files))
    if args.cluster not in desired.clusters:
        names = ", ".join(sorted(desired.clusters)) or "none"
        raise Invalid(f"no cluster named {args.cluster!r} in these files (clusters: {names})")
    routing = route(desired)[args.cluster]
    if routing.problems:
        raise Invalid(f"cluster {args.cluster} cannot be rendered: " + "; ".join(str(p) for p in routing.problems))
    target = args.target or ("envoy" if routing.cluster.target == "local-envoy" else "gloo")
    objects: list[Any]
    if target == "envoy":
        from portal.sync.envoy import render as render_envoy

        objects = [render_envoy(routing).bootstrap()]
    else:
        from portal.sync.crd_validation import validate
        from portal.sync.gloo import render as render_gloo

        objects = list(render_gloo(routing))
        for obj in objects:
            validate(obj)
    if args.output == "json":
        print(json.dumps(objects if len(objects) != 1 else objects[0], indent=2, sort_keys=False))
    else:
        print(yaml.safe_dump_all(objects, sort_keys=False).rstrip("\n"))
    return 0
