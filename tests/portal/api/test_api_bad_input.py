"""The issue's list of bad input, through the real portal app's ``apply`` mutation on a real database: each case gets a
clear error with its code and the field to fix, never a 500, and changes nothing (rows counted before and after).

Malformed YAML cannot reach the API (it takes JSON): ``loom apply`` reads YAML, see ``tests/portal/test_manifests.py``
and ``tests/portal/test_cli_resources.py``.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from portal.accounts import create_token, find_user, revoke_token
from portal.models import Cluster, utcnow
from portal.settings import Settings
from tests.portal._apply import counts
from tests.portal.api.conftest import SYSTEM, Gql, Person, codes

APPLY = "mutation($d: JSON!) { apply(documents: $d) { kind name action } }"
MAX_BYTES = 16 * 1024


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A small document limit, so the over-size case stays cheap."""
    return settings.model_copy(update={"auth": settings.auth.model_copy(update={"max_document_bytes": MAX_BYTES})})


def service(name: str = "svc", team: str = "alpha", **spec: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "loom.dev/v1alpha1",
        "kind": "Service",
        "metadata": {"name": name, "team": team},
        "spec": {
            "protocol": "graphql",
            "schema": {"sdl": "type Query { a: Int }"},
            "deployments": [{"cluster": "eu", "kube": {"service": name, "namespace": team, "port": 8080}}],
        },
    }
    doc["spec"].update(spec)
    return doc


def product(**routing: Any) -> dict[str, Any]:
    return {
        "apiVersion": "loom.dev/v1alpha1",
        "kind": "Product",
        "metadata": {"name": "prod", "team": "alpha"},
        "spec": {"version": "1.0.0", "sources": [{"service": "svc"}], "routing": {"clusters": ["eu"], **routing}},
    }


def with_(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    *parents, last = path.split(".")
    node: Any = out
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[last] = value
    return out


ADMIN, MEMBER = "platform-admin", "team-member"
CASES: list[tuple[str, str, list[dict[str, Any]], str, str]] = [
    ("unknown kind", ADMIN, [{"apiVersion": "loom.dev/v1alpha1", "kind": "Gadget", "metadata": {"name": "g"}}],
     "INVALID", "unknown kind 'Gadget'"),
    ("unknown field", ADMIN, [with_(service(), "spec.colour", "blue")], "INVALID", "spec.colour"),
    ("unknown enum value", ADMIN, [with_(service(), "spec.protocol", "soap")], "INVALID", "spec.protocol"),
    ("wrong type", ADMIN, [with_(service(), "spec.deployments.0.kube.port", "eighty")], "INVALID",
     "spec.deployments[0].kube.port"),
    ("missing cluster", ADMIN, [with_(service(), "spec.deployments.0.cluster", "nowhere")], "INVALID",
     "spec.deployments[0].cluster: Cluster 'nowhere' does not exist"),
    ("missing team", ADMIN, [service(team="gamma")], "INVALID", "metadata.team: Team 'gamma' does not exist"),
    ("missing service", ADMIN, [product()], "INVALID", "spec.sources[0].service: Service 'svc' does not exist"),
    ("duplicate names", ADMIN, [service(), service()], "INVALID", "metadata.name: duplicate Service 'svc'"),
    ("invalid SDL", ADMIN, [with_(service(), "spec.schema", {"sdl": "type Query {"})], "INVALID", "spec.schema"),
    ("invalid OpenAPI", ADMIN, [service(protocol="openapi", schema={"openapi": "openapi: 3.0.3\npaths: ["})],
     "INVALID", "spec.schema"),
    ("over the size limit", ADMIN, [with_(service(), "metadata.description", "x" * MAX_BYTES)], "INVALID",
     f"over the limit of {MAX_BYTES} bytes"),
    ("SSRF target", ADMIN,
     [service(schema={"introspect": {"cluster": "eu", "path": "/graphql"}},
              deployments=[{"cluster": "eu", "address": "http://169.254.169.254"}])],
     "INVALID", "spec.schema.introspect: 169.254.169.254"),
    ("residency no cluster has", ADMIN, [service(), product(residency="ch")], "INVALID",
     "spec.routing.residency: no cluster has residency 'ch'"),
    ("another team's service", MEMBER, [service(team="beta")], "FORBIDDEN",
     "lacks permission 'service.publish' on service 'svc' of team 'beta'"),
    ("a namespace not granted", MEMBER, [with_(service(), "spec.deployments.0.kube.namespace", "beta")], "FORBIDDEN",
     "not granted namespace 'beta' in cluster 'eu'"),
    ("a cluster not granted", MEMBER, [with_(service(), "spec.deployments.0.cluster", "us")], "FORBIDDEN",
     "team 'alpha' is not granted cluster 'us'"),
]  # fmt: skip


async def test_each_bad_input_is_a_clear_error_and_changes_nothing(
    gql: Gql, people: dict[str, Person], engine: Engine
) -> None:
    with Session(engine) as session:  # a second cluster that alpha is not granted
        session.add(Cluster(name="us", residency="us"))
        session.commit()
    failures: list[str] = []
    for label, who, documents, code, message in CASES:
        before = counts(engine)
        body = await gql(APPLY, {"d": documents}, as_=people[who])
        if codes(body) != [code] or message not in body["errors"][0]["message"]:
            failures.append(f"{label}: wanted {code} with {message!r}, got {body}")
        if counts(engine) != before:
            failures.append(f"{label}: the database changed")
    assert not failures, "\n".join(failures)
    # and the same documents, once fixed, apply: the cases failed for the reason named, not another
    ok = await gql(APPLY, {"d": [service(), product(residency="eu")]}, as_=people[ADMIN])
    assert "errors" not in ok, ok


async def test_an_expired_or_revoked_token_changes_nothing(gql: Gql, people: dict[str, Person], engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        root = find_user(session, people[ADMIN].name)
        expired = create_token(session, SYSTEM, root, expires_in_days=1, now=utcnow() - timedelta(days=2)).token
        revoked = create_token(session, SYSTEM, root)
        revoke_token(session, SYSTEM, revoked.row.prefix)
        session.commit()
    before = counts(engine)
    for token, message in ((expired, "expired at"), (revoked.token, "was revoked")):
        body = await gql(APPLY, {"d": [service()]}, as_=Person(root.name, token))
        assert codes(body) == ["UNAUTHENTICATED"] and message in body["errors"][0]["message"], body
    assert counts(engine) == before


async def test_alias_depth_and_token_bombs_are_refused_before_they_run(gql: Gql, people: dict[str, Person]) -> None:
    """One request must not fan out into thousands of resolver calls (each a database transaction) or a
    response the size of the schema to the power of the nesting."""
    admin = people["platform-admin"]
    aliases = "{ " + " ".join(f"t{i}: teams {{ name }}" for i in range(200)) + " }"
    body = await gql(aliases, as_=admin)
    assert codes(body) == ["INVALID"] and body.get("data") is None
    assert "aliases" in body["errors"][0]["message"]

    # Introspection recursing through lists (types -> fields -> type -> fields ...) fans out over the whole schema.
    fan_out = "name"
    for _ in range(4):
        fan_out = f"fields {{ type {{ {fan_out} }} }}"
    body = await gql(f"{{ __schema {{ types {{ {fan_out} }} }} }}", as_=admin)
    assert codes(body) == ["INVALID"] and "introspection" in body["errors"][0]["message"].lower()

    tokens = "{ " + " ".join("a" for _ in range(12_000)) + " }"  # refused before it is even parsed
    body = await gql(tokens, as_=admin)
    assert codes(body) == ["INVALID"] and "token" in body["errors"][0]["message"].lower()

    normal = await gql("{ a: teams { name } b: teams { name } }", as_=admin)  # a few aliases are fine
    assert "errors" not in normal and normal["data"]["a"] == normal["data"]["b"]


async def test_graphiql_introspection_still_passes_the_limits(gql: Gql, people: dict[str, Person]) -> None:
    from graphql import get_introspection_query

    body = await gql(get_introspection_query(descriptions=True), as_=people["viewer"])
    assert "errors" not in body and body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_an_oversized_request_body_is_refused_unread(
    client: httpx.AsyncClient, people: dict[str, Person]
) -> None:
    """The body limit is four documents' worth (``LOOM_AUTH_MAX_DOCUMENT_BYTES``): a 1 MB body here is 413 with a
    GraphQL error, whether it declares its length or streams it."""
    headers = {"authorization": f"Bearer {people['platform-admin'].token}", "content-type": "application/json"}
    huge = b'{"query": "{ me { name } }", "variables": {"pad": "' + b"x" * 1_000_000 + b'"}}'
    response = await client.post("/api/graphql", content=huge, headers=headers)
    assert response.status_code == 413 and response.json()["errors"][0]["extensions"]["code"] == "INVALID"
    assert "bytes" in response.json()["errors"][0]["message"]

    async def chunks() -> AsyncIterator[bytes]:
        yield huge[:500_000]
        yield huge[500_000:]

    streamed = await client.post("/api/graphql", content=chunks(), headers=headers)
    assert streamed.status_code == 413
    fits = await client.post("/api/graphql", json={"query": "{ me { name } }"}, headers=headers)
    assert fits.status_code == 200 and fits.json()["data"]["me"]["name"] == "root"


async def test_a_deeply_nested_body_is_a_clear_400(client: httpx.AsyncClient, people: dict[str, Person]) -> None:
    """Python's JSON parser gives up on deep nesting with RecursionError, which the API answered as a bare 500."""
    deep = b"[" * 20_000 + b"]" * 20_000
    body = b'{"query": "{ me { name } }", "variables": {"x": ' + deep + b"}}"
    headers = {"authorization": f"Bearer {people['viewer'].token}", "content-type": "application/json"}
    response = await client.post("/api/graphql", content=body, headers=headers)
    assert response.status_code == 400 and response.json()["errors"][0]["extensions"]["code"] == "INVALID"
    assert "nest" in response.json()["errors"][0]["message"]
