"""``apply``, ``resources`` and ``deleteResource`` through the admin API: the same service layer as ``loom apply``."""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from portal.models import AuditEvent, AuditOutcome, Cluster, Service
from tests.portal._apply import LIBRARY
from tests.portal.api.conftest import Gql, Person, codes

APPLY = "mutation($d: JSON!, $dry: Boolean) { apply(documents: $d, dryRun: $dry) { kind name action details } }"


def library_documents() -> list[dict[str, Any]]:
    """The example library as the JSON the CLI sends with --server (schema files inlined)."""
    docs: list[dict[str, Any]] = []
    for path in sorted(LIBRARY.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict) or "kind" not in doc:
                continue  # the OpenAPI file beside the resources
            schema = doc.get("spec", {}).get("schema")
            if isinstance(schema, dict) and "file" in schema:
                text = (LIBRARY / schema.pop("file")).read_text()
                schema["openapi" if doc["spec"]["protocol"] == "openapi" else "sdl"] = text
            docs.append(doc)
    return docs


def _service(name: str, team: str, cluster: str, namespace: str | None = None) -> dict[str, Any]:
    deployment: dict[str, Any] = {"cluster": cluster}
    if namespace is None:
        deployment["address"] = "http://127.0.0.1:7000"
    else:
        deployment["kube"] = {"service": name, "namespace": namespace, "port": 8080}
    return {
        "apiVersion": "loom.dev/v1alpha1",
        "kind": "Service",
        "metadata": {"name": name, "team": team},
        "spec": {"protocol": "graphql", "schema": {"sdl": "type Query { a: Int }"}, "deployments": [deployment]},
    }


def _services(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return sorted(session.exec(select(Service.name)).all())


async def test_library_applies_and_reapplying_changes_nothing(gql: Gql, people: dict[str, Person]) -> None:
    admin = people["platform-admin"]
    docs = library_documents()
    dry = await gql(APPLY, {"d": docs, "dry": True}, as_=admin)
    assert "errors" not in dry, dry
    assert {c["action"] for c in dry["data"]["apply"]} == {"created"}
    assert (await gql("{ services { name } }", as_=admin))["data"]["services"] == []  # the dry run wrote nothing

    first = await gql(APPLY, {"d": docs}, as_=admin)
    assert "errors" not in first, first
    assert len(first["data"]["apply"]) == len(docs)
    services = await gql("{ services { name team versions { version } } }", as_=admin)
    assert {s["name"] for s in services["data"]["services"]} == {"members", "loans", "catalog"}

    exported = await gql('{ resources(kind: "Service") }', as_=admin)
    again = await gql(APPLY, {"d": exported["data"]["resources"]}, as_=admin)
    assert "errors" not in again, again
    assert {c["action"] for c in again["data"]["apply"]} == {"unchanged"}


async def test_one_bad_document_changes_nothing(gql: Gql, people: dict[str, Person], engine: Engine) -> None:
    good = _service("good", "alpha", "eu")
    bad = _service("bad", "alpha", "eu")
    bad["spec"]["colour"] = "blue"
    body = await gql(APPLY, {"d": [good, bad]}, as_=people["platform-admin"])
    assert codes(body) == ["INVALID"]
    message = body["errors"][0]["message"]
    assert "document 2" in message and "spec.colour" in message
    assert _services(engine) == []


async def test_team_scope_and_placements_hold_through_the_api(
    gql: Gql, people: dict[str, Person], engine: Engine
) -> None:
    member = people["team-member"]  # mike: team-member of alpha, which may publish in eu, namespace alpha only
    other_team = await gql(APPLY, {"d": [_service("theirs", "beta", "eu")]}, as_=member)
    assert codes(other_team) == ["FORBIDDEN"]
    assert "team 'beta'" in other_team["errors"][0]["message"]

    wrong_namespace = await gql(APPLY, {"d": [_service("spill", "alpha", "eu", namespace="beta")]}, as_=member)
    assert codes(wrong_namespace) == ["FORBIDDEN"]
    assert "namespace 'beta'" in wrong_namespace["errors"][0]["message"]

    with Session(engine) as session:
        session.add(Cluster(name="us", residency="us"))
        session.commit()
    wrong_cluster = await gql(APPLY, {"d": [_service("abroad", "alpha", "us")]}, as_=member)
    assert codes(wrong_cluster) == ["FORBIDDEN"]
    assert "cluster 'us'" in wrong_cluster["errors"][0]["message"]

    ok = await gql(APPLY, {"d": [_service("mine", "alpha", "eu", namespace="alpha")]}, as_=member)
    assert "errors" not in ok, ok
    assert _services(engine) == ["mine"]
    with Session(engine) as session:
        events = session.exec(select(AuditEvent).where(col(AuditEvent.actor) == "mike")).all()
    allowed = [e.action for e in events if e.outcome is AuditOutcome.ALLOWED]
    denied = [(e.action, e.summary.get("reason", "")) for e in events if e.outcome is AuditOutcome.DENIED]
    assert allowed == ["service.publish"]
    assert len(denied) == 3  # every refusal is in the audit log, whichever layer refused it
    assert any("namespace 'beta'" in reason for _action, reason in denied)
    assert any("cluster 'us'" in reason for _action, reason in denied)


async def test_delete_resource(gql: Gql, people: dict[str, Person], engine: Engine) -> None:
    admin = people["platform-admin"]
    assert "errors" not in await gql(APPLY, {"d": [_service("doomed", "alpha", "eu")]}, as_=admin)
    in_use = await gql('mutation { deleteResource(kind: "Cluster", name: "eu") }', as_=admin)
    assert codes(in_use) == ["CONFLICT"]
    assert "doomed" in in_use["errors"][0]["message"]
    gone = await gql('mutation { deleteResource(kind: "Service", name: "doomed") }', as_=admin)
    assert "errors" not in gone, gone
    assert _services(engine) == []
    unknown = await gql('mutation { deleteResource(kind: "Gadget", name: "x") }', as_=admin)
    assert codes(unknown) == ["INVALID"]
