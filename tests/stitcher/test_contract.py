"""The contract suite: the same product queries over all three kinds of source (Federation subgraphs, plain GraphQL
services with merge config, plain GraphQL + a REST service), each against real upstream processes on loopback,
compared with the monolith that serves the same data as one schema."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from graphql import execute_sync, parse, validate

from stitcher.execution import Executor
from stitcher.ir import Supergraph
from stitcher.options import GatewayOptions, UpstreamOptions
from stitcher.transport import AiohttpTransport
from tests.stitcher.upstreams.shops import ShopUpstreams

QUERIES: list[tuple[str, dict[str, Any] | None]] = [
    ("{ topProducts { upc name price } }", None),
    ("{ topProducts(first: 2) { name reviews { body stars } } }", None),
    ("{ topProducts { name inStock } }", None),
    ("{ topProducts { upc inStock shippingEstimate } }", None),
    ("{ reviews { id author { name username } product { name price } } }", None),
    ("{ users { name reviews { stars product { name } } } }", None),
    ("query($upc: String!) { product(upc: $upc) { name inStock reviews { author { name } } } }", {"upc": "1"}),
    ('{ a: product(upc: "2") { name } b: product(upc: "404") { name } }', None),
    ("{ me { __typename id name reviews { product { __typename upc name } } } }", None),
    ("{ topProducts { ...P } } fragment P on Product { upc name ... on Product { weight } }", None),
    ("query($s: Boolean!) { topProducts(first: 3) { name price @skip(if: $s) } }", {"s": True}),
    ('{ search(text: "o") { __typename ... on User { name } ... on Product { name inStock } } }', None),
    ("query($id: ID!) { user(id: $id) { name reviews { body } } }", {"id": "2"}),
]

KINDS = ("federation", "graphql", "openapi")


@pytest.fixture(scope="module")
def shop() -> Iterator[ShopUpstreams]:
    with ShopUpstreams() as servers:
        yield servers


@pytest.fixture(scope="module")
def products(shop: ShopUpstreams) -> dict[str, Supergraph]:
    return {"federation": shop.federation(), "graphql": shop.graphql(), "openapi": shop.openapi()}


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpTransport]:
    transport = await AiohttpTransport.create()
    yield transport
    await transport.aclose()


def expected(shop: ShopUpstreams, query: str, variables: dict[str, Any] | None) -> Any:
    app = shop.apps["monolith"]
    return execute_sync(app.schema, parse(query), app.root_value, variable_values=variables).data


@pytest.mark.parametrize("kind", KINDS)
async def test_same_queries_same_answers(
    shop: ShopUpstreams, products: dict[str, Supergraph], transport: AiohttpTransport, kind: str
) -> None:
    supergraph = products[kind]
    executor = Executor(supergraph, transport)
    ran = 0
    for query, variables in QUERIES:
        if validate(supergraph.schema, parse(query)):
            continue  # this product does not offer every field (e.g. no reviews over REST)
        response = await executor.execute(query, variables)
        assert response.errors is None, (query, response.errors)
        assert response.data == expected(shop, query, variables), query
        ran += 1
    assert ran >= {"federation": 13, "graphql": 9, "openapi": 5}[kind]


@pytest.mark.parametrize("kind", KINDS)
async def test_no_n_plus_one(
    shop: ShopUpstreams, products: dict[str, Supergraph], transport: AiohttpTransport, kind: str
) -> None:
    """Entities of one type at one level take one upstream request, however many objects there are."""
    supergraph = products[kind]
    query = "{ topProducts { name inStock } }" if kind == "openapi" else "{ reviews { author { name } } }"
    before = shop.requests()
    response = await Executor(supergraph, transport).execute(query)
    assert response.errors is None
    after = shop.requests()
    assert sorted(after[name] - before[name] for name in after if after[name] != before[name]) == [1, 1]


BENCHMARK_QUERY = """
fragment User on User { id username name }
fragment Review on Review { id body }
fragment Product on Product { inStock name price shippingEstimate upc weight }
query TestQuery {
  users { ...User reviews { ...Review product { ...Product reviews { ...Review author { ...User reviews { ...Review
    product { ...Product } } } } } } }
  topProducts { ...Product reviews { ...Review author { ...User reviews { ...Review product { ...Product } } } } }
}
"""


@pytest.mark.parametrize(("batch_levels", "requests"), [(True, 7), (False, 13)])
async def test_the_gateway_benchmark_query_with_default_limits(
    shop: ShopUpstreams,
    products: dict[str, Supergraph],
    transport: AiohttpTransport,
    batch_levels: bool,
    requests: int,
) -> None:
    """The usual gateway benchmark query (deep, four nested lists) passes the default limits and is right.

    Batched by level: one request per subgraph per level (2 roots, then reviews+inventory, products+accounts,
    inventory). Unbatched: one request per subgraph per path (2 roots, 11 entity fetches)."""
    executor = Executor(
        products["federation"], transport, GatewayOptions(upstream=UpstreamOptions(batch_levels=batch_levels))
    )
    before = shop.requests()
    response = await executor.execute(BENCHMARK_QUERY)
    after = shop.requests()
    assert response.errors is None
    assert response.data == expected(shop, BENCHMARK_QUERY, None)
    calls = {name: after[name] - before[name] for name in after if after[name] != before[name]}
    assert sum(calls.values()) == requests
