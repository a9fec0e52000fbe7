"""The gateway app end to end: real upstreams on loopback (uvicorn threads), the real executor and composer, the
real aiohttp transport, the real Redis for shared rate limits. The app runs its own lifespan and is called through
``httpx.ASGITransport``; snapshots come from a ``StaticSnapshotSource`` (the portal is another component).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from starlette.applications import Starlette

from stitcher.app import GRAPHQL_RESPONSE_JSON, Gateway, GatewayOptions, create_gateway_app
from stitcher.composition import compose
from stitcher.credentials import generate_api_key
from stitcher.ir import SourceKind
from stitcher.options import Limits, Timeouts
from stitcher.snapshot import (
    CredentialConfig,
    EgressConfig,
    OAuthConfig,
    PlanConfig,
    ProductConfig,
    RateLimitConfig,
    RestRoute,
    Snapshot,
    SourceConfig,
    SubscriptionConfig,
)
from stitcher.snapshot_source import PortalSnapshotSource, StaticSnapshotSource
from stitcher.sources import SourceSpec
from stitcher.supergraph import load_supergraph, print_supergraph_sdl
from tests.stitcher.gateway_upstreams import BOOKS_SDL, INVENTORY_OPENAPI, ServerThread, books_app, inventory_app
from tests.stitcher.test_credentials import AUDIENCE, ISSUER, JwksServer

REDIS_URL = os.environ.get("LOOM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
JSON_HEADERS = {"accept": "application/json"}
GQL_HEADERS = {"accept": GRAPHQL_RESPONSE_JSON}


@dataclass
class Upstreams:
    books: str
    inventory: str
    books_calls: list[dict[str, Any]] = field(default_factory=list)
    inventory_calls: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    books_calls: list[dict[str, Any]] = []
    inventory_calls: list[dict[str, Any]] = []
    with (
        ServerThread(books_app(books_calls)) as books,
        ServerThread(inventory_app(inventory_calls)) as inventory,
    ):
        yield Upstreams(books.url, inventory.url, books_calls, inventory_calls)


@dataclass
class Keys:
    gold: str
    other: str


def _sources(up: Upstreams, inventory_url: str | None = None) -> list[SourceConfig]:
    return [
        SourceConfig(name="books", protocol=SourceKind.GRAPHQL, schema_text=BOOKS_SDL, url=f"{up.books}/graphql"),
        SourceConfig(
            name="inventory",
            protocol=SourceKind.OPENAPI,
            schema_text=INVENTORY_OPENAPI,
            url=inventory_url or up.inventory,
        ),
    ]


def make_snapshot(up: Upstreams, *, requests_per_minute: int = 100) -> tuple[Snapshot, Keys]:
    gold, gold_prefix, gold_hash = generate_api_key()
    other, other_prefix, other_hash = generate_api_key()
    shop = ProductConfig(
        name="shop",
        version="1.2.0",
        sources=_sources(up),
        rest=[
            RestRoute(path="/books/{id}", operation="query Book($id: ID!) { book(id: $id) { id title } }"),
            RestRoute(
                method="POST",
                path="/books",
                operation="mutation Add($title: String!) { addBook(title: $title) { title } }",
            ),
            RestRoute(path="/stock/{id}", operation="query($id: String!) { getStock(id: $id) { count } }"),
        ],
    )
    snapshot = Snapshot(
        products=[shop, ProductConfig(name="open", sources=_sources(up)[:1], auth_required=False)],
        plans=[PlanConfig(name="gold", rate_limit=RateLimitConfig(requests=requests_per_minute, window_seconds=60))],
        credentials=[
            CredentialConfig(id="k1", application="app", kind="api_key", prefix=gold_prefix, key_hash=gold_hash),
            CredentialConfig(id="k2", application="lurker", kind="api_key", prefix=other_prefix, key_hash=other_hash),
        ],
        subscriptions=[SubscriptionConfig(application="app", product="shop", plan="gold")],
    )
    return snapshot, Keys(gold, other)


@contextlib.asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client,
    ):
        yield client


async def wait_ready(client: httpx.AsyncClient) -> None:
    for _ in range(500):
        if (await client.get("/readyz")).status_code == 200:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the gateway did not become ready")


def _options(**changes: Any) -> GatewayOptions:
    return GatewayOptions(**{"freeze_gc": False, "timeouts": Timeouts(poll_interval_seconds=0.05), **changes})


# -- one supergraph at /graphql --------------------------------------------------------------------------------


@pytest.fixture
async def single(upstreams: Upstreams) -> AsyncIterator[httpx.AsyncClient]:
    spec = SourceSpec("books", SourceKind.GRAPHQL, BOOKS_SDL, url=f"{upstreams.books}/graphql")
    supergraph = load_supergraph(print_supergraph_sdl(compose([spec])))
    app = create_gateway_app(supergraph=supergraph, options=_options(limits=Limits(max_body_bytes=2000)))
    async with serving(app) as client:
        yield client


async def test_post_and_get_queries(single: httpx.AsyncClient) -> None:
    query = "query B($id: ID!) { book(id: $id) { title } }"
    posted = await single.post("/graphql", json={"query": query, "variables": {"id": "2"}}, headers=GQL_HEADERS)
    assert posted.status_code == 200
    assert posted.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    assert posted.json() == {"data": {"book": {"title": "Book 2"}}}
    got = await single.get("/graphql", params={"query": query, "variables": '{"id": "3"}'}, headers=JSON_HEADERS)
    assert got.status_code == 200 and got.headers["content-type"].startswith("application/json")
    assert got.json() == {"data": {"book": {"title": "Book 3"}}}
    # No Accept header: application/json, as the spec says for legacy clients.
    bare = await single.post("/graphql", json={"query": "{ books { id } }"})
    assert bare.headers["content-type"].startswith("application/json") and len(bare.json()["data"]["books"]) >= 5


async def test_mutations_need_post(single: httpx.AsyncClient) -> None:
    mutation = 'mutation { addBook(title: "New") { title } }'
    refused = await single.get("/graphql", params={"query": mutation}, headers=GQL_HEADERS)
    assert refused.status_code == 405 and refused.headers["allow"] == "POST"
    assert "POST" in refused.json()["errors"][0]["message"]
    done = await single.post("/graphql", json={"query": mutation}, headers=GQL_HEADERS)
    assert done.status_code == 200 and done.json() == {"data": {"addBook": {"title": "New"}}}
    assert (await single.put("/graphql", json={"query": "{ books { id } }"})).status_code == 405
    head = await single.head("/graphql", params={"query": "{ books { id } }"})
    assert head.status_code == 200 and head.content == b""


@pytest.mark.parametrize(
    ("document", "code_fragment"),
    [("{ books { id ", "Syntax Error"), ("{ books { isbn } }", "isbn"), ("query($x: Int!) { books { id } }", "$x")],
)
async def test_request_errors_are_400_only_under_graphql_response_json(
    single: httpx.AsyncClient, document: str, code_fragment: str
) -> None:
    strict = await single.post("/graphql", json={"query": document}, headers=GQL_HEADERS)
    assert strict.status_code == 400
    assert code_fragment in strict.json()["errors"][0]["message"]
    assert "data" not in strict.json()
    legacy = await single.post("/graphql", json={"query": document}, headers=JSON_HEADERS)
    assert legacy.status_code == 200 and code_fragment in legacy.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("kwargs", "status", "fragment"),
    [
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "not JSON"),
        ({"json": ["query"]}, 400, "JSON object"),
        ({"json": {"variables": {}}}, 400, "no 'query'"),
        ({"json": {"query": "{ books { id } }", "variables": [1]}}, 400, "'variables'"),
        ({"json": {"query": "{ books { id } }", "operationName": 3}}, 400, "'operationName'"),
        ({"content": b"query", "headers": {"content-type": "text/plain"}}, 415, "application/json"),
        ({"json": {"query": "{ books { id } }", "pad": "x" * 5000}}, 413, "maximum is 2000 bytes"),
    ],
)
async def test_bad_requests(single: httpx.AsyncClient, kwargs: dict[str, Any], status: int, fragment: str) -> None:
    headers = {**GQL_HEADERS, **kwargs.pop("headers", {})}
    response = await single.post("/graphql", headers=headers, **kwargs)
    assert response.status_code == status
    assert fragment in response.json()["errors"][0]["message"]


async def test_accept_negotiation(single: httpx.AsyncClient) -> None:
    query = {"query": "{ books { id } }"}
    refused = await single.post("/graphql", json=query, headers={"accept": "text/plain"})
    assert refused.status_code == 406
    for accept, expected in [
        ("application/json;q=0.5, application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json;q=0.1, application/json", "application/json"),
        ("application/graphql-response+json;q=0, */*", "application/json"),
    ]:
        response = await single.post("/graphql", json=query, headers={"accept": accept})
        assert response.headers["content-type"].startswith(expected), accept


async def test_routing_errors_are_json_errors(single: httpx.AsyncClient) -> None:
    """Starlette's own 404/405 answered in plain text ("Method Not Allowed"); they use the gateway's error shape."""
    put = await single.put("/graphql", json={"query": "{ __typename }"})
    assert put.status_code == 405 and put.headers["content-type"] == "application/json"
    assert put.headers["allow"] and put.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert put.json()["errors"][0]["message"].startswith("PUT is not allowed on /graphql; use ")
    nowhere = await single.get("/nope")
    assert nowhere.status_code == 404 and nowhere.json()["errors"][0]["message"] == (
        "nothing is served at /nope; GraphQL is at /graphql"
    )


async def test_graphiql_is_served_from_local_assets(single: httpx.AsyncClient) -> None:
    page = await single.get("/graphql", headers={"accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '"/graphql"' in page.text
    scripts = [line for line in page.text.splitlines() if "<script src=" in line or "stylesheet" in line]
    assert len(scripts) == 4 and all("http" not in line for line in scripts)
    for asset in ("graphiql.min.js", "graphiql.min.css", "react.production.min.js", "react-dom.production.min.js"):
        response = await single.get(f"/_loom/graphiql/{asset}")
        assert response.status_code == 200 and len(response.content) > 1000, asset


async def test_request_ids_logs_and_metrics(
    single: httpx.AsyncClient, upstreams: Upstreams, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="stitcher.gateway.access"):
        answered = await single.post("/graphql", json={"query": "{ books { id } }"}, headers={"x-request-id": "rid-42"})
    assert answered.headers["x-request-id"] == "rid-42"
    assert upstreams.books_calls[-1]["headers"]["x-request-id"] == "rid-42"  # forwarded upstream
    record = next(r for r in caplog.records if getattr(r, "request_id", None) == "rid-42")
    assert (record.__dict__["status"], record.__dict__["path"]) == (200, "/graphql")
    generated = (await single.get("/healthz")).headers["x-request-id"]
    assert len(generated) == 16 and generated != (await single.get("/healthz")).headers["x-request-id"]

    metrics = (await single.get("/metrics")).text
    assert 'loom_gateway_requests_total{kind="graphql",product="graphql",status="200"}' in metrics
    assert 'loom_gateway_upstream_fetches_total{outcome="ok",subgraph="books"}' in metrics
    assert "loom_gateway_request_duration_seconds_bucket" in metrics
    assert (await single.get("/healthz")).json() == {"status": "ok"}
    assert (await single.get("/readyz")).json() == {"status": "ready", "products": ["graphql"]}


# -- products from a snapshot ------------------------------------------------------------------------------------


async def test_products_need_credentials_and_a_subscription(upstreams: Upstreams) -> None:
    snapshot, keys = make_snapshot(upstreams)
    revoked_key, prefix, digest = generate_api_key()
    revoked = CredentialConfig(id="k3", application="app", kind="api_key", prefix=prefix, key_hash=digest, revoked=True)
    snapshot = snapshot.model_copy(update={"credentials": [*snapshot.credentials, revoked]})
    app = create_gateway_app(source=StaticSnapshotSource(snapshot), options=_options())
    query = {"query": "{ book(id: 1) { title } }"}
    async with serving(app) as client:
        await wait_ready(client)
        missing = await client.post("/products/shop/graphql", json=query)
        assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
        assert "x-api-key" in missing.json()["errors"][0]["message"]
        unknown = await client.post("/products/shop/graphql", json=query, headers={"x-api-key": keys.gold + "x"})
        assert unknown.status_code == 401
        withdrawn = await client.post("/products/shop/graphql", json=query, headers={"x-api-key": revoked_key})
        assert withdrawn.status_code == 401 and "revoked" in withdrawn.json()["errors"][0]["message"]
        lurker = await client.post("/products/shop/graphql", json=query, headers={"x-api-key": keys.other})
        assert lurker.status_code == 403 and lurker.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        ok = await client.post("/products/shop/graphql", json=query, headers={"x-api-key": keys.gold})
        assert ok.status_code == 200 and ok.json() == {"data": {"book": {"title": "Book 1"}}}
        assert "x-api-key" not in upstreams.books_calls[-1]["headers"]  # credentials stay at the gateway
        public = await client.post("/products/open/graphql", json=query)
        assert public.status_code == 200 and public.json()["data"]["book"]["title"] == "Book 1"
        nowhere = await client.post("/products/nope/graphql", json=query)
        assert nowhere.status_code == 404
        assert (await client.get("/readyz")).json()["products"] == ["open", "shop"]
        # GraphiQL shows where the key goes for a product behind credentials, and nothing for an open one
        html = {"accept": "text/html"}
        assert 'defaultHeaders: "{\\"x-api-key\\": ' in (await client.get("/products/shop/graphql", headers=html)).text
        assert 'defaultHeaders: ""' in (await client.get("/products/open/graphql", headers=html)).text


async def test_rate_limit_in_memory(upstreams: Upstreams) -> None:
    snapshot, keys = make_snapshot(upstreams, requests_per_minute=2)
    now = [1000.0]
    app = create_gateway_app(source=StaticSnapshotSource(snapshot), clock=lambda: now[0], options=_options())
    query = {"query": "{ books { id } }"}
    headers = {"x-api-key": keys.gold}
    async with serving(app) as client:
        await wait_ready(client)
        statuses = [(await client.post("/products/shop/graphql", json=query, headers=headers)) for _ in range(3)]
        assert [r.status_code for r in statuses] == [200, 200, 429]
        assert statuses[-1].headers["retry-after"] == "60"
        [error] = statuses[-1].json()["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["message"] == "plan 'gold' allows 2 requests per minute; retry in 1 min"
        now[0] += 61
        assert (await client.post("/products/shop/graphql", json=query, headers=headers)).status_code == 200


async def test_rate_limit_in_redis_is_shared_by_two_gateways(upstreams: Upstreams) -> None:
    snapshot, keys = make_snapshot(upstreams, requests_per_minute=3)
    options = _options(rate_limit_key_prefix=f"loom-test:{uuid.uuid4().hex}:")
    first = create_gateway_app(source=StaticSnapshotSource(snapshot), redis_url=REDIS_URL, options=options)
    second = create_gateway_app(source=StaticSnapshotSource(snapshot), redis_url=REDIS_URL, options=options)
    query = {"query": "{ books { id } }"}
    headers = {"x-api-key": keys.gold}
    async with serving(first) as a, serving(second) as b:
        await wait_ready(a)
        await wait_ready(b)
        answers = [await client.post("/products/shop/graphql", json=query, headers=headers) for client in (a, b) * 2]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        retry_after = int(answers[-1].headers["retry-after"])
        assert 1 <= retry_after <= 60


async def test_rest_routes_pass_through_and_openapi(upstreams: Upstreams) -> None:
    snapshot, keys = make_snapshot(upstreams)
    app = create_gateway_app(source=StaticSnapshotSource(snapshot), options=_options())
    auth = {"x-api-key": keys.gold, "x-request-id": "rest-1"}
    async with serving(app) as client:
        await wait_ready(client)
        book = await client.get("/products/shop/rest/books/3", headers=auth)
        assert book.status_code == 200 and book.json() == {"book": {"id": "3", "title": "Book 3"}}
        assert (await client.get("/products/shop/rest/books/3")).status_code == 401
        added = await client.post("/products/shop/rest/books", json={"title": "REST"}, headers=auth)
        assert added.status_code == 200 and added.json() == {"addBook": {"title": "REST"}}
        missing_var = await client.post("/products/shop/rest/books", json={}, headers=auth)
        assert missing_var.status_code == 400 and "title" in missing_var.text
        stock = await client.get("/products/shop/rest/stock/4", headers=auth)
        assert stock.status_code == 200 and stock.json() == {"getStock": {"count": 40}}
        assert (await client.get("/products/shop/rest/nothing/here", headers=auth)).status_code == 404
        wrong_method = await client.delete("/products/shop/rest/books/3", headers=auth)
        assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "GET, HEAD"
        assert "serves /books/3 with GET, HEAD, not DELETE" in wrong_method.json()["errors"][0]["message"]
        escape = await client.get("/products/shop/rest/inventory/%2E%2E/secret", headers=auth)
        assert escape.status_code == 400 and "'..'" in escape.json()["errors"][0]["message"]

        # The OpenAPI service itself, passed through under its name.
        passed = await client.get("/products/shop/rest/inventory/stock/7?verbose=1", headers=auth)
        assert passed.status_code == 200 and passed.json() == {"id": "7", "count": 70}
        assert passed.headers["x-upstream"] == "inventory"
        call = upstreams.inventory_calls[-1]
        assert (call["path"], call["query"]) == ("/stock/7", "verbose=1")
        assert "x-api-key" not in call["headers"] and call["headers"]["x-request-id"] == "rest-1"
        # what the client encoded stays encoded: one path item "a,b" and one query item "1,2" (issue 10)
        encoded = await client.get("/products/shop/rest/inventory/stock/a%2Cb?ids=1%2C2,3", headers=auth)
        assert encoded.status_code == 404 and encoded.json() == {"message": "no item a,b"}
        assert (upstreams.inventory_calls[-1]["raw_path"], upstreams.inventory_calls[-1]["query"]) == (
            "/stock/a%2Cb",
            "ids=1%2C2,3",
        )
        not_found = await client.get("/products/shop/rest/inventory/stock/abc", headers=auth)
        assert not_found.status_code == 404 and not_found.json() == {"message": "no item abc"}
        echoed = await client.post("/products/shop/rest/inventory/echo", content=b'{"a":1}', headers=auth)
        assert echoed.status_code == 201 and echoed.json() == {"received": '{"a":1}'}

        document = (await client.get("/products/shop/openapi.json")).json()
        validate(document)  # a valid OpenAPI 3.1 document
        assert document["openapi"] == "3.1.0"
        assert document["servers"] == [{"url": "/products/shop/rest"}]
        assert document["paths"]["/books/{id}"]["get"]["parameters"][0]["name"] == "id"
        assert "requestBody" in document["paths"]["/books"]["post"]
        assert "get" in document["paths"]["/inventory/stock/{id}"]


async def test_unreachable_upstream_gives_502_not_500(upstreams: Upstreams) -> None:
    snapshot, keys = make_snapshot(upstreams)
    broken = snapshot.products[0].model_copy(update={"sources": _sources(upstreams, "http://127.0.0.1:1")})
    app = create_gateway_app(
        source=StaticSnapshotSource(snapshot.model_copy(update={"products": [broken]})), options=_options()
    )
    async with serving(app) as client:
        await wait_ready(client)
        passed = await client.get("/products/shop/rest/inventory/stock/7", headers={"x-api-key": keys.gold})
        assert passed.status_code == 502 and passed.json()["errors"][0]["extensions"]["code"] == "UPSTREAM_CONNECTION"
        joined = await client.post(
            "/products/shop/graphql",
            json={"query": '{ getStock(id: "1") { count } }'},
            headers={"x-api-key": keys.gold},
        )
        assert joined.status_code == 200
        assert joined.json()["data"] == {"getStock": None} and joined.json()["errors"]


async def test_snapshot_swaps_keep_unchanged_products_and_survive_broken_ones(upstreams: Upstreams) -> None:
    snapshot, _ = make_snapshot(upstreams)
    source = StaticSnapshotSource(snapshot)
    app = create_gateway_app(source=source, options=_options(timeouts=Timeouts(poll_interval_seconds=3600)))
    gateway: Gateway = app.state.gateway
    async with serving(app) as client:
        await wait_ready(client)
        assert gateway.served is not None
        # the last good snapshot is stored in the background after the swap: wait for it, do not assume it
        for _ in range(1000):
            if source.stored is not None:
                break
            await asyncio.sleep(0.01)
        assert source.stored == snapshot
        shop_executor = gateway.served.products["shop"].executor
        open_executor = gateway.served.products["open"].executor

        changed_open = snapshot.products[1].model_copy(update={"version": "2.0.0"})
        source.set(snapshot.model_copy(update={"products": [snapshot.products[0], changed_open]}))
        assert await gateway.poll_once()
        assert gateway.served.products["shop"].executor is shop_executor  # unchanged: same warm executor
        assert gateway.served.products["open"].executor is not open_executor

        bad_source = SourceConfig(name="bad", protocol=SourceKind.GRAPHQL, schema_text="type Query {", url="http://x")
        broken_shop = snapshot.products[0].model_copy(update={"sources": [bad_source]})
        bad_snapshot = snapshot.model_copy(update={"products": [broken_shop]})
        source.set(bad_snapshot)
        assert not await gateway.poll_once()
        assert gateway.served.products["shop"].executor is shop_executor  # the previous version keeps serving
        assert "open" not in gateway.served.products
        assert source.stored != bad_snapshot  # not kept on disk as the last good one
        assert "loom_gateway_snapshot_failures_total 1.0" in (await client.get("/metrics")).text


async def test_not_ready_until_a_snapshot_arrives(upstreams: Upstreams) -> None:
    source = StaticSnapshotSource()
    app = create_gateway_app(source=source, options=_options())
    async with serving(app) as client:
        assert (await client.get("/readyz")).status_code == 503
        assert (await client.get("/healthz")).status_code == 200
        early = await client.post("/products/shop/graphql", json={"query": "{ books { id } }"})
        assert early.status_code == 503
        source.set(make_snapshot(upstreams)[0])
        await wait_ready(client)


async def test_restart_serves_the_cached_snapshot_while_the_portal_is_down(
    upstreams: Upstreams, tmp_path: Path
) -> None:
    snapshot, keys = make_snapshot(upstreams)
    PortalSnapshotSource("http://127.0.0.1:1", "t", cache_dir=tmp_path).store(snapshot)
    app = create_gateway_app(
        source=PortalSnapshotSource("http://127.0.0.1:1", "t", cache_dir=tmp_path), options=_options()
    )
    async with serving(app) as client:
        await wait_ready(client)
        answer = await client.post(
            "/products/shop/graphql", json={"query": "{ book(id: 5) { title } }"}, headers={"x-api-key": keys.gold}
        )
        assert answer.json() == {"data": {"book": {"title": "Book 5"}}}


async def test_introspection_is_on_by_default_and_can_be_switched_off(upstreams: Upstreams) -> None:
    spec = SourceSpec("books", SourceKind.GRAPHQL, BOOKS_SDL, url=f"{upstreams.books}/graphql")
    supergraph = compose([spec])
    query = {"query": "{ __schema { queryType { name } } }"}
    async with serving(create_gateway_app(supergraph=supergraph, options=_options())) as client:
        on = await client.post("/graphql", json=query, headers=GQL_HEADERS)
        assert on.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    async with serving(create_gateway_app(supergraph=supergraph, options=_options(introspection=False))) as client:
        off = await client.post("/graphql", json=query, headers=GQL_HEADERS)
        assert off.status_code == 400 and "introspection is disabled" in off.json()["errors"][0]["message"]


async def test_oauth2_bearer_tokens_through_the_portal_jwks(upstreams: Upstreams) -> None:
    """The JWKS is served by a small Starlette app through ``httpx.ASGITransport`` (the injected client seam)."""
    jwks = JwksServer()
    snapshot, _ = make_snapshot(upstreams)
    snapshot = snapshot.model_copy(
        update={
            "credentials": [
                CredentialConfig(id="o1", application="app", kind="oauth2_client", client_id="cid-1"),
                CredentialConfig(id="o2", application="lurker", kind="oauth2_client", client_id="cid-2"),
                CredentialConfig(id="o3", application="app", kind="oauth2_client", client_id="cid-3", revoked=True),
            ],
            "oauth": OAuthConfig(issuer=ISSUER, audience=AUDIENCE, jwks_url="http://portal.test/jwks"),
        }
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=jwks.app)) as jwks_http:
        app = create_gateway_app(source=StaticSnapshotSource(snapshot), jwks_http=jwks_http, options=_options())
        async with serving(app) as client:
            await wait_ready(client)
            query = {"query": "{ book(id: 4) { title } }"}
            token = jwks.token(jwks.keys[0])
            ok = await client.post("/products/shop/graphql", json=query, headers={"authorization": f"Bearer {token}"})
            assert ok.status_code == 200 and ok.json() == {"data": {"book": {"title": "Book 4"}}}
            assert "authorization" not in upstreams.books_calls[-1]["headers"]
            expired = jwks.token(jwks.keys[0], exp=1)
            refused = await client.post(
                "/products/shop/graphql", json=query, headers={"authorization": f"Bearer {expired}"}
            )
            assert refused.status_code == 401 and "expired" in refused.json()["errors"][0]["message"]
            bearer = {"authorization": f"Bearer {jwks.token(jwks.keys[0], client_id='cid-2')}"}
            unsubscribed = await client.post("/products/shop/graphql", json=query, headers=bearer)
            assert unsubscribed.status_code == 403
            assert unsubscribed.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            bearer = {"authorization": f"Bearer {jwks.token(jwks.keys[0], client_id='cid-3')}"}
            revoked = await client.post("/products/shop/graphql", json=query, headers=bearer)
            assert revoked.status_code == 401
            forged = await client.post("/products/shop/graphql", json=query, headers={"authorization": "Bearer x.y.z"})
            assert forged.status_code == 401
            assert jwks.requests == 1  # the key set is fetched once and cached across requests


async def test_gc_is_frozen_once_the_first_products_are_compiled(upstreams: Upstreams) -> None:
    """gc.freeze() after start-up (the collector was ~13% of a profile); off in the other tests of this module."""
    spec = SourceSpec("books", SourceKind.GRAPHQL, BOOKS_SDL, url=f"{upstreams.books}/graphql")
    gc.unfreeze()
    try:
        async with serving(create_gateway_app(supergraph=compose([spec]), options=_options(freeze_gc=True))) as client:
            await wait_ready(client)
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


async def test_rest_pass_through_keeps_encoded_characters_in_the_path(upstreams: Upstreams) -> None:
    """An encoded "?" or "#" in a passed-through path stays part of the upstream path: decoded, it would
    smuggle query parameters (or cut the path) past the gateway."""
    snapshot, keys = make_snapshot(upstreams)
    app = create_gateway_app(source=StaticSnapshotSource(snapshot), options=_options())
    auth = {"x-api-key": keys.gold}
    async with serving(app) as client:
        await wait_ready(client)
        await client.get("/products/shop/rest/inventory/stock/7%3Fadmin=1", headers=auth)
        call = upstreams.inventory_calls[-1]
        assert (call["path"], call["query"]) == ("/stock/7%3Fadmin=1", "")
        await client.get("/products/shop/rest/inventory/stock/7%23frag?verbose=1", headers=auth)
        call = upstreams.inventory_calls[-1]
        assert (call["path"], call["query"]) == ("/stock/7%23frag", "verbose=1")


async def test_a_passed_through_page_cannot_set_cookies_or_run_script_on_the_gateway_origin(
    upstreams: Upstreams,
) -> None:
    """Under ``loom serve`` the gateway shares the portal's origin: an upstream's Set-Cookie would plant a session,
    and its HTML would run script that acts with the visitor's (an admin's) session. Cookies are dropped and every
    passed-through answer is sandboxed (an opaque origin, no script)."""
    snapshot, keys = make_snapshot(upstreams)
    app = create_gateway_app(source=StaticSnapshotSource(snapshot), options=_options())
    async with serving(app) as client:
        await wait_ready(client)
        page = await client.get("/products/shop/rest/inventory/page", headers={"x-api-key": keys.gold})
        assert page.status_code == 200 and "<script>" in page.text
        assert "set-cookie" not in page.headers
        assert page.headers["content-security-policy"] == "sandbox"
        assert page.headers["x-content-type-options"] == "nosniff"


async def test_a_product_processed_in_another_cluster_is_misdirected_not_served(upstreams: Upstreams) -> None:
    """A cluster's gateway refuses (421) what its cluster must not process, whatever the caller sends: defence in
    depth behind Envoy, which forwards such requests into the product's residency zone."""
    snapshot, keys = make_snapshot(upstreams)
    reason = "product 'shop' is kept in residency zone 'eu' and cluster 'us-east' is in 'us'"
    products = [p for p in snapshot.products if p.name != "shop"]
    snapshot = snapshot.model_copy(update={"products": products, "cluster": "us-east", "elsewhere": {"shop": reason}})
    app = create_gateway_app(source=StaticSnapshotSource(snapshot), options=_options())
    calls = len(upstreams.books_calls)
    async with serving(app) as client:
        await wait_ready(client)
        graphql = await client.post(
            "/products/shop/graphql", json={"query": "{ book(id: 1) { title } }"}, headers={"x-api-key": keys.gold}
        )
        rest = await client.get("/products/shop/rest/stock/1", headers={"x-api-key": keys.gold})
        unknown = await client.post("/products/nope/graphql", json={"query": "{ __typename }"})
    for response in (graphql, rest):
        assert response.status_code == 421, response.text
        assert response.json()["errors"][0] == {"message": reason, "extensions": {"code": "MISDIRECTED"}}
    assert unknown.status_code == 404
    assert len(upstreams.books_calls) == calls  # nothing reached a service


# -- upstream egress, response cap and pass-through hygiene (issue 6) -------------------------------------------


def _with_sources(snapshot: Snapshot, **update: Any) -> Snapshot:
    shop = snapshot.products[0]
    sources = [s.model_copy(update=update) for s in shop.sources]
    return snapshot.model_copy(update={"products": [shop.model_copy(update={"sources": sources})]})


async def test_the_gateway_enforces_each_sources_egress_policy_when_it_connects(upstreams: Upstreams) -> None:
    """A deployment address outside its cluster's egress policy (here loopback, which the cluster does not allow)
    is refused where the gateway connects, for GraphQL fetches and the REST pass-through alike; the consumer learns
    the service's name, never the address. The same snapshot with loopback allowed is served."""
    snapshot, keys = make_snapshot(upstreams)
    strict = _with_sources(snapshot, egress=EgressConfig())
    auth = {"x-api-key": keys.gold}
    books_before, inventory_before = len(upstreams.books_calls), len(upstreams.inventory_calls)
    async with serving(create_gateway_app(source=StaticSnapshotSource(strict), options=_options())) as client:
        await wait_ready(client)
        graphql = await client.post("/products/shop/graphql", json={"query": "{ books { id } }"}, headers=auth)
        (error,) = graphql.json()["errors"]
        assert error["extensions"]["code"] == "UPSTREAM_REFUSED"
        assert error["message"].startswith("Subgraph 'books' is outside the cluster's egress policy")
        passed = await client.get("/products/shop/rest/inventory/stock/7", headers=auth)
        assert passed.status_code == 502
        assert passed.json()["errors"][0]["message"].startswith("service 'inventory' is outside the cluster's egress")
        for text in (graphql.text, passed.text):
            assert "127.0.0.1" not in text and "http://" not in text
    assert (len(upstreams.books_calls), len(upstreams.inventory_calls)) == (books_before, inventory_before)

    allowed = _with_sources(snapshot, egress=EgressConfig(allow_loopback=True))
    async with serving(create_gateway_app(source=StaticSnapshotSource(allowed), options=_options())) as client:
        await wait_ready(client)
        graphql = await client.post("/products/shop/graphql", json={"query": "{ books { id } }"}, headers=auth)
        assert graphql.status_code == 200 and "errors" not in graphql.json()
        passed = await client.get("/products/shop/rest/inventory/stock/7", headers=auth)
        assert passed.status_code == 200 and passed.json() == {"id": "7", "count": 70}
        assert upstreams.inventory_calls[-1]["headers"]["host"] == upstreams.inventory.removeprefix("http://")


async def test_an_upstream_answer_past_the_cap_is_an_error_naming_the_service_and_the_limit(
    upstreams: Upstreams,
) -> None:
    snapshot, keys = make_snapshot(upstreams)
    auth = {"x-api-key": keys.gold}
    app = create_gateway_app(
        source=StaticSnapshotSource(snapshot), options=_options(limits=Limits(max_response_bytes=20))
    )
    async with serving(app) as client:
        await wait_ready(client)
        graphql = await client.post("/products/shop/graphql", json={"query": "{ books { id } }"}, headers=auth)
        (error,) = graphql.json()["errors"]
        assert error["extensions"]["code"] == "UPSTREAM_TOO_LARGE"
        assert error["message"] == (
            "Subgraph 'books' answered more than the gateway's limit of 20 bytes (LOOM_GATEWAY_MAX_RESPONSE_BYTES)"
        )
        passed = await client.get("/products/shop/rest/inventory/stock/7", headers=auth)
        assert passed.status_code == 502 and "service 'inventory' answered more than" in passed.text
    # A source's own cap wins over the gateway's default.
    roomy = _with_sources(snapshot, max_response_bytes=1024 * 1024)
    app = create_gateway_app(source=StaticSnapshotSource(roomy), options=_options(limits=Limits(max_response_bytes=20)))
    async with serving(app) as client:
        await wait_ready(client)
        passed = await client.get("/products/shop/rest/inventory/stock/7", headers=auth)
        assert passed.status_code == 200


async def test_pass_through_drops_spoofable_and_hop_by_hop_headers(upstreams: Upstreams) -> None:
    snapshot, keys = make_snapshot(upstreams)
    app = create_gateway_app(source=StaticSnapshotSource(snapshot), options=_options())
    sent = {
        "x-api-key": keys.gold,
        "x-forwarded-for": "10.0.0.1",
        "x-forwarded-host": "admin.internal",
        "forwarded": "for=10.0.0.1",
        "x-real-ip": "10.0.0.1",
        "x-original-url": "/admin",
        "x-rewrite-url": "/admin",
        "x-http-method-override": "DELETE",
        "x-method-override": "DELETE",
        "connection": "keep-alive, x-secret-hop",
        "x-secret-hop": "1",
        "te": "trailers",
        "x-kept": "yes",
    }
    async with serving(app) as client:
        await wait_ready(client)
        passed = await client.get("/products/shop/rest/inventory/stock/7", headers=sent)
        assert passed.status_code == 200
    received = upstreams.inventory_calls[-1]["headers"]
    assert received["x-kept"] == "yes"
    dropped = set(sent) - {"x-kept", "connection"}
    assert not dropped & set(received), dropped & set(received)


@pytest.mark.parametrize(
    "path",
    [
        "inventory/..;/secret",
        "inventory/stock/..;jsessionid=1/..;/x",
        "inventory/..%5Csecret",
        "inventory/..%5csecret",
        "inventory/%2e%2e/secret",
        "inventory/%252e%252e/secret",
        "inventory/%2e/stock/7",
        "inventory/.%2e/secret",
    ],
)
async def test_pass_through_refuses_paths_that_could_leave_the_base_url(upstreams: Upstreams, path: str) -> None:
    snapshot, keys = make_snapshot(upstreams)
    app = create_gateway_app(source=StaticSnapshotSource(snapshot), options=_options())
    before = len(upstreams.inventory_calls)
    async with serving(app) as client:
        await wait_ready(client)
        refused = await client.get(f"/products/shop/rest/{path}", headers={"x-api-key": keys.gold})
    assert refused.status_code == 400, refused.text
    message = refused.json()["errors"][0]["message"]
    assert "segment" in message, message
    assert len(upstreams.inventory_calls) == before


async def test_query_fetches_are_marked_safe_to_retry_and_mutations_are_not(upstreams: Upstreams) -> None:
    """``x-loom-retry: safe`` lets the cluster's Envoy retry a fetch on the next priority; a mutation must never
    run twice, so its fetch is not marked."""
    snapshot, keys = make_snapshot(upstreams)
    auth = {"x-api-key": keys.gold}
    async with serving(create_gateway_app(source=StaticSnapshotSource(snapshot), options=_options())) as client:
        await wait_ready(client)
        await client.post("/products/shop/graphql", json={"query": "{ books { id } }"}, headers=auth)
        assert upstreams.books_calls[-1]["headers"].get("x-loom-retry") == "safe"
        await client.post("/products/shop/graphql", json={"query": 'mutation { addBook(title: "T") { title } }'},
                          headers=auth)  # fmt: skip
        assert "x-loom-retry" not in upstreams.books_calls[-1]["headers"]
        await client.get("/products/shop/rest/stock/4", headers=auth)  # a REST source's GET
        assert upstreams.inventory_calls[-1]["headers"].get("x-loom-retry") == "safe"


class CountingSource(StaticSnapshotSource):
    """A static source that counts fetches (the gateway's only way to the portal here)."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__(snapshot)
        self.fetches = 0

    async def fetch(self, wait: float = 0.0) -> Snapshot | None:
        self.fetches += 1
        return await super().fetch(wait)


async def test_a_key_created_a_moment_ago_works_at_once(upstreams: Upstreams) -> None:
    """Issue 6: a new key was unknown until the next poll (about 2 s). An unknown key makes the gateway fetch the
    snapshot once, right then (single-flight, a few times a second at most); made-up keys still get 401."""
    snapshot, keys = make_snapshot(upstreams)
    without_gold = [c for c in snapshot.credentials if c.id != "k1"]
    source = CountingSource(snapshot.model_copy(update={"credentials": without_gold}))
    # Neither a poll (an hour away) nor a watch (off) brings the new key: only the unknown key's own fetch can.
    app = create_gateway_app(
        source=source, options=_options(timeouts=Timeouts(poll_interval_seconds=3600, watch_seconds=0))
    )
    query = {"query": "{ book(id: 1) { title } }"}
    async with serving(app) as client:
        await wait_ready(client)
        fetches = source.fetches
        source.set(snapshot)  # the portal now holds the new key; the gateway's next poll is an hour away
        new = await client.post("/products/shop/graphql", json=query, headers={"x-api-key": keys.gold})
        assert new.status_code == 200, new.text
        assert source.fetches == fetches + 1
        made_up = [
            client.post("/products/shop/graphql", json=query, headers={"x-api-key": keys.gold + "x"}) for _ in range(20)
        ]
        answers = await asyncio.gather(*made_up)
        assert {a.status_code for a in answers} == {401}
        assert source.fetches <= fetches + 2  # twenty unknown keys at once: at most one more fetch


async def test_a_consumers_applications_share_the_plans_rate_limit(upstreams: Upstreams) -> None:
    """Issue 6: one consumer multiplied a plan's limit by creating applications. Limits are per consumer (the
    applications' owner), plan and product; another consumer keeps their own allowance."""
    snapshot, _ = make_snapshot(upstreams, requests_per_minute=2)
    issued = {name: generate_api_key() for name in ("carl/one", "carl/two", "dana/one")}
    snapshot = snapshot.model_copy(
        update={
            "credentials": [
                CredentialConfig(id=f"c{i}", application=name, kind="api_key", prefix=prefix, key_hash=digest)
                for i, (name, (_, prefix, digest)) in enumerate(issued.items())
            ],
            "subscriptions": [SubscriptionConfig(application=name, product="shop", plan="gold") for name in issued],
        }
    )
    now = [1000.0]
    app = create_gateway_app(source=StaticSnapshotSource(snapshot), clock=lambda: now[0], options=_options())
    query = {"query": "{ books { id } }"}

    async def call(application: str) -> int:
        headers = {"x-api-key": issued[application][0]}
        return (await client.post("/products/shop/graphql", json=query, headers=headers)).status_code

    async with serving(app) as client:
        await wait_ready(client)
        assert [await call("carl/one"), await call("carl/two"), await call("carl/two")] == [200, 200, 429]
        assert await call("dana/one") == 200
