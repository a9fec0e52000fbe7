"""stitcher.execution against real upstreams on loopback (uvicorn): results, batching, caching, errors, faults."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import pytest
from graphql import execute_sync, parse

from stitcher.composition import compose
from stitcher.execution import ExecutionResponse, Executor
from stitcher.ir import SourceKind, Supergraph
from stitcher.options import GatewayOptions, Timeouts, UpstreamOptions
from stitcher.sources import SourceSpec, Transforms
from stitcher.supergraph import load_supergraph, print_supergraph_sdl
from stitcher.transport import AiohttpTransport
from tests.stitcher.upstreams import plain
from tests.stitcher.upstreams.app import GraphQLApp
from tests.stitcher.upstreams.federation import executable_schema
from tests.stitcher.upstreams.serving import UpstreamServers
from tests.stitcher.upstreams.shops import ShopUpstreams


@pytest.fixture(scope="module")
def shop() -> Iterator[ShopUpstreams]:
    with ShopUpstreams() as servers:
        yield servers


@pytest.fixture(scope="module")
def fed(shop: ShopUpstreams) -> Supergraph:
    return shop.federation()


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpTransport]:
    transport = await AiohttpTransport.create()
    yield transport
    await transport.aclose()


def monolith(shop: ShopUpstreams, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    app = shop.apps["monolith"]
    result = execute_sync(app.schema, parse(query), app.root_value, variable_values=variables)
    assert result.data is not None
    return result.data


class Counter:
    """Upstream requests made while the block runs, per upstream."""

    def __init__(self, shop: ShopUpstreams) -> None:
        self.shop = shop

    def __enter__(self) -> Counter:
        self.before = self.shop.requests()
        return self

    def __exit__(self, *_: object) -> None:
        after = self.shop.requests()
        self.delta = {name: after[name] - self.before[name] for name in after if after[name] != self.before[name]}


def bodies(shop: ShopUpstreams, name: str, last: int = 1) -> list[dict[str, Any]]:
    recorded: list[dict[str, Any]] = shop.apps[name].bodies
    return recorded[-last:]


async def test_joins_four_subgraphs_like_the_monolith(shop: ShopUpstreams, fed: Supergraph, transport: Any) -> None:
    query = "{ topProducts { upc name reviews { body author { name } } inStock } }"
    response = await Executor(fed, transport).execute(query)
    assert response.errors is None
    assert response.data == monolith(shop, query)


async def test_the_answer_is_encoded_from_the_shaped_tree_and_read_as_plain_json(
    shop: ShopUpstreams, fed: Supergraph, transport: Any
) -> None:
    """The executor's tree is structs (cheaper than dicts): the JSON it encodes is the monolith's, key order and
    all, before anything reads ``data``; ``data`` is plain dicts and lists, made once."""
    query = "{ topProducts { reviews { author { name __typename } body } name __typename upc } }"
    response = await Executor(fed, transport).execute(query)
    expected = {"data": monolith(shop, query)}
    assert response.to_json() == orjson.dumps(expected)
    assert response.data_json() == orjson.dumps(expected["data"])
    data = response.data
    assert data == expected["data"] and type(data) is dict and type(data["topProducts"][0]) is dict
    assert response.data is data
    assert response == ExecutionResponse(expected["data"], None, False, "query")


async def test_entity_fetches_are_batched_one_request_per_subgraph_per_level(
    shop: ShopUpstreams, fed: Supergraph, transport: Any
) -> None:
    query = "{ topProducts { name reviews { author { name } } inStock } }"
    executor = Executor(fed, transport)
    with Counter(shop) as counter:
        response = await executor.execute(query)
    assert response.errors is None
    # 5 products, 6 reviews: still one request to each subgraph, never one per product or review.
    assert counter.delta == {"fed-products": 1, "fed-reviews": 1, "fed-accounts": 1, "fed-inventory": 1}
    accounts = bodies(shop, "fed-accounts")[0]
    authors = accounts["variables"]["_loomReps"]
    # Reviews of products 1..4 have authors 1, 2, 3 (repeated): each representation is sent once.
    assert sorted(rep["id"] for rep in authors) == ["1", "2", "3"]


async def test_provides_avoids_a_fetch(shop: ShopUpstreams, fed: Supergraph, transport: Any) -> None:
    query = "{ reviews { author { username } } }"
    with Counter(shop) as counter:
        response = await Executor(fed, transport).execute(query)
    assert response.data == monolith(shop, query)
    assert counter.delta == {"fed-reviews": 1}


async def test_requires_passes_required_fields_in_representations(
    shop: ShopUpstreams, fed: Supergraph, transport: Any
) -> None:
    query = "{ topProducts(first: 2) { shippingEstimate } }"
    response = await Executor(fed, transport).execute(query)
    assert response.data == monolith(shop, query)
    reps = bodies(shop, "fed-inventory")[0]["variables"]["_loomReps"]
    assert reps == [
        {"__typename": "Product", "upc": "1", "price": 899, "weight": 100},
        {"__typename": "Product", "upc": "2", "price": 1299, "weight": 1000},
    ]


async def test_compound_key(shop: ShopUpstreams, fed: Supergraph, transport: Any) -> None:
    query = "{ topProducts { name deliveryDays } }"
    response = await Executor(fed, transport).execute(query)
    assert response.data == monolith(shop, query)
    reps = bodies(shop, "fed-shipping")[0]["variables"]["_loomReps"]
    assert reps[0] == {"__typename": "Product", "sku": "TBL-1", "vendor": "acme"}


async def test_union_across_subgraphs_with_fragments_and_aliases(
    shop: ShopUpstreams, fed: Supergraph, transport: Any
) -> None:
    query = """
    query Find($text: String!) {
      found: search(text: $text) {
        kind: __typename
        ... on Product { ...Item stock: inStock }
        ... on User { label: name reviews { stars } }
      }
    }
    fragment Item on Product { label: name upc }
    """
    response = await Executor(fed, transport).execute(query, {"text": "a"}, "Find")
    assert response.errors is None
    assert response.data == monolith(shop, query, {"text": "a"})
    kinds = {item["kind"] for item in response.data["found"]}
    assert kinds == {"Product", "User"}


async def test_skip_and_include_follow_variables(shop: ShopUpstreams, fed: Supergraph, transport: Any) -> None:
    query = "query($with: Boolean!) { me { name reviews @include(if: $with) { id } username @skip(if: $with) } }"
    executor = Executor(fed, transport)
    for value in (True, False):
        response = await executor.execute(query, {"with": value})
        assert response.data == monolith(shop, query, {"with": value})
    assert response.data is not None and "reviews" not in response.data["me"]


async def test_plan_cache_skips_parsing_for_a_known_document(fed: Supergraph, transport: Any) -> None:
    executor = Executor(fed, transport, GatewayOptions(plan_cache_size=2))
    for _ in range(3):
        await executor.execute("{ me { name } }")
    assert (executor.cache_misses, executor.cache_hits) == (1, 2)
    await executor.execute("{ users { id } }")
    await executor.execute("{ topProducts { upc } }")
    assert executor.cached_documents == 2  # bounded: the least recently used document was evicted
    await executor.execute("{ me { name } }")
    assert executor.cache_misses == 4


async def test_introspection_of_the_api_schema(fed: Supergraph, transport: Any) -> None:
    response = await Executor(fed, transport).execute(
        '{ __type(name: "Product") { fields { name } } topProducts(first: 1) { name } }'
    )
    assert response.errors is None and response.data is not None
    names = {f["name"] for f in response.data["__type"]["fields"]}
    assert {"upc", "reviews", "inStock", "shippingEstimate", "deliveryDays"} <= names
    assert "_entities" not in str(response.data)
    assert response.data["topProducts"] == [{"name": "Table"}]


async def test_introspection_can_be_turned_off(fed: Supergraph, transport: Any) -> None:
    executor = Executor(fed, transport, GatewayOptions(introspection=False))
    response = await executor.execute("{ __schema { types { name } } }")
    assert response.request_error
    assert response.errors is not None and response.errors[0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
    response = await executor.execute("{ __typename me { __typename } }")
    assert response.data == {"__typename": "Query", "me": {"__typename": "User"}}


@pytest.mark.parametrize(
    ("document", "variables", "code", "words"),
    [
        ("{ me { name }", None, "GRAPHQL_PARSE_FAILED", "Expected Name"),
        ("{ me { nickname } }", None, "GRAPHQL_VALIDATION_FAILED", "nickname"),
        ("query($n: Int) { topProducts(first: $n) { upc } }", {"n": "five"}, "BAD_USER_INPUT", "$n"),
        ("query($id: ID!) { user(id: $id) { name } }", {}, "BAD_USER_INPUT", "$id"),
        ("{ " + " ".join(f"a{i}: me {{ id }}" for i in range(40)) + " }", None, "MAX_ALIASES_EXCEEDED", "aliases"),
        (
            "{ me " + "{ reviews { product " * 8 + "{ name }" + " } }" * 8 + " }",
            None,
            "MAX_DEPTH_EXCEEDED",
            "levels deep",
        ),
        (
            "{ users { reviews { product { reviews { author { reviews { product { reviews { author { reviews"
            " { id } } } } } } } } } } }",
            None,
            "MAX_COST_EXCEEDED",
            "cost",
        ),
        ("{ " + "me { id } " * 30_000 + "}", None, "GRAPHQL_PARSE_FAILED", "token"),
        ("query A { me { id } } query B { users { id } }", None, "OPERATION_RESOLUTION_FAILURE", "operationName"),
    ],
)
async def test_bad_requests_get_a_clear_error_and_no_upstream_call(
    shop: ShopUpstreams,
    fed: Supergraph,
    transport: Any,
    document: str,
    variables: dict[str, Any] | None,
    code: str,
    words: str,
) -> None:
    executor = Executor(fed, transport)
    with Counter(shop) as counter:
        response = await executor.execute(document, variables)
    assert response.request_error
    assert response.data is None and response.errors is not None
    assert response.errors[0]["extensions"]["code"] == code
    assert words in response.errors[0]["message"]
    assert counter.delta == {}
    assert b'"data"' not in response.to_json()


async def test_upstream_graphql_errors_pass_through_with_the_client_path(
    shop: ShopUpstreams, fed: Supergraph, transport: Any
) -> None:
    query = "{ topProducts(first: 3) { name warehouse } }"
    response = await Executor(fed, transport).execute(query)
    assert response.data == monolith(shop, query)
    assert response.errors is not None
    assert [(e["message"], e["path"]) for e in response.errors] == [
        ("no warehouse stocks product 2", ["topProducts", 1, "warehouse"])
    ]


@pytest.mark.parametrize(
    ("mode", "code"),
    [("hang", "UPSTREAM_TIMEOUT"), ("garbage", "UPSTREAM_INVALID_RESPONSE"), ("http500", "UPSTREAM_HTTP_500")],
)
async def test_a_failing_upstream_gives_partial_data_and_leaks_no_connection(
    shop: ShopUpstreams, mode: str, code: str
) -> None:
    supergraph = shop.with_flaky(mode)
    transport = await AiohttpTransport.create()
    try:
        executor = Executor(supergraph, transport, GatewayOptions(timeouts=Timeouts(upstream_seconds=0.5)))
        response = await executor.execute("{ status topProducts(first: 2) { name rating } }")
        assert not response.request_error
        assert response.data == {
            "status": None,
            "topProducts": [{"name": "Table", "rating": None}, {"name": "Couch", "rating": None}],
        }
        assert response.errors is not None
        paths = sorted(str(e["path"]) for e in response.errors)
        assert paths == sorted(str(p) for p in (["status"], ["topProducts", 0, "rating"], ["topProducts", 1, "rating"]))
        assert {e["extensions"]["code"] for e in response.errors} == {code}
        # The consumer learns the service's name, never its internal address.
        assert all("127.0.0.1" not in e["message"] and "http://" not in e["message"] for e in response.errors)
        assert all("flaky" in e["message"] for e in response.errors)
        if mode == "http500":
            assert {e["extensions"]["status"] for e in response.errors} == {500}
    finally:
        await transport.aclose()
    await _until_closed(shop, f"fault-{mode}")


async def _until_closed(shop: ShopUpstreams, name: str) -> None:
    deadline = time.monotonic() + 5
    while shop.connections(name) and time.monotonic() < deadline:  # noqa: ASYNC110 - polling another thread's server
        await asyncio.sleep(0.05)
    assert shop.connections(name) == 0


async def test_null_in_a_non_null_field_propagates_to_the_nearest_nullable_parent(shop: ShopUpstreams) -> None:
    supergraph = shop.with_flaky("http500")
    transport = await AiohttpTransport.create()
    try:
        executor = Executor(supergraph, transport)
        # Product is nullable here: the product becomes null.
        response = await executor.execute('{ product(upc: "1") { name ratingCount } me { name } }')
        assert response.data == {"product": None, "me": {"name": "Ada Lovelace"}}
        assert response.errors is not None and response.errors[0]["path"] == ["product", "ratingCount"]
        # [Product!]! all the way up: the whole result becomes null, with the error's path.
        response = await executor.execute("{ topProducts(first: 1) { name ratingCount } }")
        assert response.data is None
        assert response.errors is not None and response.errors[0]["path"] == ["topProducts", 0, "ratingCount"]
        assert response.to_json().startswith(b'{"errors":')
    finally:
        await transport.aclose()


async def test_keep_alive_reuses_connections(shop: ShopUpstreams, fed: Supergraph, transport: Any) -> None:
    executor = Executor(fed, transport)
    for _ in range(5):
        await executor.execute("{ me { name } }")
    assert shop.connections("fed-accounts") == 1


async def test_in_flight_dedupe_shares_identical_upstream_requests(
    shop: ShopUpstreams, fed: Supergraph, transport: Any
) -> None:
    query = "{ users { name } }"
    for dedupe, expected in ((False, 4), (True, 1)):
        executor = Executor(fed, transport, GatewayOptions(upstream=UpstreamOptions(dedupe_inflight=dedupe)))
        with Counter(shop) as counter:
            results = await asyncio.gather(*(executor.execute(query) for _ in range(4)))
        assert all(r.data == monolith(shop, query) for r in results)
        assert counter.delta == {"fed-accounts": expected}


async def test_renamed_types_and_fields_map_both_ways(shop: ShopUpstreams, transport: Any) -> None:
    supergraph = compose(
        [
            SourceSpec(
                name="accounts",
                protocol=SourceKind.GRAPHQL,
                schema=plain.ACCOUNTS_SDL,
                url=shop.urls["gql-accounts"],
                transforms=Transforms(prefix="Acc", rename_fields={"User.name": "fullName"}),
            )
        ]
    )
    response = await Executor(supergraph, transport).execute("{ me { __typename fullName } }")
    assert response.data == {"me": {"__typename": "AccUser", "fullName": "Ada Lovelace"}}
    assert bodies(shop, "gql-accounts")[0]["query"] == "query{me{fullName: name}}"


async def test_plain_graphql_single_key_resolver_is_one_aliased_request(shop: ShopUpstreams, transport: Any) -> None:
    supergraph = shop.graphql()
    query = "{ reviews { author { name } } }"
    with Counter(shop) as counter:
        response = await Executor(supergraph, transport).execute(query)
    assert response.data == monolith(shop, query)
    assert counter.delta == {"gql-reviews": 1, "gql-accounts": 1}
    sent = bodies(shop, "gql-accounts")[0]
    assert sorted(sent["variables"].values()) == ["1", "2", "3"]
    assert sent["query"].count("user(id:") == 3


async def test_rest_entities_and_root_fields(shop: ShopUpstreams, transport: Any) -> None:
    supergraph = shop.openapi()
    executor = Executor(supergraph, transport)
    query = "{ topProducts { name inStock } }"
    with Counter(shop) as counter:
        response = await executor.execute(query)
    assert response.data == monolith(shop, query)
    assert counter.delta == {"gql-products": 1, "rest-inventory": 1}
    assert shop.apps["rest-inventory"].paths[-1] == "/inventory?upcs=1,2,3,4,5"
    response = await executor.execute('{ stock(upc: "3") { upc inStock name } missing: stock(upc: "9") { upc } }')
    assert response.data == {"stock": {"upc": "3", "inStock": True, "name": "Chair"}, "missing": None}
    assert response.errors is not None
    [error] = response.errors
    assert error["path"] == ["missing"]
    assert error["extensions"]["status"] == 404 and error["extensions"]["code"] == "UPSTREAM_HTTP_404"


def test_response_serialisation() -> None:
    response = ExecutionResponse({"a": 1}, None)
    assert response.to_json() == b'{"data":{"a":1}}'
    response = ExecutionResponse({"a": None}, [{"message": "x", "path": ["a"]}])
    assert response.to_json() == b'{"errors":[{"message":"x","path":["a"]}],"data":{"a":null}}'


async def test_serves_a_loaded_federation_supergraph_sdl(shop: ShopUpstreams, fed: Supergraph, transport: Any) -> None:
    loaded = load_supergraph(print_supergraph_sdl(fed))
    query = "{ topProducts { name shippingEstimate deliveryDays reviews { author { name username } } } }"
    with Counter(shop) as counter:
        response = await Executor(loaded, transport).execute(query)
    assert response.errors is None
    assert response.data == monolith(shop, query)
    assert set(counter.delta.values()) == {1}


async def test_one_request_per_subgraph_per_level_across_paths_keeps_error_paths(
    shop: ShopUpstreams, fed: Supergraph, transport: Any
) -> None:
    query = '{ topProducts(first: 3) { name warehouse } product(upc: "2") { warehouse inStock } }'
    with Counter(shop) as counter:
        response = await Executor(fed, transport).execute(query)
    assert response.data == monolith(shop, query)
    assert counter.delta == {"fed-products": 1, "fed-inventory": 1}
    sent = bodies(shop, "fed-inventory")[0]
    assert "_e0: _entities" in sent["query"] and "_e1: _entities" in sent["query"]
    assert response.errors is not None
    assert sorted(str(e["path"]) for e in response.errors) == sorted(
        str(p) for p in (["topProducts", 1, "warehouse"], ["product", "warehouse"])
    )


async def test_a_failed_batch_nulls_every_path_it_served(shop: ShopUpstreams) -> None:
    supergraph = shop.with_flaky("http500")
    transport = await AiohttpTransport.create()
    try:
        response = await Executor(supergraph, transport).execute(
            '{ topProducts(first: 1) { name rating } product(upc: "3") { name rating } }'
        )
    finally:
        await transport.aclose()
    assert response.data == {
        "topProducts": [{"name": "Table", "rating": None}],
        "product": {"name": "Chair", "rating": None},
    }
    assert response.errors is not None
    assert sorted(str(e["path"]) for e in response.errors) == sorted(
        str(p) for p in (["topProducts", 0, "rating"], ["product", "rating"])
    )
    assert {e["extensions"]["code"] for e in response.errors} == {"UPSTREAM_HTTP_500"}


LIBRARY_SDL = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Query { media: [Media!]! }
interface Media { id: ID! title: String }
type Book implements Media @key(fields: "id") { id: ID! title: String }
type Movie implements Media @key(fields: "id") { id: ID! title: String minutes: Int }
"""
PAGES_SDL = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Book @key(fields: "id") { id: ID! pages: Int }
"""


async def test_interface_across_subgraphs(transport: Any) -> None:
    media = [
        {"__typename": "Book", "id": "b1", "title": "Dune"},
        {"__typename": "Movie", "id": "m1", "title": "Alien", "minutes": 117},
        {"__typename": "Book", "id": "b2", "title": "Emma"},
    ]
    pages = {"b1": 412, "b2": 474}
    library = GraphQLApp(
        executable_schema(LIBRARY_SDL, ["Book", "Movie"]),
        {"media": lambda _info: media, "_entities": lambda _info, representations: []},
    )
    pages_app = GraphQLApp(
        executable_schema(PAGES_SDL, ["Book"]),
        {
            "_entities": lambda _info, representations: [
                {"__typename": "Book", "id": rep["id"], "pages": pages.get(rep["id"])} for rep in representations
            ]
        },
    )
    with UpstreamServers({"library": library, "pages": pages_app}) as servers:
        supergraph = compose(
            [
                SourceSpec(name=n, protocol=SourceKind.FEDERATION, schema=sdl, url=servers.urls[n])
                for n, sdl in (("library", LIBRARY_SDL), ("pages", PAGES_SDL))
            ]
        )
        response = await Executor(supergraph, transport).execute(
            "{ media { __typename title ... on Book { pages } ... on Movie { minutes } } }"
        )
        assert response.errors is None
        assert response.data == {
            "media": [
                {"__typename": "Book", "title": "Dune", "pages": 412},
                {"__typename": "Movie", "title": "Alien", "minutes": 117},
                {"__typename": "Book", "title": "Emma", "pages": 474},
            ]
        }
        assert pages_app.requests == 1
        assert pages_app.bodies[0]["variables"]["_loomReps"] == [
            {"__typename": "Book", "id": "b1"},
            {"__typename": "Book", "id": "b2"},
        ]


async def test_mutations_run_in_order_across_subgraphs(transport: Any) -> None:
    calls: list[str] = []

    def record(name: str) -> Any:
        def resolve(_info: Any, id: str) -> str:
            calls.append(f"{name}({id})")
            return f"{name} {id} #{len(calls)}"

        return resolve

    first = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])\n' + (
        "type Query { ping: String } type Mutation { borrow(id: ID!): String giveBack(id: ID!): String }"
    )
    second = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])\n' + (
        "type Query { pong: String } type Mutation { notify(id: ID!): String }"
    )
    apps = {
        "loans": GraphQLApp(
            executable_schema(first, []), {"borrow": record("borrow"), "giveBack": record("giveBack")}, cache=False
        ),
        "mail": GraphQLApp(executable_schema(second, []), {"notify": record("notify")}, cache=False),
    }
    with UpstreamServers(apps) as servers:
        supergraph = compose(
            [
                SourceSpec(name=n, protocol=SourceKind.FEDERATION, schema=sdl, url=servers.urls[n])
                for n, sdl in (("loans", first), ("mail", second))
            ]
        )
        response = await Executor(supergraph, transport).execute(
            'mutation($id: ID!) { a: borrow(id: $id) b: notify(id: $id) c: giveBack(id: "9") }', {"id": "7"}
        )
    assert response.operation_type == "mutation"
    assert response.data == {"a": "borrow 7 #1", "b": "notify 7 #2", "c": "giveBack 9 #3"}
    assert calls == ["borrow(7)", "notify(7)", "giveBack(9)"]


class BrokenTransport:
    """A transport that breaks its contract (raises a bare ValueError): a fake at our own seam, since no real
    transport does this on purpose. The executor must still answer a GraphQL error, not raise."""

    async def request(self, method: str, url: str, **_: Any) -> Any:
        raise ValueError(f"cannot send {method} {url}")

    async def aclose(self) -> None:
        return None


async def test_a_transport_that_raises_gives_a_graphql_error(fed: Supergraph) -> None:
    response = await Executor(fed, BrokenTransport()).execute("{ me { name } }")
    assert response.data == {"me": None}
    assert response.errors is not None
    assert response.errors[0]["extensions"]["code"] == "UPSTREAM_ERROR"
    assert "cannot be reached" in response.errors[0]["message"]
    assert "cannot send POST" not in response.errors[0]["message"]  # the exception (with its URL) goes to the log


async def test_configured_client_headers_are_forwarded(shop: ShopUpstreams, fed: Supergraph, transport: Any) -> None:
    executor = Executor(fed, transport, GatewayOptions(upstream=UpstreamOptions(forward_headers=("x-request-id",))))
    await executor.execute("{ me { name } }", headers={"x-request-id": "req-42", "authorization": "Bearer secret"})
    sent = shop.apps["fed-accounts"].headers[-1]
    assert sent["x-request-id"] == "req-42"
    assert "authorization" not in sent  # only what the gateway is told to forward
    assert sent["content-type"] == "application/json"
