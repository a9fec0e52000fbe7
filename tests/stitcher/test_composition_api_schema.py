"""A product of one OpenAPI or introspected source gets an API schema over the source's own type objects instead of
a print-and-build round trip (``compose_subgraphs``'s ``reuse_types``): the two must be the same schema, byte for
byte in every printed form and in what introspection answers, and the short way must be taken only when nothing is
merged, filtered or added."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from graphql import (
    GraphQLSchema,
    build_schema,
    introspection_from_schema,
    print_schema,
    validate_schema,
)

from stitcher.composition import build_subgraph, compose_subgraphs
from stitcher.ir import SourceKind, Subgraph, Supergraph
from stitcher.sources import EntityConfig, SourceSpec, Transforms
from stitcher.supergraph import print_product_sdl, print_supergraph_sdl

HERE = Path(__file__).parent
OPENAPI = [
    HERE / "specs" / "catalog.openapi.yaml",
    HERE / "specs" / "orders.openapi.yaml",
    HERE / "specs" / "petstore.swagger.yaml",
    HERE / "specs" / "library.openapi31.json",
    HERE / "schemas" / "catalog.openapi.yaml",
]

# Everything an introspection result carries: interfaces, unions, enums with deprecated values, defaults of every
# kind, deprecated arguments and input fields, @oneOf, @specifiedBy, descriptions, all three roots.
RICH_SDL = '''
"""A node."""
interface Node { id: ID! }
interface Named implements Node { id: ID! name: String! }
scalar URL @specifiedBy(url: "https://www.rfc-editor.org/rfc/rfc3986")
enum Colour { RED GREEN @deprecated(reason: "Use RED.") BLUE }
input ProductFilter @oneOf { handle: String id: ID tag: String @deprecated(reason: "Use handle.") }
input Page { first: Int = 10 after: String @deprecated colours: [Colour!] = [RED, BLUE] nested: Inner = {n: 2.5} }
input Inner { n: Float }
"A product."
type Product implements Node & Named {
  id: ID!
  name: String!
  "Its picture."
  image(size: Int @deprecated(reason: "Use width."), width: Int = 640): URL
  colour: Colour @deprecated(reason: "Colours are many.")
}
type Shop implements Node { id: ID! products(page: Page): [Product!]! }
union Thing = Product | Shop
type Query { product(by: ProductFilter!): Product things: [Thing] node(id: ID!): Node }
type Mutation { rename(id: ID!, name: String!): Product }
type Subscription { renamed: Product }
'''


def _openapi(path: Path) -> SourceSpec:
    return SourceSpec(
        path.stem.replace(".", "-"),
        SourceKind.OPENAPI,
        path.read_text(encoding="utf-8"),
        url="http://127.0.0.1:9",
        base_path=path.parent,
    )


def _introspected(name: str, sdl: str) -> SourceSpec:
    text = json.dumps({"data": introspection_from_schema(build_schema(sdl))})
    return SourceSpec(name, SourceKind.GRAPHQL, text, url=f"http://{name}.test/graphql")


SOURCES = {path.name: _openapi(path) for path in OPENAPI} | {"introspected": _introspected("rich", RICH_SDL)}


def _reused(supergraph: Supergraph, sub: Subgraph) -> bool:
    assert sub.schema is not None
    query = supergraph.schema.query_type
    return query is not None and query is sub.schema.query_type


def _same_schema(fast: Supergraph, slow: Supergraph) -> None:
    assert print_schema(fast.schema) == print_schema(slow.schema)
    assert list(fast.schema.type_map) == list(slow.schema.type_map)
    assert [d.name for d in fast.schema.directives] == [d.name for d in slow.schema.directives]
    assert introspection_from_schema(fast.schema) == introspection_from_schema(slow.schema)
    assert print_supergraph_sdl(fast) == print_supergraph_sdl(slow)
    assert print_product_sdl(fast) == print_product_sdl(slow)
    assert (fast.warnings, fast.types, fast.fields) == (slow.warnings, slow.types, slow.fields)
    # Marked valid without validating: a fresh schema over the same types must indeed be valid.
    assert validate_schema(fast.schema) == []
    assert validate_schema(GraphQLSchema(**fast.schema.to_kwargs())) == []


@pytest.mark.parametrize("name", SOURCES)
def test_a_lone_source_s_types_are_reused_and_give_the_schema_the_round_trip_gives(name: str) -> None:
    sub = build_subgraph(SOURCES[name])
    fast = compose_subgraphs([sub])
    assert _reused(fast, sub)
    _same_schema(fast, compose_subgraphs([sub], reuse_types=False))


def test_a_transformed_source_composes_the_same_either_way() -> None:
    sub = build_subgraph(dataclasses.replace(SOURCES["orders.openapi.yaml"], transforms=Transforms(prefix="Shop")))
    fast = compose_subgraphs([sub])
    assert any(name.startswith("Shop") for name in fast.schema.type_map)
    _same_schema(fast, compose_subgraphs([sub], reuse_types=False))


def test_the_round_trip_is_taken_when_composing_changes_anything() -> None:
    """Two sources merge Query; an SDL source has AST nodes (the document reuses them as they are); a hidden field
    leaves a type with fewer fields than the source's; executable directives are printed."""
    catalog = build_subgraph(SOURCES["catalog.openapi.yaml"])
    rich = build_subgraph(_introspected("rich", RICH_SDL))
    two = compose_subgraphs([catalog, rich])
    assert not _reused(two, catalog) and not _reused(two, rich)

    sdl = build_subgraph(SourceSpec("sdl", SourceKind.GRAPHQL, RICH_SDL, url="http://sdl.test/graphql"))
    assert not _reused(compose_subgraphs([sdl]), sdl)

    hidden = build_subgraph(
        dataclasses.replace(SOURCES["introspected"], transforms=Transforms(hide=("Product.colour",)))
    )
    composed = compose_subgraphs([hidden])
    product = composed.schema.get_type("Product")
    assert product is not None and "colour" not in product.fields  # type: ignore[attr-defined]
    _same_schema(composed, compose_subgraphs([hidden], reuse_types=False))

    directive = "directive @inContext(country: String) on QUERY\n"
    with_directive = build_subgraph(_introspected("ctx", directive + RICH_SDL))
    composed = compose_subgraphs([with_directive])
    assert not _reused(composed, with_directive)
    assert composed.schema.get_directive("inContext") is not None


def test_an_entity_bound_source_is_reused_and_keeps_its_keys() -> None:
    book = EntityConfig(key="isbn", operation="getBook")
    sub = build_subgraph(dataclasses.replace(SOURCES["catalog.openapi.yaml"], entities={"Book": book}))
    fast = compose_subgraphs([sub])
    assert _reused(fast, sub)
    assert [j.key for j in fast.types["Book"]] == ["isbn"]
    _same_schema(fast, compose_subgraphs([sub], reuse_types=False))
