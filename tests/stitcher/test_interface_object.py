"""``@interfaceObject`` end to end: fields a subgraph adds to an interface it only knows as an object type are fetched
through the interface's key with ``__typename`` the interface, against real upstreams, compared with the monolith."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from graphql import OperationDefinitionNode, build_schema, execute_sync, parse

from stitcher.composition import compose
from stitcher.execution import Executor
from stitcher.ir import SourceKind, Supergraph
from stitcher.options import GatewayOptions, UpstreamOptions
from stitcher.planning import PlanningError, build_plan
from stitcher.sources import Link, SourceSpec, Stitching
from stitcher.supergraph import load_supergraph, print_supergraph_sdl
from stitcher.transport import AiohttpTransport
from tests.stitcher.upstreams import media
from tests.stitcher.upstreams.app import GraphQLApp
from tests.stitcher.upstreams.serving import UpstreamServers

QUERIES = [
    "{ media { id title reviewCount } }",
    "{ media { __typename title ... on Book { pages reviewCount } ... on Movie { stars } } }",
    "{ media { ... on Media { n: reviewCount } ... on Movie { minutes stars } } }",
    '{ book(id: "b2") { title reviewCount stars } }',
    '{ book(id: "m1") { title reviewCount } }',
    # Returned by the interface-object subgraph itself: the concrete type comes from ``media`` first.
    "{ topRated { id reviewCount stars } }",
    "{ topRated(first: 3) { __typename id title reviewCount ... on Book { pages } ... on Movie { minutes } } }",
    "{ topRated { ... on Movie { minutes stars } ... on Media { n: reviewCount } } media { id reviewCount } }",
    # Interface objects inside an entity answer of ``ratings`` (through Book and Movie), and inside those again.
    "{ media { id similar { __typename title ... on Movie { minutes } similar { id title stars } } } }",
    "{ topRated { title similar { title reviewCount } } }",
]


OWNERS_SDL = "type Query { owner(id: ID!): Owner owners(ids: [ID!]!): [Owner] }  type Owner { id: ID! name: String! }"


@pytest.fixture(scope="module")
def servers() -> Iterator[UpstreamServers]:
    root = {
        "owner": lambda _info, id: {"id": id, "name": f"owner of {id}"},
        "owners": lambda _info, ids: [{"id": i, "name": f"owner of {i}"} for i in ids],
    }
    owners = GraphQLApp(build_schema(OWNERS_SDL), root, cache=False)
    apps = {
        "media": media.media_app(),
        "ratings": media.ratings_app(),
        "monolith": media.monolith_app(),
        "owners": owners,
    }
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
    for query in (QUERIES[1], QUERIES[6]):
        response = await Executor(loaded, transport).execute(query)
        assert response.errors is None
        assert response.data == monolith(servers, query)


async def test_fetches_that_need_the_type_wait_for_it_without_level_batching(
    servers: UpstreamServers, composed: Supergraph, transport: Any
) -> None:
    executor = Executor(composed, transport, GatewayOptions(upstream=UpstreamOptions(batch_levels=False)))
    for query in QUERIES[5:]:
        response = await executor.execute(query)
        assert response.errors is None
        assert response.data == monolith(servers, query)


async def test_interface_objects_returned_by_their_own_subgraph_get_their_type_first(
    servers: UpstreamServers, composed: Supergraph, transport: Any
) -> None:
    """``ratings`` returns ``Media`` objects; one ``_entities`` request to ``media`` with ``... on Media {
    __typename ... }`` types them, and the fields ``media`` resolves on each implementation come in that same
    request (``... on Book { title pages }``), as Apollo plans it."""
    counts = {name: servers.apps[name].requests for name in ("media", "ratings")}
    query = "{ topRated(first: 3) { title ... on Book { pages } } }"
    response = await Executor(composed, transport).execute(query)
    assert response.errors is None
    assert response.data == monolith(servers, query)
    assert servers.apps["ratings"].requests == counts["ratings"] + 1
    assert servers.apps["media"].requests == counts["media"] + 1
    typename_fetch = servers.apps["media"].bodies[-1]
    top = media._top_rated(3)
    assert typename_fetch["variables"]["_loomReps"] == [{"__typename": "Media", "id": i} for i in top]
    sent = typename_fetch["query"].replace(" {", "{")
    assert "... on Media{__typename ... on Book{title pages} ... on Movie{title}}" in sent


async def test_fields_selected_on_the_interface_alone_need_no_concrete_type(
    servers: UpstreamServers, composed: Supergraph, transport: Any
) -> None:
    """No ``__typename`` and no fragment on an implementation: the interface-object subgraph's own fields come from
    it alone, and the interface's other fields through the interface's key (``__typename: "Media"``), as Apollo
    plans it; no request asks for the concrete type."""
    counts = {name: servers.apps[name].requests for name in ("media", "ratings")}
    query = "{ topRated(first: 3) { id reviewCount } }"
    response = await Executor(composed, transport).execute(query)
    assert response.errors is None
    assert response.data == monolith(servers, query)
    assert servers.apps["media"].requests == counts["media"]
    query = "{ topRated(first: 3) { title reviewCount similar { title } } }"
    response = await Executor(composed, transport).execute(query)
    assert response.errors is None
    assert response.data == monolith(servers, query)
    assert servers.apps["media"].requests == counts["media"] + 1  # both levels' titles in one batched request
    body = servers.apps["media"].bodies[-1]
    assert "__typename}" not in body["query"].replace(" ", "")
    reps = [r for name, value in body["variables"].items() if name.startswith("_loomReps") for r in value]
    assert {r["__typename"] for r in reps} == {"Media"}


def test_an_interface_object_without_a_subgraph_defining_the_interface_key_is_refused_clearly() -> None:
    """Without a resolvable key on the interface in another subgraph, nobody can tell the concrete type."""
    media_sdl = media.MEDIA_SDL.replace('interface Media @key(fields: "id")', "interface Media")
    supergraph = compose(
        [
            SourceSpec(name="media", protocol=SourceKind.FEDERATION, schema=media_sdl, url="http://127.0.0.1:9"),
            SourceSpec(
                name="ratings", protocol=SourceKind.FEDERATION, schema=media.RATINGS_SDL, url="http://127.0.0.1:9"
            ),
        ]
    )
    operation = parse("{ topRated { title } }").definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    with pytest.raises(PlanningError, match=r"no subgraph defines the interface Media with a resolvable @key"):
        build_plan(supergraph, operation, {}, {})


async def test_a_failed_typename_fetch_nulls_the_objects_with_errors_at_their_paths(
    servers: UpstreamServers, transport: Any
) -> None:
    """``media`` is unreachable (nothing listens on port 9): ``ratings`` answers, but no object gets a type
    (``__typename`` is selected: the concrete type is needed)."""
    supergraph = compose(
        [
            SourceSpec(name="media", protocol=SourceKind.FEDERATION, schema=media.MEDIA_SDL, url="http://127.0.0.1:9"),
            SourceSpec(
                name="ratings", protocol=SourceKind.FEDERATION, schema=media.RATINGS_SDL, url=servers.urls["ratings"]
            ),
        ]
    )
    response = await Executor(supergraph, transport).execute("{ topRated { __typename id reviewCount } }")
    assert response.data is None  # [Media!]! : a lost item nulls the list, and the non-null list the data
    assert response.errors is not None
    # As graphql-core: completing the list stops at its first lost item, so item 1 is never reached or reported.
    assert [e["path"] for e in response.errors] == [["topRated", 0]]
    assert {e["extensions"]["subgraph"] for e in response.errors} == {"media"}


def _with_owners(servers: UpstreamServers, link: Link) -> Supergraph:
    return compose(
        [
            SourceSpec(name=name, protocol=SourceKind.FEDERATION, schema=sdl, url=servers.urls[name])
            for name, sdl in (("media", media.MEDIA_SDL), ("ratings", media.RATINGS_SDL))
        ]
        + [SourceSpec("owners", SourceKind.GRAPHQL, OWNERS_SDL, url=servers.urls["owners"])],
        Stitching(links=(link,)),
    )


async def test_a_link_on_an_interface_reaches_media_returned_by_the_interface_object(
    servers: UpstreamServers, transport: Any
) -> None:
    """``Media.owner`` (a link on the interface) for media that only the interface object's subgraph returns
    (``topRated``): their concrete type comes from ``media`` first, then the link is planned per concrete type."""
    composed = _with_owners(servers, Link("Media", "owner", "owners", "owner", {"id": "id"}, returns="Owner"))
    query = "{ topRated(first: 3) { __typename id reviewCount owner { name } } }"
    for supergraph in (composed, load_supergraph(print_supergraph_sdl(composed))):
        response = await Executor(supergraph, transport).execute(query)
        assert response.errors is None
        expected = monolith(servers, "{ topRated(first: 3) { __typename id reviewCount } }")
        assert response.data == {
            "topRated": [{**m, "owner": {"name": f"owner of {m['id']}"}} for m in expected["topRated"]]
        }


def _owned_by_review_count(data: Any, media_path: str) -> Any:
    """``data`` (the monolith's answer, with review counts) with each medium's ``owner`` in place of its count: the
    owner whose id is that count (what the link passes)."""
    for medium in data[media_path] if isinstance(data[media_path], list) else [data[media_path]]:
        medium["owner"] = {"name": f"owner of {medium.pop('reviewCount')}"}
    return data


@pytest.mark.parametrize(
    ("operation", "argument"), [("owner", "id"), ("owners", "ids")], ids=["one call each", "batched"]
)
async def test_a_link_on_an_interface_from_a_field_of_the_interface_object_is_served(
    servers: UpstreamServers, transport: Any, operation: str, argument: str
) -> None:
    """``Media.owner`` from ``owner(id: reviewCount)``: ``reviewCount`` is a field of Book and Movie only through
    the @interfaceObject of ``ratings``, so each medium's count is fetched there first (one ``_entities`` request
    with ``__typename: Media``), then the link's operation is called with it (once per medium, or once for all
    when it takes a list); also for media the interface object's subgraph returns itself."""
    composed = _with_owners(servers, Link("Media", "owner", "owners", operation, {argument: "reviewCount"}))
    cases = [
        ("{ media { id title owner { name } } }", "{ media { id title reviewCount } }", "media"),
        (
            "{ topRated(first: 3) { __typename id owner { name } } }",
            "{ topRated(first: 3) { __typename id reviewCount } }",
            "topRated",
        ),
    ]
    for supergraph in (composed, load_supergraph(print_supergraph_sdl(composed))):
        for query, reference, root in cases:
            before = servers.apps["ratings"].requests
            sent_before = len(servers.apps["owners"].bodies)
            response = await Executor(supergraph, transport).execute(query)
            assert response.errors is None and response.data is not None
            assert response.data == _owned_by_review_count(monolith(servers, reference), root)
            # One request per implementation (each has its link subgraph), one call per medium or per request.
            sent = servers.apps["owners"].bodies[sent_before:]
            types = {medium["__typename"] for medium in monolith(servers, "{ media { __typename } }")["media"]}
            calls = sum(body["query"].count(f"{operation}(") for body in sent)
            assert len(sent) == len(types) and calls == (
                len(sent) if operation == "owners" else len(response.data[root])
            )
            if root == "media":  # the counts: one request to the interface object's subgraph for all media
                assert servers.apps["ratings"].requests == before + 1
                assert servers.apps["ratings"].bodies[-1]["variables"]["_loomReps"] == [
                    {"__typename": "Media", "id": m["id"]} for m in media.MEDIA
                ]


async def test_a_link_on_an_implementation_from_a_field_of_the_interface_object_is_served(
    servers: UpstreamServers, transport: Any
) -> None:
    """The same on one implementation (``Book.owner``): Book's own services lack ``reviewCount``, its interface's
    @interfaceObject adds it."""
    composed = _with_owners(servers, Link("Book", "owner", "owners", "owner", {"id": "reviewCount"}))
    assert composed.schema.get_type("Movie").fields.get("owner") is None  # type: ignore[union-attr]
    query = '{ book(id: "b2") { title owner { name } } }'
    for supergraph in (composed, load_supergraph(print_supergraph_sdl(composed))):
        response = await Executor(supergraph, transport).execute(query)
        assert response.errors is None
        reference = monolith(servers, '{ book(id: "b2") { title reviewCount } }')
        assert response.data == _owned_by_review_count(reference, "book")
