"""What a printed supergraph carries for Loom's gateway (stitcher.supergraph.carried): the sources come back from the
SDL with their kind, merge configuration, transforms and REST binding; what cannot be carried is refused
with the reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import GraphQLObjectType

from stitcher.composition import compose
from stitcher.errors import SchemaError
from stitcher.ir import EntityResolver, SourceKind
from stitcher.sources import EntityConfig, SourceSpec, Transforms
from stitcher.supergraph import load_supergraph, print_supergraph_sdl
from stitcher.supergraph.carried import uncarried

SHOP = """
type Query { product(id: ID!): Product  top: [Product!]! }
type Product { id: ID! name: String }
"""
PETS = """
openapi: 3.0.3
info: {title: Pets, version: "1"}
paths:
  /pets/{id}:
    get:
      operationId: getPet
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        "200": {description: a pet, content: {application/json: {schema: {$ref: "./pet.yaml"}}}}
"""


def test_plain_graphql_merge_configuration_and_transforms_come_back() -> None:
    spec = SourceSpec(
        "shop",
        SourceKind.GRAPHQL,
        SHOP,
        url="http://shop.test/graphql",
        entities={"Product": EntityConfig(key="id", operation="product")},
        transforms=Transforms(prefix="Shop", root_field_patterns={"(.*)": "shop_\\1"}, hide=("Product.name",)),
    )
    loaded = load_supergraph(print_supergraph_sdl(compose([spec])))
    shop = loaded.subgraphs["shop"]
    assert shop.kind is SourceKind.GRAPHQL and shop.url == "http://shop.test/graphql"
    assert shop.resolvers["ShopProduct"] == EntityResolver("ShopProduct", "id", "shop_product", "id", batched=False)
    assert shop.renames.upstream_field("Query", "shop_top") == "top"
    product = loaded.schema.get_type("ShopProduct")
    assert isinstance(product, GraphQLObjectType) and list(product.fields) == ["id"]  # name is hidden


def test_an_openapi_document_with_file_references_is_refused_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "pet.yaml").write_text("type: object\nproperties: {id: {type: string}, name: {type: string}}\n")
    spec = SourceSpec("pets", SourceKind.OPENAPI, PETS, url="http://pets.test", base_path=tmp_path)
    supergraph = compose([spec])
    reason = (
        'service "pets": its OpenAPI document refers to other files ($ref), which a supergraph cannot carry; bundle '
        "them into one document"
    )
    assert uncarried(supergraph) == [reason]
    with pytest.raises(SchemaError) as info:
        load_supergraph(print_supergraph_sdl(supergraph))
    assert str(info.value) == f"this supergraph cannot be served: {reason}"


def test_a_directive_only_one_service_defines_comes_back_with_its_sources() -> None:
    """The supergraph prints an executable directive only when every GraphQL subgraph defines it (Apollo's rule);
    the sources it carries know which one does, so the loaded product has it again."""
    a = SourceSpec("a", SourceKind.GRAPHQL, "directive @inContext(country: String) on QUERY\ntype Query { a: Int }")
    b = SourceSpec("b", SourceKind.GRAPHQL, "type Query { b: Int }")
    supergraph = compose([a, b])
    sdl = print_supergraph_sdl(supergraph)
    assert re.search(r"^directive @inContext", sdl, re.MULTILINE) is None
    loaded = load_supergraph(sdl)
    assert loaded.schema.get_directive("inContext") is not None
