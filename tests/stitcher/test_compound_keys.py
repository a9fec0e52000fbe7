"""Compound keys (``sku vendor``) for plain GraphQL and REST entity resolvers, against real upstreams on loopback
and compared with the monolith; and the merge configurations that cannot carry a compound key, refused clearly."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from graphql import execute_sync, parse

from stitcher.composition import compose
from stitcher.errors import SchemaError
from stitcher.execution import Executor
from stitcher.graphql_source import subgraph_from_graphql
from stitcher.ir import EntityResolver, SourceKind, Supergraph
from stitcher.openapi import subgraph_from_openapi
from stitcher.sources import EntityConfig, SourceSpec
from stitcher.transport import AiohttpTransport
from tests.stitcher.upstreams import data, deliveries, plain
from tests.stitcher.upstreams.monolith import monolith_app
from tests.stitcher.upstreams.serving import UpstreamServers

QUERY = "{ topProducts { upc name deliveryDays } }"
KEYS = [{"sku": p["sku"], "vendor": p["vendor"]} for p in data.PRODUCTS.values()]


@pytest.fixture(scope="module")
def servers() -> Iterator[UpstreamServers]:
    apps = {
        "products": plain.products_app(),
        "deliveries": deliveries.graphql_app(),
        "rest": deliveries.RestApp(),
        "monolith": monolith_app(),
    }
    with UpstreamServers(apps) as running:
        yield running


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpTransport]:
    transport = await AiohttpTransport.create()
    yield transport
    await transport.aclose()


def product(servers: UpstreamServers, delivery: SourceSpec) -> Supergraph:
    products = SourceSpec(
        name="products",
        protocol=SourceKind.GRAPHQL,
        schema=plain.PRODUCTS_SDL,
        url=servers.urls["products"],
        entities=plain.ENTITIES["products"],
    )
    return compose([products, delivery])


def plain_deliveries(servers: UpstreamServers, operation: str) -> SourceSpec:
    return SourceSpec(
        name="deliveries",
        protocol=SourceKind.GRAPHQL,
        schema=deliveries.GRAPHQL_SDL,
        url=servers.urls["deliveries"],
        entities={"Product": EntityConfig(key="sku vendor", operation=operation)},
    )


def monolith(servers: UpstreamServers) -> Any:
    app = servers.apps["monolith"]
    return execute_sync(app.schema, parse(QUERY), app.root_value).data


async def test_one_argument_per_key_field(servers: UpstreamServers, transport: Any) -> None:
    supergraph = product(servers, plain_deliveries(servers, "delivery"))
    resolver = supergraph.subgraphs["deliveries"].resolvers["Product"]
    assert resolver == EntityResolver("Product", "sku vendor", "delivery", "", False, ("sku", "vendor"))
    app = servers.apps["deliveries"]
    before = app.requests
    response = await Executor(supergraph, transport).execute(QUERY)
    assert response.errors is None
    assert response.data == monolith(servers)
    assert app.requests == before + 1  # one aliased call per product, in one request
    body = app.bodies[-1]
    assert "_e0: delivery(sku: $_k0_0, vendor: $_k0_1)" in body["query"]
    sent = [{"sku": body["variables"][f"_k{i}_0"], "vendor": body["variables"][f"_k{i}_1"]} for i in range(5)]
    assert sent == KEYS


async def test_a_list_of_input_objects_is_batched(servers: UpstreamServers, transport: Any) -> None:
    supergraph = product(servers, plain_deliveries(servers, "deliveries"))
    resolver = supergraph.subgraphs["deliveries"].resolvers["Product"]
    assert (resolver.argument, resolver.batched, resolver.key_arguments) == ("keys", True, ("sku", "vendor"))
    app = servers.apps["deliveries"]
    before = app.requests
    response = await Executor(supergraph, transport).execute(QUERY)
    assert response.errors is None
    assert response.data == monolith(servers)
    assert app.requests == before + 1
    assert app.bodies[-1]["variables"]["_k0"] == KEYS


async def test_rest_takes_each_key_field_as_a_path_parameter(servers: UpstreamServers, transport: Any) -> None:
    rest = SourceSpec(
        name="deliveries",
        protocol=SourceKind.OPENAPI,
        schema=deliveries.OPENAPI,
        url=servers.urls["rest"],
        entities={"Product": EntityConfig(key="sku vendor", operation="getDelivery")},
    )
    supergraph = product(servers, rest)
    app = servers.apps["rest"]
    app.paths.clear()
    response = await Executor(supergraph, transport).execute(QUERY)
    assert response.errors is None
    assert response.data == monolith(servers)
    assert sorted(app.paths) == sorted(f"/deliveries/{k['vendor']}/{k['sku']}" for k in KEYS)


AMBIGUOUS_SDL = """
type Query {
  bySku(sku: String!): Product
  byKeys(keys: [String!]!): [Product]!
  byNested(key: NestedKey!): Product
  strict(key: ProductKey!): Product
}
input NestedKey { sku: String! }
input ProductKey { sku: String! vendor: String! tenant: String! }
type Org { id: ID! }
type Product { sku: String! vendor: String! org: Org }
"""


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        (EntityConfig(key="sku vendor", operation="bySku"), "needs an argument per key field on Query.bySku (missing"),
        (
            EntityConfig(key="sku vendor", operation="byKeys", argument="keys"),
            "needs Query.byKeys(keys:) to be an input object",
        ),
        (EntityConfig(key="sku vendor", operation="byNested"), "input NestedKey of Query.byNested(key:) lacks"),
        (EntityConfig(key="sku vendor", operation="strict"), "input ProductKey also requires tenant"),
        (EntityConfig(key="sku org { id }", operation="bySku"), "has nested fields"),
    ],
)
def test_plain_graphql_compound_keys_that_cannot_be_passed_are_refused(config: EntityConfig, fragment: str) -> None:
    spec = SourceSpec("s", SourceKind.GRAPHQL, AMBIGUOUS_SDL, entities={"Product": config})
    with pytest.raises(SchemaError) as caught:
        subgraph_from_graphql(spec)
    assert fragment in str(caught.value)


def test_a_batched_compound_key_needs_a_list_of_input_objects() -> None:
    config = EntityConfig(key="sku vendor", operation="delivery", batched=True)
    spec = SourceSpec("s", SourceKind.GRAPHQL, deliveries.GRAPHQL_SDL, entities={"Product": config})
    with pytest.raises(SchemaError, match="batched compound key needs one argument that is a list of input objects"):
        subgraph_from_graphql(spec)


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        (EntityConfig(key="sku vendor", operation="getDelivery", batched=True), "remove `batched` and `argument`"),
        (EntityConfig(key="sku deliveryDays", operation="getDelivery"), "no path or query parameter named delivery"),
    ],
)
def test_rest_compound_keys_that_cannot_be_passed_are_refused(config: EntityConfig, fragment: str) -> None:
    spec = SourceSpec("s", SourceKind.OPENAPI, deliveries.OPENAPI, entities={"Product": config})
    with pytest.raises(SchemaError) as caught:
        subgraph_from_openapi(spec)
    assert fragment in str(caught.value)
