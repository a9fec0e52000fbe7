"""Federation v2 subgraph SDL -> Subgraph: keys, field directives, interface objects, @link names, bad SDL."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLObjectType

from stitcher.errors import SchemaError
from stitcher.federation import field_set_fields, parse_field_set, print_field_set, subgraph_from_federation
from stitcher.ir import EntityKey, FieldDirectives, SourceKind, Subgraph
from stitcher.sources import SourceSpec

SCHEMAS = Path(__file__).parent / "schemas"


def load(sdl: str, name: str = "svc") -> Subgraph:
    return subgraph_from_federation(SourceSpec(name, SourceKind.FEDERATION, sdl, url="http://svc"))


def load_file(name: str) -> Subgraph:
    return load((SCHEMAS / f"{name}.graphql").read_text(), name)


def test_keys_compound_and_several_per_type() -> None:
    products = load_file("products")
    assert products.kind is SourceKind.FEDERATION and products.url == "http://svc"
    assert products.keys["Product"] == (EntityKey("upc"), EntityKey("sku variation { id }"))
    assert products.keys["User"] == (EntityKey("id", resolvable=False),)


def test_field_directives() -> None:
    inventory = load_file("inventory")
    assert inventory.fields[("Product", "weight")] == FieldDirectives(external=True)
    assert inventory.fields[("Product", "shippingEstimate")] == FieldDirectives(requires="price weight")
    assert inventory.fields[("Product", "inStock")] == FieldDirectives(override_from="products")
    reviews = load_file("reviews")
    assert reviews.fields[("Review", "author")] == FieldDirectives(provides="username")
    accounts = load_file("accounts")
    assert accounts.fields[("User", "email")] == FieldDirectives(inaccessible=True)
    assert accounts.fields[("User", "name")] == FieldDirectives(shareable=True)


def test_type_level_shareable_and_external_apply_to_the_fields_of_that_definition_only() -> None:
    sub = load(
        """
        type Query { v: V }
        type V @shareable { a: Int }
        extend type V { b: Int }
        type E @key(fields: "id") @external { id: ID! x: Int }
        extend type E { y: Int @requires(fields: "x") }
        """
    )
    assert sub.fields[("V", "a")].shareable and ("V", "b") not in sub.fields
    assert sub.fields[("E", "x")].external and not sub.fields[("E", "y")].external


def test_interface_object_tags_and_inaccessible_elements() -> None:
    sub = load(
        """
        type Query {
          media(kind: Kind @inaccessible, page: Page @tag(name: "paging")): [Media]
            @tag(name: "public") @tag(name: "beta")
        }
        type Media @key(fields: "id") @interfaceObject @tag(name: "public") { id: ID! reviews: Int }
        enum Kind @tag(name: "public") { BOOK @tag(name: "a") @tag(name: "b") MOVIE SECRET @inaccessible }
        input Filter @inaccessible { q: String }
        input Page { size: Int @tag(name: "paging") cursor: String @inaccessible }
        extend input Page @tag(name: "paging")
        type Hidden @inaccessible { x: Int }
        """
    )
    assert sub.interface_objects == frozenset({"Media"})
    assert sub.fields[("Query", "media")].tags == ("public", "beta")
    assert sub.tags == {
        "Query.media(page:)": ("paging",),
        "Media": ("public",),
        "Kind": ("public",),
        "Kind.BOOK": ("a", "b"),
        "Page.size": ("paging",),
        "Page": ("paging",),
    }
    assert sub.inaccessible == frozenset({"Query.media(kind:)", "Kind.SECRET", "Filter", "Page.cursor", "Hidden"})


def test_federation_machinery_is_not_part_of_the_subgraph_schema() -> None:
    sub = load(
        """
        scalar _Any
        union _Entity = Product
        type _Service { sdl: String }
        type Query { _entities(representations: [_Any!]!): [_Entity]! _service: _Service! top: Product }
        type Product @key(fields: "id") { id: ID! }
        """
    )
    assert sub.schema is not None
    assert not {"_Any", "_Entity", "_Service", "FieldSet", "link__Import"} & set(sub.schema.type_map)
    assert sub.schema.query_type is not None and list(sub.schema.query_type.fields) == ["top"]
    assert not {d.name for d in sub.schema.directives} & {"key", "external", "link", "federation__key"}


def test_federation_1_extensions_without_a_base_type() -> None:
    sub = load(
        """
        extend type Query { topReviews: [Review] }
        type Review { id: ID! product: Product }
        extend type Product @key(fields: "upc") { upc: String! @external reviews: [Review] }
        """
    )
    assert sub.schema is not None
    product = sub.schema.get_type("Product")
    assert isinstance(product, GraphQLObjectType) and list(product.fields) == ["upc", "reviews"]
    assert sub.keys["Product"] == (EntityKey("upc"),)
    # the key field of an extended entity arrives in every representation: not external (Apollo's "fake external")
    assert ("Product", "upc") not in sub.fields


def test_entity_only_subgraph_has_no_query_type() -> None:
    sub = load('type Product @key(fields: "upc") { upc: String! stock: Int }')
    assert sub.schema is not None and sub.schema.query_type is None
    assert "Product" in sub.schema.type_map


def test_link_import_aliases_and_namespaced_directives() -> None:
    sub = load(
        """
        extend schema @link(url: "https://specs.apollo.dev/federation/v2.3",
                            import: [{name: "@key", as: "@primaryKey"}, "@shareable"])
        type Query { p: P @federation__shareable }
        type P @primaryKey(fields: "id") { id: ID! name: String @federation__inaccessible }
        """
    )
    assert sub.keys["P"] == (EntityKey("id"),)
    assert sub.fields[("Query", "p")].shareable
    assert sub.fields[("P", "name")].inaccessible
    assert sub.schema is not None and sub.schema.get_directive("primaryKey") is None


def test_unused_external_is_a_warning() -> None:
    sub = load('type Query { p: P } type P @key(fields: "id") { id: ID! w: Int @external }')
    assert sub.warnings == ["P.w is @external but no @key, @requires or @provides uses it"]


@pytest.mark.parametrize(
    ("sdl", "fragments"),
    [
        ("type Query {\n  a: Int\n  b(: Int\n}", ["SDL does not parse", "line 3, column 5"]),
        ("type Query {\n  a: Foo\n}", ["Unknown type 'Foo'", "line 2, column 6"]),
        ('type Query { a: Int @key(fields: "a") }', ["'@key' may not be used on field definition"]),
        ('type Query { t: T } type T @key(fields: "nope") { id: ID }', ['@key on T: field set "nope"', "T.nope"]),
        ('type Query { t: T } type T @key(fields: "id {") { id: ID }', ["@key on T", "does not parse"]),
        (
            'type Query { t: T } type T @key(fields: "id") { id: ID w: Int n: Int @requires(fields: "w") }',
            ["@requires on T.n: T.w must be @external"],
        ),
        (
            'type Query { t: T @provides(fields: "x") } type T { x: Int }',
            ["@provides on Query.t: T.x must be @external"],
        ),
        ("type Query { a: I } interface I { x: Int } type O implements I { y: Int }", ["I.x expected but O"]),
    ],
)
def test_bad_sdl_names_the_service_and_the_problem(sdl: str, fragments: list[str]) -> None:
    with pytest.raises(SchemaError) as info:
        load(sdl, name="inventory")
    message = str(info.value)
    assert message.startswith('service "inventory": ')
    for fragment in fragments:
        assert fragment in message


def test_field_set_helpers() -> None:
    sub = load_file("products")
    assert sub.schema is not None
    assert field_set_fields(sub.schema, "Product", "sku variation { id }") == [
        ("Product", "sku"),
        ("Product", "variation"),
        ("Variation", "id"),
    ]
    assert print_field_set(parse_field_set("a  b { c ... on X { d } }")) == "a b { c ... on X { d } }"
    with pytest.raises(ValueError, match=r"Product\.nope does not exist"):
        field_set_fields(sub.schema, "Product", "nope")
