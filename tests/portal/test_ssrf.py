"""The SSRF guard: pure decisions on resolved addresses, and real fetches from a uvicorn server on loopback.

No test sends traffic to a non-loopback address: refusals of public, private and metadata targets are decided
before any connection is opened (the guard resolves and checks first).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from portal.authorization import Actor
from portal.db import session_scope
from portal.errors import Invalid
from portal.manifests import Document, parse_documents
from portal.models import Cluster
from portal.resources import Change, apply, fetch_schemas, get, schema_fetches
from portal.ssrf import EgressPolicy, RefusedTarget, check_address, check_url, introspect
from tests._serving import serving

OPENAPI = "openapi: 3.0.3\ninfo: {title: T, version: '1'}\npaths: {}\n"
SUBGRAPH_SDL = 'type Query { me: User }\ntype User @key(fields: "id") { id: ID! }'
LOOPBACK = EgressPolicy(allow_loopback=True)
STRICT = EgressPolicy()


def _graphql_app() -> Starlette:
    from graphql import build_schema, graphql_sync

    schema = build_schema("type Query { hello: String, count: Int }")

    async def graphql(request: Request) -> Response:
        body = await request.json()
        if "_service" in body["query"]:
            return JSONResponse({"data": {"_service": {"sdl": SUBGRAPH_SDL}}})
        result = graphql_sync(schema, body["query"])
        return JSONResponse({"data": result.data})

    async def openapi(request: Request) -> Response:
        return PlainTextResponse(OPENAPI, media_type="application/yaml")

    async def seen_host(request: Request) -> Response:
        return PlainTextResponse(request.headers["host"])

    async def to_metadata(request: Request) -> Response:
        return RedirectResponse("http://169.254.169.254/latest/meta-data/")

    async def to_openapi(request: Request) -> Response:
        return RedirectResponse("/openapi.yaml")

    async def huge(request: Request) -> Response:
        return PlainTextResponse("x" * 5000)

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["POST"]),
            Route("/openapi.yaml", openapi),
            Route("/host", seen_host),
            Route("/redirect-metadata", to_metadata),
            Route("/redirect-local", to_openapi),
            Route("/huge", huge),
        ]
    )


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with serving(_graphql_app(), "the test server", lifespan="off") as url:
        yield url


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as c:
        yield c


@pytest.mark.parametrize(
    "address",
    ["169.254.169.254", "169.254.10.1", "fe80::1", "fd00:ec2::254", "0.0.0.0", "::", "224.0.0.1", "100.100.100.200"],
)
def test_always_refused_even_when_everything_is_allowed(address: str) -> None:
    policy = EgressPolicy.from_hosts(allow_loopback=True, allowed_hosts=["0.0.0.0/0", "::/0"])
    with pytest.raises(RefusedTarget):
        check_address("h", ipaddress.ip_address(address), policy)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_loopback_needs_the_cluster_to_allow_it(address: str) -> None:
    with pytest.raises(RefusedTarget, match="allowLoopback"):
        check_address("h", ipaddress.ip_address(address), STRICT)
    check_address("h", ipaddress.ip_address(address), LOOPBACK)


@pytest.mark.parametrize("address", ["10.1.2.3", "172.16.0.9", "192.168.1.1", "fd12::1", "100.64.0.1"])
def test_private_needs_an_allowed_network(address: str) -> None:
    with pytest.raises(RefusedTarget, match="allowedHosts"):
        check_address("h", ipaddress.ip_address(address), LOOPBACK)
    allowing = EgressPolicy.from_hosts(allow_loopback=False, allowed_hosts=["10.0.0.0/8", "172.16.0.0/12"])
    if address.startswith(("10.", "172.")):
        check_address("h", ipaddress.ip_address(address), allowing)
    else:
        with pytest.raises(RefusedTarget):
            check_address("h", ipaddress.ip_address(address), allowing)


def test_private_host_allowed_by_name() -> None:
    policy = EgressPolicy.from_hosts(allow_loopback=False, allowed_hosts=["inventory.internal"])
    check_address("inventory.internal", ipaddress.ip_address("10.0.0.5"), policy)
    with pytest.raises(RefusedTarget):
        check_address("other.internal", ipaddress.ip_address("10.0.0.5"), policy)


def test_public_addresses_pass() -> None:
    check_address("example.org", ipaddress.ip_address("93.184.216.34"), STRICT)
    check_address("example.org", ipaddress.ip_address("2606:2800:220:1::1"), STRICT)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/x", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("http://user:pw@example.org/", "credentials"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata host"),
        ("http:///nohost", "no host"),
    ],
)
def test_url_shapes_refused(url: str, message: str) -> None:
    with pytest.raises(RefusedTarget, match=message):
        check_url(url)


async def test_graphql_introspection_allowed_on_loopback_when_cluster_allows(
    server_url: str, client: httpx.AsyncClient
) -> None:
    sdl = await introspect(f"{server_url}/graphql", client=client, policy=LOOPBACK, protocol="graphql")
    assert "hello: String" in sdl and "count: Int" in sdl


async def test_federation_and_openapi_fetch(server_url: str, client: httpx.AsyncClient) -> None:
    assert await introspect(f"{server_url}/graphql", client=client, policy=LOOPBACK, protocol="federation") == (
        SUBGRAPH_SDL
    )
    assert await introspect(f"{server_url}/openapi.yaml", client=client, policy=LOOPBACK, protocol="openapi") == (
        OPENAPI
    )


async def test_loopback_refused_when_cluster_does_not_allow(server_url: str, client: httpx.AsyncClient) -> None:
    with pytest.raises(RefusedTarget, match="loopback"):
        await introspect(f"{server_url}/graphql", client=client, policy=STRICT)
    port = server_url.rsplit(":", 1)[1]
    with pytest.raises(RefusedTarget, match="loopback"):
        await introspect(f"http://localhost:{port}/openapi.yaml", client=client, policy=STRICT, protocol="openapi")


async def test_connects_to_checked_address_with_original_host_header(
    server_url: str, client: httpx.AsyncClient
) -> None:
    port = server_url.rsplit(":", 1)[1]
    seen = await introspect(f"http://localhost:{port}/host", client=client, policy=LOOPBACK, protocol="openapi")
    assert seen == f"localhost:{port}"


async def test_redirects_are_checked_hop_by_hop(server_url: str, client: httpx.AsyncClient) -> None:
    with pytest.raises(RefusedTarget, match="metadata"):
        await introspect(f"{server_url}/redirect-metadata", client=client, policy=LOOPBACK, protocol="openapi")
    text = await introspect(f"{server_url}/redirect-local", client=client, policy=LOOPBACK, protocol="openapi")
    assert text == OPENAPI


async def test_response_size_is_limited(server_url: str, client: httpx.AsyncClient) -> None:
    with pytest.raises(Invalid, match="more than 1000 bytes"):
        await introspect(f"{server_url}/huge", client=client, policy=LOOPBACK, protocol="openapi", max_bytes=1000)


async def test_metadata_address_refused_before_connecting(client: httpx.AsyncClient) -> None:
    policy = EgressPolicy.from_hosts(allow_loopback=True, allowed_hosts=["0.0.0.0/0"])
    with pytest.raises(RefusedTarget, match="metadata"):
        await introspect("http://169.254.169.254/latest/meta-data/", client=client, policy=policy)
    with pytest.raises(RefusedTarget, match="private"):
        await introspect("http://10.255.255.1:9/graphql", client=client, policy=LOOPBACK)


async def test_cluster_resources_decide_the_policy(engine: Engine, server_url: str, client: httpx.AsyncClient) -> None:
    """A local-envoy (demo) cluster allows loopback by default; a gitops cluster only when it says so."""
    clusters = [
        {"apiVersion": "loom.dev/v1alpha1", "kind": "Cluster", "metadata": {"name": name},
         "spec": {"region": "local", "residency": "eu", "gloo": {"target": target}, **extra}}
        for name, target, extra in [
            ("demo", "local-envoy", {}),
            ("prod", "gitops", {}),
            ("lab", "gitops", {"introspection": {"allowLoopback": True}}),
        ]
    ]  # fmt: skip
    with session_scope(engine) as session:
        apply(session, Actor.system(), parse_documents(clusters))
    with session_scope(engine) as session:
        rows = {c.name: c for c in session.exec(select(Cluster)).all()}
    url = f"{server_url}/openapi.yaml"
    assert await introspect(url, client=client, policy=EgressPolicy.for_cluster(rows["demo"]), protocol="openapi")
    assert await introspect(url, client=client, policy=EgressPolicy.for_cluster(rows["lab"]), protocol="openapi")
    with pytest.raises(RefusedTarget, match="allowLoopback"):
        await introspect(url, client=client, policy=EgressPolicy.for_cluster(rows["prod"]), protocol="openapi")


def introspected_service(server_url: str, cluster: str) -> list[dict[str, object]]:
    placements = [{"cluster": "demo"}, {"cluster": "prod"}]
    return [
        {"apiVersion": "loom.dev/v1alpha1", "kind": "Cluster", "metadata": {"name": "demo"},
         "spec": {"region": "local", "residency": "eu", "gloo": {"target": "local-envoy"}}},
        {"apiVersion": "loom.dev/v1alpha1", "kind": "Cluster", "metadata": {"name": "prod"},
         "spec": {"region": "eu-1", "residency": "eu", "gloo": {"target": "gitops"}}},
        {"apiVersion": "loom.dev/v1alpha1", "kind": "Team", "metadata": {"name": "hello"},
         "spec": {"placements": placements}},
        {"apiVersion": "loom.dev/v1alpha1", "kind": "Service", "metadata": {"name": "greeter", "team": "hello"},
         "spec": {"protocol": "graphql", "schema": {"introspect": {"cluster": cluster, "path": "/graphql"}},
                  "deployments": [{"cluster": cluster, "address": server_url}]}},
    ]  # fmt: skip


def _apply_fetched(engine: Engine, documents: list[Document]) -> list[Change]:
    """The steps of ``loom apply``: authorize and plan the fetches, fetch (async, outside any transaction), apply."""
    with session_scope(engine) as session:
        fetches = schema_fetches(session, Actor.system(), documents)
    documents = asyncio.run(fetch_schemas(documents, fetches))
    with session_scope(engine) as session:
        return apply(session, Actor.system(), documents)


def test_apply_introspects_a_deployment_through_the_guard(engine: Engine, server_url: str) -> None:
    with pytest.raises(RefusedTarget) as info:
        _apply_fetched(engine, parse_documents(introspected_service(server_url, "prod")))
    assert str(info.value).startswith("request: document 4 (Service/greeter): spec.schema.introspect: 127.0.0.1 is")
    with session_scope(engine) as session:
        assert session.exec(select(Cluster)).all() == []  # nothing written
    changes = _apply_fetched(engine, parse_documents(introspected_service(server_url, "demo")))
    assert [c.line() for c in changes][-1] == "service/greeter created (version 1)"
    with session_scope(engine) as session:
        (printed,) = get(session, Actor.system(), "service", "greeter")
        assert "hello: String" in printed["spec"]["schema"]["sdl"]
    again = _apply_fetched(engine, parse_documents(introspected_service(server_url, "demo")))
    assert again[-1].action == "unchanged"


def test_apply_refuses_a_schema_it_was_not_given(engine: Engine, server_url: str) -> None:
    """Fetching is the caller's async step: apply itself never opens a connection."""
    with session_scope(engine) as session, pytest.raises(Invalid, match="the schema was not fetched"):
        apply(session, Actor.system(), parse_documents(introspected_service(server_url, "demo")))


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433:9/graphql",  # decimal IPv4: the resolver reads it as 127.0.0.1
        "http://0177.0.0.1:9/graphql",  # octal
        "http://0x7f.1:9/graphql",  # hex, short form
        "http://127.1:9/graphql",
        "http://[::ffff:127.0.0.1]:9/graphql",
        "http://[::1]:9/graphql",
        "http://0.0.0.0:9/graphql",
    ],
)
async def test_other_spellings_of_loopback_are_refused_before_connecting(url: str) -> None:
    """The guard checks what the resolver makes of the host, not how it is written (no packet leaves: refused
    before any connection, and every form resolves locally)."""
    async with httpx.AsyncClient() as client:
        with pytest.raises(RefusedTarget, match=r"loopback|not a unicast"):
            await introspect(url, client=client, policy=STRICT)


async def test_userinfo_cannot_dress_up_a_loopback_url() -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(RefusedTarget, match="credentials"):
            await introspect("http://inventory.example@127.0.0.1:9/graphql", client=client, policy=STRICT)


def test_fetch_schemas_caps_each_schema_at_the_size_it_is_given(engine: Engine, server_url: str) -> None:
    """``loom apply`` passes LOOM_AUTH_MAX_DOCUMENT_BYTES: a fetched schema over it is refused where it was asked."""
    documents = parse_documents(introspected_service(server_url, "demo"))
    with session_scope(engine) as session:
        apply(session, Actor.system(), documents[:3])
        fetches = schema_fetches(session, Actor.system(), documents)
    with pytest.raises(Invalid) as info:
        asyncio.run(fetch_schemas(documents, fetches, max_bytes=64))
    assert "sent more than 64 bytes; the schema is too large" in str(info.value)
    assert "Service/greeter): spec.schema.introspect" in str(info.value)
    (filled,) = [d for d in asyncio.run(fetch_schemas(documents, fetches, max_bytes=1_000_000)) if d.kind == "Service"]
    assert "hello: String" in (filled.schema_text or "")
