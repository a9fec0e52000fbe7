"""A client's executable directives reach the subgraphs that define them. ``shop`` defines ``@inContext(country:)``
on the operation and ``@currency(code:)`` on fields, and its resolvers read them (a name in the country's language,
a price in the asked currency); ``reviews`` defines ``@inContext`` too and answers in the country's language through
an entity fetch; ``stock`` and a plain GraphQL ``weather`` service define neither, so they never see them. Every
document is validated by the receiving subgraph's own schema, and each subgraph records what it received."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from graphql import GraphQLResolveInfo, build_schema, value_from_ast_untyped

from stitcher.composition import compose
from stitcher.execution import Executor
from stitcher.ir import SourceKind, Supergraph
from stitcher.sources import SourceSpec
from stitcher.transport import AiohttpTransport
from tests.stitcher.federation.kit import LINK, Gateway, Subgraph, gateway_fixture
from tests.stitcher.upstreams.app import GraphQLApp
from tests.stitcher.upstreams.serving import UpstreamServers

IN_CONTEXT = "directive @inContext(country: String!) on QUERY\n"
NAMES = {"DE": "Fahrrad", "FR": "Vélo"}
REVIEWS = {"DE": "sehr gut", "FR": "très bien"}
RATES = {"EUR": 0.9, "CHF": 0.8}


def _directive(info: GraphQLResolveInfo[Any], nodes: Iterable[Any], name: str, argument: str) -> Any:
    """The value of ``@name(argument:)`` among ``nodes``' directives (variables resolved), or None."""
    for directive in nodes:
        if directive.name.value == name:
            for arg in directive.arguments:
                if arg.name.value == argument:
                    return value_from_ast_untyped(arg.value, info.variable_values.coerced)
    return None


def _country(info: GraphQLResolveInfo[Any]) -> Any:
    return _directive(info, info.operation.directives or (), "inContext", "country")


def _product(product_id: str) -> dict[str, Any]:
    return {
        "id": product_id,
        "name": lambda info: NAMES.get(_country(info), "Bicycle"),
        "price": lambda info: round(
            100 * RATES.get(_directive(info, info.field_nodes[0].directives or (), "currency", "code"), 1.0)
        ),
    }


SUBGRAPHS = (
    Subgraph(
        "shop",
        IN_CONTEXT + "directive @currency(code: String!) on FIELD\ntype Query { product: Product }\n"
        'type Product @key(fields: "id") { id: ID! name: String! price: Int! }',
        entities=["Product"],
        query={"product": lambda: _product("p1")},
        resolve=lambda rep: _product(rep["id"]),
    ),
    Subgraph(
        "reviews",
        IN_CONTEXT + 'type Product @key(fields: "id") { id: ID! review: String! }',
        entities=["Product"],
        resolve=lambda rep: {"id": rep["id"], "review": lambda info: REVIEWS.get(_country(info), "great")},
    ),
    Subgraph(
        "stock",
        'type Product @key(fields: "id") { id: ID! inStock: Boolean! }',
        entities=["Product"],
        resolve=lambda rep: {"id": rep["id"], "inStock": True},
    ),
)
WEATHER_SDL = "type Query { forecast: String! }"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[UpstreamServers, Supergraph]]:
    apps = {s.name: s.app() for s in SUBGRAPHS}
    apps["weather"] = GraphQLApp(build_schema(WEATHER_SDL), {"forecast": "sunny"}, cache=False)
    with UpstreamServers(apps) as servers:
        specs = [
            SourceSpec(name=s.name, protocol=SourceKind.FEDERATION, schema=LINK + s.sdl, url=servers.urls[s.name])
            for s in SUBGRAPHS
        ]
        specs.append(
            SourceSpec(name="weather", protocol=SourceKind.GRAPHQL, schema=WEATHER_SDL, url=servers.urls["weather"])
        )
        yield servers, compose(specs)


def _last(servers: UpstreamServers, name: str) -> dict[str, Any]:
    bodies: list[dict[str, Any]] = servers.apps[name].bodies
    return bodies[-1]


async def test_directives_go_to_the_subgraphs_that_define_them(
    served: tuple[UpstreamServers, Supergraph], transport: AiohttpTransport
) -> None:
    servers, supergraph = served
    query = (
        'query Shopping($code: String!) @inContext(country: "DE") '
        "{ product { name price @currency(code: $code) review inStock } forecast }"
    )
    response = await Executor(supergraph, transport).execute(query, {"code": "EUR"})
    assert response.errors is None
    assert response.data == {
        "product": {"name": "Fahrrad", "price": 90, "review": "sehr gut", "inStock": True},
        "forecast": "sunny",
    }
    shop = _last(servers, "shop")
    assert '@inContext(country: "DE")' in shop["query"] and "@currency(code: $code)" in shop["query"]
    assert shop["variables"] == {"code": "EUR"}
    assert '@inContext(country: "DE")' in _last(servers, "reviews")["query"]  # an entity fetch carries it too
    for name in ("stock", "weather"):
        assert "@" not in _last(servers, name)["query"]


async def test_directive_arguments_may_be_variables_and_each_request_gets_its_own(
    served: tuple[UpstreamServers, Supergraph], transport: AiohttpTransport
) -> None:
    servers, supergraph = served
    executor = Executor(supergraph, transport)
    query = (
        "query($country: String!, $code: String!) @inContext(country: $country) "
        "{ product { name review p: price @currency(code: $code) price } }"
    )
    for country, code, name, review, price in (
        ("FR", "CHF", "Vélo", "très bien", 80),
        ("DE", "EUR", "Fahrrad", "sehr gut", 90),
    ):
        response = await executor.execute(query, {"country": country, "code": code})
        assert response.errors is None
        assert response.data == {"product": {"name": name, "review": review, "p": price, "price": 100}}
    assert _last(servers, "reviews")["variables"]["country"] == "DE"
    assert "$code" not in _last(servers, "reviews")["query"]  # only the variables a subgraph's document uses


async def test_a_field_directive_its_subgraph_does_not_define_is_a_planning_error(
    served: tuple[UpstreamServers, Supergraph], transport: AiohttpTransport
) -> None:
    """``inStock`` is resolved by ``stock``, which does not define ``@currency``: never dropped silently."""
    servers, supergraph = served
    before = servers.apps["stock"].requests
    response = await Executor(supergraph, transport).execute('{ product { inStock @currency(code: "EUR") } }')
    assert response.data is None and response.errors is not None
    assert response.errors[0]["extensions"]["code"] == "QUERY_PLANNING_FAILED"
    assert response.errors[0]["message"] == (
        "@currency on Product.inStock cannot be honoured: subgraph 'stock', which resolves the field, does not "
        "define @currency (defined by 'shop')"
    )
    assert servers.apps["stock"].requests == before


async def test_without_a_directive_nothing_changes(
    served: tuple[UpstreamServers, Supergraph], transport: AiohttpTransport
) -> None:
    servers, supergraph = served
    response = await Executor(supergraph, transport).execute("{ product { name price review } }")
    assert response.data == {"product": {"name": "Bicycle", "price": 100, "review": "great"}}
    assert "@" not in _last(servers, "shop")["query"]


def _greeting(greeting_id: str) -> dict[str, Any]:
    return {"id": greeting_id, "text": lambda info: {"FR": "Bonjour", "DE": "Hallo"}.get(_country(info), "Hello")}


EVERYWHERE = (
    Subgraph(
        "desk",
        IN_CONTEXT + 'type Query { greeting: Greeting }\ntype Greeting @key(fields: "id") { id: ID! text: String! }',
        entities=["Greeting"],
        query={"greeting": lambda: _greeting("g1")},
        resolve=lambda rep: _greeting(rep["id"]),
    ),
    Subgraph(
        "clock",
        IN_CONTEXT + 'type Greeting @key(fields: "id") { id: ID! hour: Int! }',
        entities=["Greeting"],
        resolve=lambda rep: {"id": rep["id"], "hour": lambda info: {"FR": 9, "DE": 8}.get(_country(info), 0)},
    ),
)
everywhere = gateway_fixture(*EVERYWHERE)


async def test_a_directive_every_subgraph_defines_survives_the_printed_supergraph(
    everywhere: Gateway, transport: AiohttpTransport
) -> None:
    """The ``loom gateway --supergraph`` path: the printed supergraph keeps the directive and the loaded gateway
    forwards it to every subgraph (its subgraph schemas, rebuilt from ``join__*``, hold no directives)."""
    query = 'query @inContext(country: "FR") { greeting { text hour } }'
    for loaded in (False, True):
        response = await everywhere.run(transport, query, loaded=loaded)
        assert response.errors is None
        assert response.data == {"greeting": {"text": "Bonjour", "hour": 9}}
        for name in ("desk", "clock"):
            assert '@inContext(country: "FR")' in everywhere.requests(name)[-1]["query"]


APOLLO_SUPERGRAPH = """
directive @inContext(country: String!) on QUERY
type Query @join__type(graph: DESK) @join__type(graph: CLOCK) {
  greeting: Greeting @join__field(graph: DESK)
}
type Greeting @join__type(graph: DESK, key: "id") @join__type(graph: CLOCK, key: "id") {
  id: ID!
  text: String! @join__field(graph: DESK)
  hour: Int! @join__field(graph: CLOCK)
}
"""
apollo = gateway_fixture(*EVERYWHERE, supergraph=APOLLO_SUPERGRAPH)


async def test_a_directive_in_an_apollo_supergraph_goes_to_every_subgraph(
    apollo: Gateway, transport: AiohttpTransport
) -> None:
    """Apollo composes an executable directive into the supergraph only when every subgraph defines it, and its
    supergraph does not say more: a gateway that loaded it forwards the directive to every subgraph."""
    response = await apollo.run(transport, 'query @inContext(country: "DE") { greeting { text hour } }')
    assert response.errors is None
    assert response.data == {"greeting": {"text": "Hallo", "hour": 8}}
    for name in ("desk", "clock"):
        assert '@inContext(country: "DE")' in apollo.requests(name)[-1]["query"]
