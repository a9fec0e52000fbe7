"""A small kit for Federation pattern tests: subgraphs written as SDL plus plain resolvers, served over real HTTP.

Each subgraph is a graphql-core schema (its own SDL plus ``_entities``/``_service``), so every document the gateway
sends is validated against that subgraph's own schema exactly as an Apollo subgraph would: an upstream query that
is invalid there comes back as an error and fails the test. The gateway runs twice per case: on the supergraph
``compose`` builds, and on the same supergraph printed as SDL and loaded again (the path ``loom gateway
--supergraph`` takes, with no subgraph schemas at hand).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from graphql import GraphQLInterfaceType, GraphQLUnionType, build_schema

from stitcher.composition import compose
from stitcher.execution import ExecutionResponse, Executor
from stitcher.ir import SourceKind, Supergraph
from stitcher.sources import SourceSpec
from stitcher.supergraph import load_supergraph, print_supergraph_sdl
from stitcher.transport import AiohttpTransport
from tests.stitcher.upstreams.app import GraphQLApp
from tests.stitcher.upstreams.serving import UpstreamServers

__all__ = ["Gateway", "Subgraph", "compose_subgraphs", "gateway_fixture", "supergraph_sdl"]

_IMPORTS = (
    '"@key", "@requires", "@provides", "@external", "@shareable", "@inaccessible", "@interfaceObject", '
    '"@override", "@tag"'
)
LINK = f'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: [{_IMPORTS}])\n'

_MACHINERY = """
scalar _Any
scalar FieldSet
scalar link__Import
directive @link(url: String!, import: [link__Import]) repeatable on SCHEMA
directive @key(fields: FieldSet!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
directive @requires(fields: FieldSet!) on FIELD_DEFINITION
directive @provides(fields: FieldSet!) on FIELD_DEFINITION
directive @external on OBJECT | FIELD_DEFINITION
directive @shareable repeatable on OBJECT | FIELD_DEFINITION
directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM \
| ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION
directive @interfaceObject on OBJECT
directive @override(from: String!) on FIELD_DEFINITION
directive @tag(name: String!) repeatable on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION \
| SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION
type _Service { sdl: String }
"""


@dataclass
class Subgraph:
    """One Federation subgraph. ``query`` resolves root fields (``name -> callable(**arguments)``); ``resolve``
    turns one representation into an object (a dict whose values may be callables taking ``info`` and the field's
    arguments, as graphql-core's default resolver calls them); ``entities`` are the types ``_Entity`` unites."""

    name: str
    sdl: str
    entities: list[str] = field(default_factory=list)
    query: dict[str, Callable[..., Any]] = field(default_factory=dict)
    resolve: Callable[[dict[str, Any]], Any] = lambda representation: None
    types: dict[str, Callable[[Any], str]] = field(default_factory=dict)  # abstract type -> resolve_type

    def app(self) -> GraphQLApp:
        sdl = LINK + self.sdl
        extra = _MACHINERY
        fields = "_service: _Service!"
        if self.entities:
            extra += f"union _Entity = {' | '.join(self.entities)}\n"
            fields = "_entities(representations: [_Any!]!): [_Entity]! " + fields
        keyword = "extend type Query" if "type Query" in sdl else "type Query"
        schema = build_schema(sdl + extra + f"{keyword} {{ {fields} }}\n")
        for type_name, named in schema.type_map.items():
            resolve_type = self.types.get(type_name)
            if resolve_type is not None and isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
                named.resolve_type = lambda value, _info, _type, pick=resolve_type: pick(value)
        root: dict[str, Any] = {
            name: (lambda _info, _resolver=resolver, **arguments: _resolver(**arguments))
            for name, resolver in self.query.items()
        }
        root["_entities"] = lambda _info, representations: [self._entity(r) for r in representations]
        root["_service"] = lambda _info: {"sdl": sdl}
        return GraphQLApp(schema, root, cache=False)

    def _entity(self, representation: dict[str, Any]) -> Any:
        return _typed(self.resolve(representation), representation)


def _typed(found: Any, representation: dict[str, Any]) -> Any:
    """An entity answer typed like its representation unless the resolver said otherwise."""
    if isinstance(found, dict) and "__typename" not in found:
        return {"__typename": representation["__typename"], **found}
    return found


@dataclass
class Gateway:
    """The subgraphs' servers and the two supergraphs built over them."""

    servers: UpstreamServers
    composed: Supergraph
    loaded: Supergraph

    async def run(self, transport: AiohttpTransport, query: str, *, loaded: bool = True) -> ExecutionResponse:
        return await Executor(self.loaded if loaded else self.composed, transport).execute(query)

    async def both(self, transport: AiohttpTransport, query: str) -> list[ExecutionResponse]:
        """The answer of the composed supergraph and of the loaded supergraph SDL."""
        return [await self.run(transport, query, loaded=False), await self.run(transport, query, loaded=True)]

    async def check(self, transport: AiohttpTransport, query: str, data: Any) -> None:
        """Both supergraphs answer ``data`` with no error (an upstream document invalid in its subgraph is one)."""
        for response in await self.both(transport, query):
            assert response.errors is None, response.errors
            assert response.data == data

    def requests(self, name: str) -> list[dict[str, Any]]:
        app: GraphQLApp = self.servers.apps[name]
        return app.bodies


def compose_subgraphs(subgraphs: tuple[Subgraph, ...], urls: dict[str, str] | None = None) -> Supergraph:
    """The supergraph ``compose`` builds (offline: placeholder URLs unless ``urls`` are given)."""
    return compose(
        [
            SourceSpec(
                name=s.name,
                protocol=SourceKind.FEDERATION,
                schema=LINK + s.sdl,
                url=(urls or {}).get(s.name, f"http://127.0.0.1:9/{s.name}"),
            )
            for s in subgraphs
        ]
    )


_SUPERGRAPH_HEAD = """schema @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION) { query: Query }
directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, \
external: Boolean, override: String, usedOverridden: Boolean) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @join__implements(graph: join__Graph!, interface: String!) repeatable on OBJECT | INTERFACE
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! \
= true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA
scalar join__FieldSet
scalar link__Import
enum link__Purpose { SECURITY EXECUTION }
"""


def supergraph_sdl(body: str, urls: dict[str, str]) -> str:
    """A supergraph SDL as Apollo's composition writes it: ``body`` (types with ``@join__*`` directives naming the
    graphs by their upper-case names) after the join machinery and a ``join__Graph`` of ``urls``."""
    members = " ".join(f'{name.upper()} @join__graph(name: "{name}", url: "{url}")' for name, url in urls.items())
    return _SUPERGRAPH_HEAD + f"enum join__Graph {{ {members} }}\n" + body


def gateway_fixture(*subgraphs: Subgraph, supergraph: str | None = None) -> Callable[[], Iterator[Gateway]]:
    """A module-scoped fixture that serves ``subgraphs`` and composes them; or, with ``supergraph`` (a body for
    :func:`supergraph_sdl`), loads that supergraph (a pattern Apollo composes and our composition refuses)."""

    @pytest.fixture(scope="module")
    def gateway() -> Iterator[Gateway]:
        with UpstreamServers({s.name: s.app() for s in subgraphs}) as servers:
            if supergraph is not None:
                loaded = load_supergraph(supergraph_sdl(supergraph, servers.urls))
                yield Gateway(servers, loaded, loaded)
                return
            composed = compose_subgraphs(subgraphs, servers.urls)
            yield Gateway(servers, composed, load_supergraph(print_supergraph_sdl(composed)))

    return gateway
