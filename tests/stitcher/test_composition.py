"""Composition: type merging, join info, every kind of conflict, transforms."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLScalarType,
    graphql_sync,
    print_ast,
    validate_schema,
)
from graphql.utilities.get_default_value_ast import get_default_value_ast

from stitcher.composition import apply_transforms, build_subgraph, compose, graph_enum_names
from stitcher.errors import CompositionError, SchemaError
from stitcher.ir import EntityKey, FieldJoin, SourceKind, Supergraph, TypeJoin
from stitcher.sources import EntityConfig, SourceSpec, Transforms
from stitcher.supergraph import print_product_sdl, print_supergraph_sdl

SCHEMAS = Path(__file__).parent / "schemas"
SHOP = ("accounts", "products", "reviews", "inventory")
# Federation 2 rules apply to a subgraph that links the Federation 2 spec (without it: Federation 1, every field
# shareable).
LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"]) '


def fed(name: str, sdl: str | None = None, **kwargs: object) -> SourceSpec:
    text = sdl if sdl is not None else (SCHEMAS / f"{name}.graphql").read_text()
    return SourceSpec(name, SourceKind.FEDERATION, text, url=f"http://{name}.test/graphql", **kwargs)  # type: ignore[arg-type]


def plain(name: str, sdl: str, **kwargs: object) -> SourceSpec:
    return SourceSpec(name, SourceKind.GRAPHQL, sdl, url=f"http://{name}.test/graphql", **kwargs)  # type: ignore[arg-type]


def conflicts_of(specs: list[SourceSpec]) -> list[str]:
    with pytest.raises(CompositionError) as info:
        compose(specs)
    return info.value.conflicts


@pytest.fixture(scope="module")
def shop() -> Supergraph:
    return compose([fed(n) for n in SHOP])


def test_shop_composes_into_a_valid_api_schema(shop: Supergraph) -> None:
    assert validate_schema(shop.schema) == []
    query = shop.schema.query_type
    assert query is not None
    assert list(query.fields) == ["me", "user", "topProducts", "product", "media"]
    product = shop.schema.get_type("Product")
    assert isinstance(product, GraphQLObjectType)
    assert {"upc", "sku", "variation", "name", "price", "reviews", "inStock", "shippingEstimate"} <= set(product.fields)
    # the default value of an argument survives composition
    result = graphql_sync(shop.schema, '{ __type(name: "Query") { fields { name args { name defaultValue } } } }')
    assert result.errors is None
    top = next(f for f in result.data["__type"]["fields"] if f["name"] == "topProducts")  # type: ignore[index]
    assert top["args"] == [{"name": "first", "defaultValue": "5"}]


def test_entity_keys_are_joined_per_subgraph_including_compound_and_unresolvable(shop: Supergraph) -> None:
    assert shop.types["Product"] == (
        TypeJoin("products", key="upc"),
        TypeJoin("products", key="sku variation { id }"),
        TypeJoin("reviews", key="upc"),
        TypeJoin("inventory", key="upc"),
    )
    assert TypeJoin("products", key="id", resolvable=False) in shop.types["User"]
    assert shop.types["Variation"] == (TypeJoin("products"),)


def test_every_field_lists_every_subgraph_that_can_resolve_it(shop: Supergraph) -> None:
    assert [j.graph for j in shop.fields[("Product", "upc")]] == ["products", "reviews", "inventory"]
    assert shop.fields[("Product", "price")] == (FieldJoin("products"), FieldJoin("inventory", external=True))
    assert shop.fields[("Product", "shippingEstimate")] == (FieldJoin("inventory", requires="price weight"),)
    assert shop.fields[("Review", "author")] == (FieldJoin("reviews", provides="username"),)
    assert shop.fields[("User", "username")] == (FieldJoin("accounts"), FieldJoin("reviews", external=True))
    assert shop.fields[("Query", "me")] == (FieldJoin("accounts"),)
    # every field of every object/interface of the API schema has join info
    for type_name, named in shop.schema.type_map.items():
        if isinstance(named, GraphQLObjectType) and not type_name.startswith("__"):
            for field_name in named.fields:
                assert shop.fields[(type_name, field_name)], f"{type_name}.{field_name}"


def test_override_moves_the_field(shop: Supergraph) -> None:
    assert shop.fields[("Product", "inStock")] == (FieldJoin("inventory", override_from="products"),)
    assert any('overrides service "products", which does not define' in w for w in shop.warnings)


def test_override_takes_the_field_away_from_the_other_service() -> None:
    a = fed("a", 'type Query { t: T } type T @key(fields: "id") { id: ID! price: Int }')
    b = fed("b", 'type T @key(fields: "id") { id: ID! price: Int @override(from: "a") }')
    sg = compose([a, b])
    assert sg.fields[("T", "price")] == (FieldJoin("b", override_from="a"),)


def test_inaccessible_field_is_in_the_join_info_but_not_in_the_api(shop: Supergraph) -> None:
    user = shop.schema.get_type("User")
    assert isinstance(user, GraphQLObjectType)
    assert "email" not in user.fields
    assert shop.fields[("User", "email")] == (FieldJoin("accounts"),)
    assert "User.email" in shop.inaccessible
    assert shop.full_schema is not None
    full_user = shop.full_schema.get_type("User")
    assert isinstance(full_user, GraphQLObjectType) and "email" in full_user.fields


def test_interface_object_adds_its_fields_to_every_implementation(shop: Supergraph) -> None:
    assert TypeJoin("reviews", key="id", is_interface_object=True) in shop.types["Media"]
    for type_name in ("Book", "Movie"):
        named = shop.schema.get_type(type_name)
        assert isinstance(named, GraphQLObjectType) and "reviewCount" in named.fields
        assert shop.fields[(type_name, "reviewCount")] == (FieldJoin("reviews"),)
    assert shop.fields[("Media", "reviewCount")] == (FieldJoin("reviews"),)


def test_interface_object_without_an_interface_is_a_conflict() -> None:
    lone = fed("lone", 'type Query { a: Int } type Media @key(fields: "id") @interfaceObject { id: ID! n: Int }')
    (conflict,) = conflicts_of([lone])
    assert "Media" in conflict and '"lone"' in conflict and "interface" in conflict


def test_descriptions_deprecations_and_defaults_survive() -> None:
    sdl = """
    "Root"
    type Query {
      "find things"
      f("the n" n: Int @deprecated(reason: "use m"), m: [Int!] = [3]): Int @deprecated
      e: E
    }
    "An enum"
    enum E { "first" A B @deprecated(reason: "gone") }
    scalar Url @specifiedBy(url: "https://url.spec.whatwg.org/")
    type T { u: Url }
    """
    sg = compose([plain("a", sdl)])
    query = sg.schema.query_type
    assert query is not None and query.description == "Root"
    f = query.fields["f"]
    assert (f.description, f.deprecation_reason) == ("find things", "No longer supported")
    assert (f.args["n"].description, f.args["n"].deprecation_reason) == ("the n", "use m")
    default = get_default_value_ast(f.args["m"])
    assert default is not None and print_ast(default) == "[3]"
    e = sg.schema.get_type("E")
    assert isinstance(e, GraphQLEnumType) and e.description == "An enum"
    assert (e.values["A"].description, e.values["B"].deprecation_reason) == ("first", "gone")
    url = sg.schema.get_type("Url")
    assert isinstance(url, GraphQLScalarType) and url.specified_by_url == "https://url.spec.whatwg.org/"


def test_graph_enum_names_are_upper_snake_and_unique() -> None:
    assert graph_enum_names(["inventory-service", "inventoryService", "2fa", "a.b"]) == {
        "inventory-service": "INVENTORY_SERVICE",
        "inventoryService": "INVENTORY_SERVICE_2",
        "2fa": "_2FA",
        "a.b": "A_B",
    }


def test_shop_graph_enum(shop: Supergraph) -> None:
    assert shop.graph_enum == {
        "accounts": "ACCOUNTS",
        "products": "PRODUCTS",
        "reviews": "REVIEWS",
        "inventory": "INVENTORY",
    }


# --- conflicts ---------------------------------------------------------------------------------------------------


def test_field_type_conflict_names_both_services_and_definitions() -> None:
    inventory = fed("inventory", 'type Product @key(fields: "id") { id: ID! price: Float! @shareable }')
    catalog = fed(
        "catalog", 'type Query { p: Product } type Product @key(fields: "id") { id: ID! price: String @shareable }'
    )
    conflicts = conflicts_of([inventory, catalog])
    assert conflicts == [
        'Product.price: "Float!" in service "inventory" vs "String" in service "catalog" (or let one service\'s '
        "definition win: prefer: {Product: inventory} in the Product)"
    ]


def test_nullability_differences_merge_to_the_nullable_type() -> None:
    a = fed("a", 'type Query { p: P } type P @key(fields: "id") { id: ID! n: Int! @shareable }')
    b = fed("b", 'type P @key(fields: "id") { id: ID! n: Int @shareable }')
    sg = compose([a, b])
    p = sg.schema.get_type("P")
    assert isinstance(p, GraphQLObjectType) and str(p.fields["n"].type) == "Int"
    assert sg.fields[("P", "n")] == (FieldJoin("a", type="Int!"), FieldJoin("b", type="Int"))


def test_unshareable_field_resolved_twice_is_a_conflict() -> None:
    a = fed("a", LINK + 'type Query { p: P } type P @key(fields: "id") { id: ID! name: String }')
    b = fed("b", 'type P @key(fields: "id") { id: ID! name: String @shareable }')
    (conflict,) = conflicts_of([a, b])
    assert conflict.startswith('P.name: "String" in service "a" vs "String" in service "b"')
    assert 'not shareable in service "a"' in conflict


def test_root_fields_of_two_plain_services_conflict() -> None:
    conflicts = conflicts_of(
        [plain("one", "type Query { hello: String }"), plain("two", "type Query { hello: String }")]
    )
    assert len(conflicts) == 1
    assert "Query.hello" in conflicts[0] and '"one"' in conflicts[0] and '"two"' in conflicts[0]


def test_shareable_root_fields_and_plain_value_types_merge() -> None:
    a = fed("a", "type Query { version: String @shareable  info: Info } type Info @shareable { v: Int }")
    b = fed("b", "type Query { version: String @shareable }")
    c = plain("c", "type Query { other: Info } type Info { v: Int }")
    sg = compose([a, b, c])
    assert [j.graph for j in sg.fields[("Query", "version")]] == ["a", "b"]
    assert [j.graph for j in sg.fields[("Info", "v")]] == ["a", "c"]


def test_federation_entity_joined_by_a_plain_service_needs_no_shareable() -> None:
    catalog = fed(
        "catalog", 'type Query { top: [Product] } type Product @key(fields: "upc") { upc: String! name: String }'
    )
    legacy = plain(
        "legacy",
        "type Query { productByUpc(upc: String!): Product } type Product { upc: String! name: String stock: Int }",
        entities={"Product": EntityConfig(key="upc", operation="productByUpc")},
    )
    sg = compose([catalog, legacy])
    assert sg.types["Product"] == (TypeJoin("catalog", key="upc"), TypeJoin("legacy", key="upc"))
    assert sg.fields[("Product", "name")] == (FieldJoin("catalog"), FieldJoin("legacy"))
    assert sg.fields[("Product", "stock")] == (FieldJoin("legacy"),)
    # a root field is another matter: a plain service's root fields are never shared
    clash = plain("clash", "type Query { top: [Product] } type Product { upc: String! }")
    (conflict,) = conflicts_of([catalog, clash])
    assert conflict.startswith('Query.top: "[Product]" in service')


def test_subgraph_warnings_reach_the_supergraph() -> None:
    a = fed("a", 'type Query { p: P } type P @key(fields: "id") { id: ID! w: Int @external }')
    b = fed("b", 'type P @key(fields: "id") { id: ID! w: Int }')
    sg = compose([a, b])
    assert sg.warnings == ['service "a": P.w is @external but no @key, @requires or @provides uses it']


def test_kind_conflict() -> None:
    a = fed("a", "type Query { x: X } type X { id: ID }")
    b = plain("b", "type Query { y(x: X): Int } input X { id: ID }")
    conflicts = conflicts_of([a, b])
    assert 'X: object type in service "a" vs input type in service "b"' in conflicts


def test_argument_conflicts() -> None:
    a = fed("a", "type Query { x: X } type X @shareable { f(n: Int!, m: Int): Int  g(s: String!): Int }")
    b = fed("b", "type X @shareable { f(m: Int): Int  g(s: Int): Int }")
    conflicts = conflicts_of([a, b])
    hint = " (or let one service's definition win: prefer: {X: a} in the Product)"
    assert 'X.f(n:): "Int!" required in service "a" but missing in service "b"' + hint in conflicts
    assert 'X.g(s:): "String!" in service "a" vs "Int" in service "b"' + hint in conflicts


def test_optional_argument_missing_somewhere_is_left_out_with_a_warning() -> None:
    a = fed("a", "type Query { x: X } type X @shareable { f(m: Int, k: Int): Int }")
    b = fed("b", "type X @shareable { f(m: Int!): Int }")
    sg = compose([a, b])
    x = sg.schema.get_type("X")
    assert isinstance(x, GraphQLObjectType)
    assert {n: str(a.type) for n, a in x.fields["f"].args.items()} == {"m": "Int!"}
    assert any("X.f(k:)" in w for w in sg.warnings)


def test_input_types_merge_by_intersection_and_refuse_missing_required_fields() -> None:
    a = plain("a", "type Query { s(f: F): Int } input F { q: String, limit: Int, tag: String }")
    b = plain("b", "type Query { t(f: F): Int } input F { q: String!, limit: Int }")
    sg = compose([a, b])
    f = sg.schema.get_type("F")
    assert isinstance(f, GraphQLInputObjectType)
    assert {n: str(v.type) for n, v in f.fields.items()} == {"q": "String!", "limit": "Int"}
    c = plain("c", "type Query { u(f: F): Int } input F { q: String, must: Int! }")
    conflicts = conflicts_of([a, c])
    hint = " (or let one service's definition win: prefer: {F: c} in the Product)"
    assert 'F.must: "Int!" required in service "c" but missing in service "a"' + hint in conflicts


def test_enums_union_for_output_intersection_for_input_and_must_match_when_both() -> None:
    out_a = plain("a", "type Query { a: E } enum E { X Y }")
    out_b = plain("b", "type Query { b: E } enum E { Y Z }")
    sg = compose([out_a, out_b])
    e = sg.schema.get_type("E")
    assert isinstance(e, GraphQLEnumType) and list(e.values) == ["X", "Y", "Z"]

    in_a = plain("a", "type Query { a(e: E): Int } enum E { X Y }")
    in_b = plain("b", "type Query { b(e: E): Int } enum E { Y Z }")
    sg = compose([in_a, in_b])
    e = sg.schema.get_type("E")
    assert isinstance(e, GraphQLEnumType) and list(e.values) == ["Y"]

    both_a = plain("a", "type Query { a(e: E): E } enum E { X Y }")
    conflicts = conflicts_of([both_a, out_b])
    assert conflicts == [
        'E: values X Y in service "a" vs Y Z in service "b" (an enum used as input and output must be the same '
        "everywhere; or let one service's definition win: prefer: {E: a} in the Product)"
    ]


def test_inaccessible_type_referenced_by_a_visible_field_is_a_conflict() -> None:
    a = fed("a", "type Query { secret: Secret } type Secret @inaccessible { v: Int }")
    (conflict,) = conflicts_of([a])
    assert "Query.secret" in conflict and "Secret" in conflict and '"a"' in conflict


def test_all_conflicts_are_collected() -> None:
    a = fed("a", LINK + 'type Query { p: P } type P @key(fields: "id") { id: ID! x: Int! @shareable y: String }')
    b = fed("b", 'type P @key(fields: "id") { id: ID! x: String @shareable y: String }')
    conflicts = conflicts_of([a, b])
    assert len(conflicts) == 2
    assert any(c.startswith("P.x:") for c in conflicts) and any(c.startswith("P.y:") for c in conflicts)


def test_duplicate_service_names_are_refused() -> None:
    conflicts = conflicts_of([plain("a", "type Query { x: Int }"), plain("a", "type Query { y: Int }")])
    assert conflicts == ['service "a" is listed more than once']


def test_a_product_needs_a_query() -> None:
    conflicts = conflicts_of([fed("a", 'type T @key(fields: "id") { id: ID! }')])
    assert any("Query" in c for c in conflicts)


# --- plain GraphQL + Federation: the library example ------------------------------------------------------------


def test_library_example_members_and_loans() -> None:
    loans = plain(
        "loans",
        (SCHEMAS / "loans.graphql").read_text(),
        entities={"Loan": EntityConfig(key="id", operation="loan")},
    )
    sg = compose([fed("members"), loans])
    assert sg.schema.query_type is not None
    assert set(sg.schema.query_type.fields) == {"member", "members", "loan", "loansByMemberIds", "overdueLoans"}
    assert sg.types["Loan"] == (TypeJoin("loans", key="id"),)
    assert sg.types["Member"] == (TypeJoin("members", key="id"),)
    assert sg.subgraphs["loans"].resolvers["Loan"].argument == "id"
    assert sg.subgraphs["members"].url == "http://members.test/graphql"


def test_library_example_with_the_openapi_catalog() -> None:
    """The whole library product: Federation + plain GraphQL + OpenAPI (built by stitcher.openapi)."""
    catalog = SourceSpec(
        "catalog",
        SourceKind.OPENAPI,
        (SCHEMAS / "catalog.openapi.yaml").read_text(),
        url="http://catalog.test",
        entities={"Book": EntityConfig(key="isbn", operation="getBook")},
    )
    loans = plain("loans", (SCHEMAS / "loans.graphql").read_text())
    sg = compose([fed("members"), loans, catalog])
    assert sg.schema.query_type is not None and sg.schema.mutation_type is not None
    assert {"member", "loan", "listBooks", "getBook"} <= set(sg.schema.query_type.fields)
    assert sg.fields[("Mutation", "placeHold")] == (FieldJoin("catalog"),)
    assert sg.types["Book"] == (TypeJoin("catalog", key="isbn"),)
    assert sg.subgraphs["catalog"].kind is SourceKind.OPENAPI
    assert sg.subgraphs["catalog"].rest is not None


def test_an_openapi_source_translated_by_a_check_is_not_translated_again() -> None:
    """A publishing check translates the document without entities, url or transforms; the composition takes that
    translation (its very schema) and gives a copy the entities, url and transforms, with the same product as
    translating again."""
    text = (SCHEMAS / "catalog.openapi.yaml").read_text()
    checked = build_subgraph(SourceSpec("catalog", SourceKind.OPENAPI, text))
    catalog = SourceSpec(
        "catalog",
        SourceKind.OPENAPI,
        text,
        url="http://catalog.test",
        entities={"Book": EntityConfig(key="isbn", operation="getBook")},
    )
    loans = plain("loans", (SCHEMAS / "loans.graphql").read_text())
    handed = compose([fed("members"), loans, catalog], translated={"catalog": checked})
    again = compose([fed("members"), loans, catalog])
    assert handed.subgraphs["catalog"].schema is checked.schema
    assert again.subgraphs["catalog"].schema is not checked.schema
    assert handed.subgraphs["catalog"].keys == again.subgraphs["catalog"].keys == {"Book": (EntityKey("isbn"),)}
    assert handed.subgraphs["catalog"].url == "http://catalog.test"
    assert (checked.url, checked.keys, checked.resolvers) == (None, {}, {})  # the check's translation is left as it was
    assert print_product_sdl(handed) == print_product_sdl(again)
    assert print_supergraph_sdl(handed) == print_supergraph_sdl(again)
    assert (handed.types, handed.fields, handed.warnings) == (again.types, again.fields, again.warnings)
    # through a transform too, which the check's translation never had
    prefixed = dataclasses.replace(catalog, transforms=Transforms(prefix="Cat"))
    renamed = compose([prefixed], translated={"catalog": checked})
    assert print_product_sdl(renamed) == print_product_sdl(compose([prefixed]))
    with pytest.raises(ValueError, match="only an OpenAPI source"):
        compose([loans], translated={"loans": checked})


def test_external_everywhere_is_a_conflict() -> None:
    a = fed(
        "a", 'type Query { p: P } type P @key(fields: "id") { id: ID! w: Int @external n: Int @requires(fields: "w") }'
    )
    b = fed("b", 'type P @key(fields: "id") { id: ID! w: Int @external v: Int @requires(fields: "w") }')
    (conflict,) = conflicts_of([a, b])
    assert conflict.startswith('P.w: @external in service "a" and "b" but no service resolves it')


def test_field_unreachable_from_a_service_that_returns_the_type_is_a_conflict() -> None:
    a = fed("a", "type Query { a: V @shareable } type V @shareable { x: Int y: String }")
    b = fed("b", "type Query { a: V @shareable b: V } type V @shareable { x: Int }")
    (conflict,) = conflicts_of([a, b])
    assert conflict.startswith('V.y: cannot be resolved for a V returned by service "b": it is resolved by service "a"')
    # with a key in "a" that "b" can provide, the planner can jump: no conflict
    keyed_a = fed("a", 'type Query { a: V @shareable } type V @key(fields: "x") { x: Int y: String }')
    keyed_b = fed("b", 'type Query { b: V } type V @key(fields: "x", resolvable: false) { x: Int }')
    sg = compose([keyed_a, keyed_b])
    assert sg.fields[("V", "y")] == (FieldJoin("a"),)


def test_plain_services_join_through_their_entity_resolvers() -> None:
    reviews = plain(
        "reviews", "type Query { reviews: [Review] } type Review { id: ID! product: Product } type Product { id: ID! }"
    )
    products = plain(
        "products",
        "type Query { product(id: ID!): Product } type Product { id: ID! name: String }",
        entities={"Product": EntityConfig(key="id", operation="product")},
    )
    sg = compose([reviews, products])
    assert sg.fields[("Product", "name")] == (FieldJoin("products"),)
    without_resolver = plain(
        "products", "type Query { product(id: ID!): Product } type Product { id: ID! name: String }"
    )
    (conflict,) = conflicts_of([reviews, without_resolver])
    assert conflict.startswith('Product.name: cannot be resolved for a Product returned by service "reviews"')


def test_inaccessible_argument_type_is_a_conflict() -> None:
    a = fed("a", "type Query { f(k: K): Int } enum K @inaccessible { A }")
    (conflict,) = conflicts_of([a])
    assert conflict.startswith("Query.f(k:): takes K, which is @inaccessible")
    ok = fed("a", "type Query { f(k: K @inaccessible): Int } enum K @inaccessible { A }")
    sg = compose([ok])
    assert sg.schema.query_type is not None and not sg.schema.query_type.fields["f"].args


# --- transforms ----------------------------------------------------------------------------------------------------


def test_prefix_rename_and_hide() -> None:
    sdl = """
    schema { query: Root }
    type Root { product(id: ID!): Product  products(ids: [ID!]!): [Product]! }
    type Product { id: ID! title: String cost: Int internal: String }
    enum Color { RED GREEN }
    """
    spec = plain(
        "legacy",
        sdl,
        entities={"Product": EntityConfig(key="id", operation="products")},
        transforms=Transforms(
            prefix="Leg",
            rename_types={"Color": "Colour"},
            rename_fields={"Product.cost": "price", "Root.products": "productsByIds"},
            hide=("Product.internal",),
        ),
    )
    sub = build_subgraph(spec)
    assert sub.schema is not None
    assert set(sub.schema.type_map) >= {"Query", "LegProduct", "Colour"}
    assert "Root" not in sub.schema.type_map and "Product" not in sub.schema.type_map
    assert sub.renames.types == {"Query": "Root", "LegProduct": "Product", "Colour": "Color"}
    assert sub.renames.fields == {("LegProduct", "price"): "cost", ("Query", "productsByIds"): "products"}
    assert sub.renames.upstream_field("LegProduct", "title") == "title"
    resolver = sub.resolvers["LegProduct"]
    assert (resolver.type_name, resolver.field, resolver.argument, resolver.batched) == (
        "LegProduct",
        "productsByIds",
        "ids",
        True,
    )
    assert sub.fields[("LegProduct", "internal")].inaccessible
    sg = compose([spec])
    product = sg.schema.get_type("LegProduct")
    assert isinstance(product, GraphQLObjectType)
    assert list(product.fields) == ["id", "title", "price"]
    assert sg.types["LegProduct"] == (TypeJoin("legacy", key="id"),)


def test_prefix_leaves_builtin_scalars_and_roots_alone_and_renames_key_field_sets() -> None:
    spec = fed(
        "f",
        'type Query { o: Org } type Org @key(fields: "ref { id }") { ref: Ref! name: String } type Ref { id: ID! }',
        transforms=Transforms(prefix="X_", rename_fields={"Ref.id": "code"}),
    )
    sub = build_subgraph(spec)
    assert sub.keys["X_Org"][0].fields == "ref { code }"
    assert sub.schema is not None and "String" in sub.schema.type_map and "X_String" not in sub.schema.type_map


def test_tags_follow_renamed_types_fields_and_arguments() -> None:
    link = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@tag"])\n'
    spec = fed(
        "f",
        link + 'type Query { o(id: ID @tag(name: "arg")): Org @tag(name: "field") } '
        'type Org @tag(name: "type") { id: ID! kind: Kind } enum Kind { A @tag(name: "value") }',
        transforms=Transforms(prefix="X_", rename_fields={"Query.o": "org"}),
    )
    assert compose([spec]).tags == {
        "Query.org": ("field",),
        "Query.org(id:)": ("arg",),
        "X_Org": ("type",),
        "X_Kind.A": ("value",),
    }


def test_transforms_rewrite_the_rest_binding_of_an_openapi_source() -> None:
    spec = SourceSpec(
        "catalog",
        SourceKind.OPENAPI,
        (SCHEMAS / "catalog.openapi.yaml").read_text(),
        entities={"Book": EntityConfig(key="isbn", operation="getBook")},
        transforms=Transforms(prefix="Cat", rename_fields={"Book.title": "name", "Query.getBook": "book"}),
    )
    sub = build_subgraph(spec)
    assert sub.rest is not None
    assert ("Query", "book") in sub.rest.operations and ("Query", "getBook") not in sub.rest.operations
    assert sub.rest.operations[("Query", "book")].path == "/books/{isbn}"
    assert sub.rest.json_names[("CatBook", "name")] == "title"
    union = sub.rest.discriminators["CatBookFormat"]
    assert set(union.mapping.values()) == {"CatPrint", "CatEbook"}
    assert sub.resolvers["CatBook"].field == "book"
    sg = compose([spec])
    assert sg.types["CatBook"] == (TypeJoin("catalog", key="isbn"),)


def test_bad_transforms_say_what_is_wrong() -> None:
    sub = build_subgraph(plain("p", "type Query { a: A } type A { x: Int }"))
    with pytest.raises(SchemaError) as info:
        apply_transforms(sub, Transforms(rename_fields={"A.nope": "y"}, hide=("Missing.x",), rename_types={"Q": "R"}))
    message = str(info.value)
    assert 'service "p"' in message
    assert "A.nope" in message and "Missing" in message and "Q does not exist" in message


def test_hidden_type_is_inaccessible() -> None:
    spec = plain(
        "p", "type Query { a: Int  b: B @deprecated } type B { x: Int }", transforms=Transforms(hide=("B", "Query.b"))
    )
    sg = compose([spec])
    assert sg.schema.get_type("B") is None
    assert "B" in sg.inaccessible and "Query.b" in sg.inaccessible
