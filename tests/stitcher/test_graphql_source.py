"""Plain GraphQL services: SDL or introspection, merge configuration checked against the schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from graphql import build_schema, get_introspection_query, graphql_sync, print_schema

from stitcher.errors import SchemaError
from stitcher.graphql_source import subgraph_from_graphql
from stitcher.ir import EntityKey, EntityResolver, SourceKind, Subgraph
from stitcher.sources import EntityConfig, SourceSpec

SCHEMAS = Path(__file__).parent / "schemas"
LOANS = (SCHEMAS / "loans.graphql").read_text()

SHOP = """
type Query {
  product(id: ID!): Product
  productsByIds(ids: [ID!]!): [Product]!
  search(term: String!, first: Int = 10): [Product!]!
  byKey(sku: String, region: String): Product
  strict(id: ID!, tenant: String!): Product
}
type Product { id: ID! sku: String name: String }
type Other { id: ID! }
"""


def load(sdl: str, **entities: EntityConfig) -> Subgraph:
    return subgraph_from_graphql(SourceSpec("shop", SourceKind.GRAPHQL, sdl, url="http://shop", entities=entities))


def test_single_and_batched_resolvers_are_inferred() -> None:
    single = load(SHOP, Product=EntityConfig(key="id", operation="product"))
    assert single.kind is SourceKind.GRAPHQL and single.url == "http://shop"
    assert single.resolvers == {"Product": EntityResolver("Product", "id", "product", "id", batched=False)}
    assert single.keys == {"Product": (EntityKey("id"),)}
    batched = load(SHOP, Product=EntityConfig(key="id", operation="productsByIds"))
    assert batched.resolvers["Product"] == EntityResolver("Product", "id", "productsByIds", "ids", batched=True)


def test_argument_named_like_the_key_is_picked_among_several() -> None:
    sub = load(SHOP, Product=EntityConfig(key="sku", operation="byKey"))
    assert sub.resolvers["Product"].argument == "sku"


def test_library_loans_example() -> None:
    sub = subgraph_from_graphql(
        SourceSpec("loans", SourceKind.GRAPHQL, LOANS, entities={"Loan": EntityConfig(key="id", operation="loan")})
    )
    assert sub.resolvers["Loan"] == EntityResolver("Loan", "id", "loan", "id", batched=False)
    assert sub.fields == {}


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        (EntityConfig(key="id", operation="nope"), "Query.nope does not exist"),
        (EntityConfig(key="id", operation="product", argument="pid"), "Query.product has no argument 'pid'"),
        (EntityConfig(key="id", operation="search"), "cannot tell which argument of Query.search"),
        (EntityConfig(key="id", operation="product", batched=True), "batched, but Query.product(id:) is not a list"),
        (EntityConfig(key="id", operation="productsByIds", batched=False), "returns [Product]!, expected Product"),
        (EntityConfig(key="id", operation="strict"), "Query.strict also requires tenant"),
        (EntityConfig(key="ean", operation="product"), "Product.ean does not exist"),
    ],
)
def test_merge_configuration_that_does_not_fit_is_refused(config: EntityConfig, fragment: str) -> None:
    with pytest.raises(SchemaError) as info:
        load(SHOP, Product=config)
    assert str(info.value).startswith('service "shop": merge configuration: ')
    assert fragment in str(info.value)


def test_wrong_return_type_and_unknown_entity_are_named() -> None:
    with pytest.raises(SchemaError, match=r"Query\.product returns Product, expected Other"):
        load(SHOP, Other=EntityConfig(key="id", operation="product"))
    with pytest.raises(SchemaError, match="entity Ghost is not an object type"):
        load(SHOP, Ghost=EntityConfig(key="id", operation="product"))


@pytest.mark.parametrize("wrapped", [False, True])
def test_introspection_result_is_accepted(wrapped: bool) -> None:
    result = graphql_sync(build_schema(SHOP), get_introspection_query(descriptions=True))
    assert result.errors is None and result.data is not None
    text = json.dumps({"data": result.data} if wrapped else result.data)
    sub = load(text, Product=EntityConfig(key="id", operation="productsByIds"))
    assert sub.schema is not None
    assert print_schema(sub.schema) == print_schema(build_schema(SHOP))
    assert sub.resolvers["Product"].batched


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"__schema": ', "introspection result is not JSON"),
        ('{"data": {"nope": 1}, "__schema": 1}', 'no "__schema" object'),
        ('{"__schema": {"queryType": {"name": "Q"}, "types": []}}', "introspection result is not a valid schema"),
        ("type Query { a: B }", "Unknown type 'B'"),
        ("type Query { a: Int", "SDL does not parse"),
        ("type Mutation { a: Int }", "Query root type must be provided"),
    ],
)
def test_bad_schemas_are_refused(text: str, fragment: str) -> None:
    with pytest.raises(SchemaError) as info:
        load(text)
    assert 'service "shop"' in str(info.value) and fragment in str(info.value)
