"""The admin API's typed shapes (what the tables keep as JSON), errors located in parts, the audit log by time and the
composition preview, through the real portal app on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from portal.api.errors import location_of
from portal.models import AuditEvent, AuditOutcome, Cluster
from tests.portal.api.conftest import Gql, Person, codes

APPLY = "mutation($d: JSON!, $dry: Boolean) { apply(documents: $d, dryRun: $dry) { kind name action details } }"
PREVIEW = "query($d: JSON!) { composePreview(document: $d) { composes sdl conflicts unpublished } }"


def service(name: str, sdl: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "loom.dev/v1alpha1",
        "kind": "Service",
        "metadata": {"name": name, "team": "alpha"},
        "spec": {
            "protocol": "graphql",
            "schema": {"sdl": sdl},
            "deployments": [{"cluster": "eu", "address": "http://127.0.0.1:7000"}],
            **spec,
        },
    }


def product(*sources: dict[str, Any], version: str = "1.0.0") -> dict[str, Any]:
    return {
        "apiVersion": "loom.dev/v1alpha1",
        "kind": "Product",
        "metadata": {"name": "shop", "team": "alpha"},
        "spec": {"version": version, "sources": list(sources), "routing": {"clusters": ["eu"]}},
    }


def test_a_path_splits_into_file_document_kind_name_and_field() -> None:
    assert location_of("request: document 2 (Service/inventory): spec.deployments[0].cluster") == {
        "file": "request",
        "document": 2,
        "kind": "Service",
        "name": "inventory",
        "field": "spec.deployments[0].cluster",
    }
    assert location_of("services.yaml: document 1 (Product/shop)") == {
        "file": "services.yaml",
        "document": 1,
        "kind": "Product",
        "name": "shop",
        "field": None,
    }
    assert location_of("request: document 3: apiVersion")["field"] == "apiVersion"
    nothing = {"document": None, "kind": None, "name": None}
    assert location_of("services.yaml") == {"file": "services.yaml", **nothing, "field": None}
    assert location_of("state") == {"file": None, "document": None, "kind": None, "name": None, "field": "state"}


async def test_an_apply_error_carries_its_location_and_the_bare_message(gql: Gql, people: dict[str, Person]) -> None:
    bad = service("inventory", "type Query { a: Int }")
    bad["spec"]["deployments"][0]["cluster"] = "nowhere"
    body = await gql(
        APPLY, {"d": [service("other", "type Query { b: Int }"), bad], "dry": True}, as_=people["team-admin"]
    )
    [error] = body["errors"]
    extensions = error["extensions"]
    assert extensions["location"] == {
        "file": "request",
        "document": 2,
        "kind": "Service",
        "name": "inventory",
        "field": "spec.deployments[0].cluster",
    }
    assert "nowhere" in extensions["detail"] and not extensions["detail"].startswith("request:")
    assert error["message"].startswith(extensions["field"])  # the one-line message names the place too


async def test_typed_entities_labels_gloo_and_transforms(gql: Gql, people: dict[str, Person], engine: Engine) -> None:
    with Session(engine) as session:
        eu = session.exec(select(Cluster).where(col(Cluster.name) == "eu")).one()
        eu.labels = {"tier": "gold", "env": "prod"}
        eu.gloo = {"target": "local-envoy", "failoverGateway": {"host": "10.0.0.2", "port": 15443}}
        session.add(eu)
        session.commit()
    admin = people["team-admin"]
    members = service(
        "members",
        "type Query { member(id: ID!): Member } type Member { id: ID! name: String }",
        entities={"Member": {"key": "id", "operation": "member", "argument": "id"}},
    )
    source = {"service": "members", "prefix": "M", "renameFields": {"Query.member": "person"}, "hide": ["Member.name"]}
    body = await gql(APPLY, {"d": [members, product(source)]}, as_=admin)
    assert "errors" not in body, body
    answer = await gql(
        """{ cluster(name: "eu") { labels { key value } gloo { target failoverGateway { host port } proxy { admin } } }
             service(name: "members") { entities { type key operation argument batched } }
             product(name: "shop") { versions { routing { clusters residency } rest { method }
               sources { transforms { prefix renameTypes { from to } renameFields { from to } hide } } } } }""",
        as_=admin,
    )
    assert "errors" not in answer, answer
    data = answer["data"]
    assert data["cluster"]["labels"] == [{"key": "env", "value": "prod"}, {"key": "tier", "value": "gold"}]
    assert data["cluster"]["gloo"] == {
        "target": "local-envoy",
        "failoverGateway": {"host": "10.0.0.2", "port": 15443},
        "proxy": None,
    }
    assert data["service"]["entities"] == [
        {"type": "Member", "key": "id", "operation": "member", "argument": "id", "batched": None}
    ]
    [version] = data["product"]["versions"]
    assert version["routing"] == {"clusters": ["eu"], "residency": None} and version["rest"] == []
    assert version["sources"][0]["transforms"] == {
        "prefix": "M",
        "renameTypes": [],
        "renameFields": [{"from": "Query.member", "to": "person"}],
        "hide": ["Member.name"],
    }
    events = await gql('{ auditEvents(action: "product.apply") { summary { key value } } }', as_=admin)
    summary = {d["key"]: d["value"] for d in events["data"]["auditEvents"][0]["summary"]}
    assert summary["change"] == "created" and summary["details"].startswith("[")  # a list as compact JSON


async def test_the_audit_log_filters_by_time(gql: Gql, people: dict[str, Person], engine: Engine) -> None:
    admin = people["platform-admin"]
    now = datetime.now(UTC)
    with Session(engine) as session:
        for days, target in ((10, "old"), (5, "middle"), (1, "new")):
            session.add(
                AuditEvent(
                    actor="root",
                    action="test.event",
                    target_kind="test",
                    target_name=target,
                    outcome=AuditOutcome.ALLOWED,
                    created_at=now - timedelta(days=days),
                )
            )
        session.commit()
    query = """query($s: DateTime, $u: DateTime) {
      auditEvents(action: "test.event", since: $s, until: $u) { targetName } }"""

    async def targets(since: datetime | None, until: datetime | None) -> list[str]:
        variables = {"s": since.isoformat() if since else None, "u": until.isoformat() if until else None}
        body = await gql(query, variables, as_=admin)
        assert "errors" not in body, body
        return [e["targetName"] for e in body["data"]["auditEvents"]]

    assert await targets(None, None) == ["new", "middle", "old"]
    assert await targets(now - timedelta(days=6), None) == ["new", "middle"]
    assert await targets(None, now - timedelta(days=2)) == ["middle", "old"]
    assert await targets(now - timedelta(days=6), now - timedelta(days=2)) == ["middle"]
    naive = (now - timedelta(days=6)).replace(tzinfo=None).isoformat()  # read as UTC
    body = await gql(query, {"s": naive}, as_=admin)
    assert [e["targetName"] for e in body["data"]["auditEvents"]] == ["new", "middle"]
    backwards = await gql(query, {"s": now.isoformat(), "u": (now - timedelta(days=1)).isoformat()}, as_=admin)
    assert codes(backwards) == ["INVALID"] and backwards["errors"][0]["extensions"]["location"]["field"] == "until"


async def test_the_composition_preview_shows_the_schema_or_the_conflicts(
    gql: Gql, people: dict[str, Person], engine: Engine
) -> None:
    admin = people["team-admin"]
    people_sdl = "type Query { member: Person } type Person { id: ID! }"
    members_sdl = "type Query { member: Member } type Member { id: ID! }"
    body = await gql(APPLY, {"d": [service("people", people_sdl), service("members", members_sdl)]}, as_=admin)
    assert "errors" not in body, body

    clash = await gql(PREVIEW, {"d": product({"service": "people"}, {"service": "members"})}, as_=admin)
    preview = clash["data"]["composePreview"]
    assert preview["composes"] is False and preview["sdl"] is None
    assert any("Query.member" in c and "people" in c and "members" in c for c in preview["conflicts"]), preview

    hidden = product({"service": "people"}, {"service": "members", "hide": ["Query.member"]})
    fine = (await gql(PREVIEW, {"d": hidden}, as_=admin))["data"]["composePreview"]
    assert fine["composes"] is True and fine["conflicts"] == []
    assert "member: Person" in fine["sdl"] and "Member" in fine["sdl"]

    renamed = product({"service": "people"}, {"service": "members", "renameFields": {"Query.member": "other"}})
    sdl = (await gql(PREVIEW, {"d": renamed}, as_=admin))["data"]["composePreview"]["sdl"]
    assert "other: Member" in sdl

    with Session(engine) as session:  # a preview saves nothing
        assert session.exec(select(AuditEvent).where(col(AuditEvent.target_kind) == "product")).first() is None

    missing = await gql(PREVIEW, {"d": product({"service": "people"}, {"service": "ghost"})}, as_=admin)
    assert codes(missing) == ["INVALID"]
    assert missing["errors"][0]["extensions"]["location"]["field"] == "spec.sources[1].service"
    bad_version = await gql(PREVIEW, {"d": product({"service": "people"}, version="one")}, as_=admin)
    assert bad_version["errors"][0]["extensions"]["location"]["field"] == "spec.version"
    refused = await gql(PREVIEW, {"d": hidden}, as_=people["consumer"])
    assert codes(refused) == ["FORBIDDEN"]


async def test_an_introspection_the_ssrf_guard_refuses_says_so_where(gql: Gql, people: dict[str, Person]) -> None:
    doc = service("metadata", "")
    doc["spec"]["schema"] = {"introspect": {"cluster": "eu"}}
    doc["spec"]["deployments"] = [{"cluster": "eu", "address": "http://169.254.169.254"}]
    body = await gql(APPLY, {"d": [doc], "dry": True}, as_=people["team-admin"])
    [error] = body["errors"]
    assert error["extensions"]["refusedBy"] == "egress-guard"
    assert error["extensions"]["location"]["field"] == "spec.schema.introspect"
    assert "169.254.169.254" in error["extensions"]["detail"]
