"""``@interfaceObject`` end to end: fields a subgraph adds to an interface it only knows as an object type are fetched
through the interface's key with ``__typename`` the interface, against real upstreams, compared with the monolith."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from graphql import OperationDefinitionNode, execute_sync, parse

from stitcher.composition import compose
from stitcher.execution import Executor
from stitcher.ir import SourceKind, Supergraph
from stitcher.planning import PlanningError, build_plan
from stitcher.sources import SourceSpec
from stitcher.supergraph import load_supergraph, print_supergraph_sdl
from stitcher.transport import AiohttpTransport
from tests.stitcher.upstreams import media
from tests.stitcher.upstreams.serving import UpstreamServers

QUERIES = [
    "{ media { id title reviewCount } }",
    "{ media { __typename title ... on Book { pages reviewCount } ... on Movie { stars } } }",
    "{ media { ... on Media { n: reviewCount } ... on Movie { minutes stars } } }",
    '{ book(id: "b2") { title reviewCount stars } }',
    '{ book(id: "m1") { title reviewCount } }',
]


@pytest.fixture(scope="module")
def servers() -> Iterator[UpstreamServers]:
    apps = {"media": media.media_app(), "ratings": media.ratings_app(), "monolith": media.monolith_app()}
    with UpstreamServers(apps) as running:
        yield running


@pytest.fixture(scope="module")
def composed(servers: UpstreamServers) -> Supergraph:
    return compose(
        [
            SourceSpec(name=name, protocol=SourceKind.FEDERATION, schema=sdl, url=servers.urls[name])
            for name, sdl in (("media", media.MEDIA_SDL), ("ratings", media.RATINGS_SDL))
        ]
    )


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpTransport]:
    transport = await AiohttpTransport.create()
    yield transport
    await transport.aclose()


def monolith(servers: UpstreamServers, query: str) -> Any:
    app = servers.apps["monolith"]
    result = execute_sync(app.schema, parse(query), app.root_value)
    assert result.errors is None
    return result.data


@pytest.mark.parametrize("query", QUERIES)
async def test_interface_object_fields_match_the_monolith(
    servers: UpstreamServers, composed: Supergraph, transport: Any, query: str
) -> None:
    response = await Executor(composed, transport).execute(query)
    assert response.errors is None
    assert response.data == monolith(servers, query)


async def test_representations_carry_the_interface_name_in_one_request(
    servers: UpstreamServers, composed: Supergraph, transport: Any
) -> None:
    ratings = servers.apps["ratings"]
    before = ratings.requests
    response = await Executor(composed, transport).execute("{ media { title reviewCount } }")
    assert response.errors is None
    assert ratings.requests == before + 1  # Books and Movies in one _entities call
    body = ratings.bodies[-1]
    assert body["variables"]["_loomReps"] == [{"__typename": "Media", "id": m["id"]} for m in media.MEDIA]
    assert body["query"].count("... on Media") == 1


async def test_a_loaded_supergraph_sdl_serves_interface_objects(
    servers: UpstreamServers, composed: Supergraph, transport: Any
) -> None:
    loaded = load_supergraph(print_supergraph_sdl(composed))
    query = QUERIES[1]
    response = await Executor(loaded, transport).execute(query)
    assert response.errors is None
    assert response.data == monolith(servers, query)


def test_a_field_returning_the_interface_object_itself_is_refused_clearly() -> None:
    sdl = media.RATINGS_SDL.replace("type Media", "type Query { topRated: [Media!]! }\ntype Media")
    supergraph = compose(
        [
            SourceSpec(name="media", protocol=SourceKind.FEDERATION, schema=media.MEDIA_SDL, url="http://127.0.0.1:9"),
            SourceSpec(name="ratings", protocol=SourceKind.FEDERATION, schema=sdl, url="http://127.0.0.1:9"),
        ]
    )
    operation = parse("{ topRated { title } }").definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    with pytest.raises(PlanningError, match=r"@interfaceObject.*not supported yet"):
        build_plan(supergraph, operation, {}, {})
