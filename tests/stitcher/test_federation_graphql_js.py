"""A Federation subgraph, and a supergraph SDL, are taken as graphql-js 16 takes them: a deprecated implementation
of an undeprecated interface field (a draft-spec rule graphql-core 3.3 enforces and graphql-js 16 does not) is a
warning, and the gateway still answers queries on the result."""

from __future__ import annotations

from graphql import graphql_sync

from stitcher.composition import compose
from stitcher.ir import SourceKind
from stitcher.sources import SourceSpec
from stitcher.supergraph import load_supergraph, print_supergraph_sdl

SDL = """extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Query { pets: [Pet!]! }
interface Pet { name: String! }
type Cat implements Pet @key(fields: "name") { name: String! @deprecated(reason: "use nickname") nickname: String }
"""


def test_a_deprecated_implementation_field_is_a_warning_in_a_subgraph_and_a_supergraph() -> None:
    composed = compose([SourceSpec("pets", SourceKind.FEDERATION, SDL, url="http://127.0.0.1:9/pets")])
    assert any("must not be deprecated" in w for w in composed.subgraphs["pets"].warnings)
    loaded = load_supergraph(print_supergraph_sdl(composed))
    assert any("must not be deprecated" in w for w in loaded.warnings)
    result = graphql_sync(loaded.schema, '{ __type(name: "Cat") { name } }')
    assert result.errors is None and result.data == {"__type": {"name": "Cat"}}
