"""Printing the product SDL and the Federation v2 supergraph SDL, and loading supergraphs back."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLObjectType, build_schema, parse, validate_schema

from stitcher.composition import compose
from stitcher.errors import SchemaError
from stitcher.ir import FieldJoin, SourceKind, Supergraph, TypeJoin
from stitcher.sources import EntityConfig, SourceSpec
from stitcher.supergraph import load_supergraph, print_product_sdl, print_supergraph_sdl

SCHEMAS = Path(__file__).parent / "schemas"


def fed(name: str) -> SourceSpec:
    return SourceSpec(name, SourceKind.FEDERATION, (SCHEMAS / f"{name}.graphql").read_text(), url=f"http://{name}:4000")


@pytest.fixture(scope="module")
def shop() -> Supergraph:
    return compose([fed(n) for n in ("accounts", "products", "reviews", "inventory")])


def test_product_sdl_is_the_api_schema_in_a_stable_order(shop: Supergraph) -> None:
    sdl = print_product_sdl(shop)
    assert sdl.startswith("type Query {")
    assert "email" not in sdl and "join__" not in sdl and "@" not in sdl.replace("@deprecated", "")
    rebuilt = build_schema(sdl)
    assert validate_schema(rebuilt) == []
    type_names = [d.name.value for d in parse(sdl).definitions]  # type: ignore[attr-defined]
    assert type_names[1:] == sorted(type_names[1:])
    assert print_product_sdl(compose([fed(n) for n in ("accounts", "products", "reviews", "inventory")])) == sdl


def test_supergraph_sdl_has_the_federation_shape(shop: Supergraph) -> None:
    sdl = print_supergraph_sdl(shop)
    assert '@link(url: "https://specs.apollo.dev/link/v1.0")' in sdl
    assert '@link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)' in sdl
    assert 'ACCOUNTS @join__graph(name: "accounts", url: "http://accounts:4000")' in sdl
    assert "enum link__Purpose" in sdl and "scalar link__Import" in sdl and "scalar join__FieldSet" in sdl
    assert '@join__type(graph: PRODUCTS, key: "sku variation { id }")' in sdl
    assert '@join__type(graph: PRODUCTS, key: "id", resolvable: false)' in sdl
    assert '@join__type(graph: REVIEWS, key: "id", isInterfaceObject: true)' in sdl
    assert '@join__implements(graph: INVENTORY, interface: "Media")' in sdl
    assert '@join__field(graph: INVENTORY, requires: "price weight")' in sdl
    assert '@join__field(graph: INVENTORY, override: "products")' in sdl
    assert "email: String! @join__field(graph: ACCOUNTS) @inaccessible" in sdl
    assert "APAC @join__enumValue(graph: ACCOUNTS)" in sdl
    # it is a valid schema on its own
    assert validate_schema(build_schema(sdl)) == []


def test_round_trip_keeps_the_join_info(shop: Supergraph) -> None:
    loaded = load_supergraph(print_supergraph_sdl(shop))
    assert loaded.types == shop.types
    assert loaded.fields == shop.fields
    assert loaded.graph_enum == shop.graph_enum
    assert loaded.inaccessible == shop.inaccessible
    assert print_product_sdl(loaded) == print_product_sdl(shop)
    accounts = loaded.subgraphs["accounts"]
    assert (accounts.kind, accounts.url, accounts.schema) == (SourceKind.FEDERATION, "http://accounts:4000", None)
    assert loaded.subgraphs["products"].keys["Product"][1].fields == "sku variation { id }"
    assert loaded.subgraphs["reviews"].interface_objects == frozenset({"Media"})
    assert loaded.subgraphs["inventory"].fields[("Product", "shippingEstimate")].requires == "price weight"


def test_round_trip_with_a_plain_graphql_source() -> None:
    loans = SourceSpec(
        "loans",
        SourceKind.GRAPHQL,
        (SCHEMAS / "loans.graphql").read_text(),
        url="http://loans",
        entities={"Loan": EntityConfig(key="id", operation="loan")},
    )
    sg = compose([fed("members"), loans])
    loaded = load_supergraph(print_supergraph_sdl(sg))
    assert loaded.types == sg.types and loaded.fields == sg.fields


# A supergraph as Apollo's composition prints it (trimmed by hand to two subgraphs, Apollo's exact machinery).
APOLLO_SUPERGRAPH = (SCHEMAS / "apollo-supergraph.graphql").read_text()


def test_load_an_apollo_printed_supergraph() -> None:
    sg = load_supergraph(APOLLO_SUPERGRAPH)
    assert list(sg.subgraphs) == ["accounts", "reviews"]
    assert sg.subgraphs["reviews"].url == "http://localhost:4002/graphql"
    assert sg.graph_enum == {"accounts": "ACCOUNTS", "reviews": "REVIEWS"}
    assert sg.types["User"] == (TypeJoin("accounts", key="id"), TypeJoin("reviews", key="id"))
    assert sg.fields[("User", "id")] == (FieldJoin("accounts"), FieldJoin("reviews"))
    assert sg.fields[("User", "username")] == (FieldJoin("accounts"), FieldJoin("reviews", external=True))
    assert sg.fields[("Review", "author")] == (FieldJoin("reviews", provides="username"),)
    assert sg.fields[("Review", "body")] == (FieldJoin("reviews"),)
    user = sg.schema.get_type("User")
    assert isinstance(user, GraphQLObjectType) and list(user.fields) == ["id", "username", "reviews"]
    assert sg.schema.get_type("join__Graph") is None and sg.schema.get_directive("join__field") is None
    assert validate_schema(sg.schema) == []
    # printing it again and loading that gives the same join info
    again = load_supergraph(print_supergraph_sdl(sg))
    assert again.types == sg.types and again.fields == sg.fields


@pytest.mark.parametrize(
    ("sdl", "fragment"),
    [
        ("type Query {", "supergraph SDL is invalid"),
        ("type Query { a: Int }", "no join__Graph enum"),
        ("type Query { a: Nope }", "Nope"),
        (
            APOLLO_SUPERGRAPH.replace(
                "me: User @join__field(graph: ACCOUNTS)", "me: User @join__field(graph: BILLING)"
            ),
            "Query.me: @join__field(graph: BILLING) is not a member of join__Graph",
        ),
        (
            APOLLO_SUPERGRAPH + "directive @join__owner(graph: join__Graph!) on OBJECT",
            "Federation 1 supergraph",
        ),
    ],
)
def test_load_rejects_what_is_not_a_supergraph(sdl: str, fragment: str) -> None:
    with pytest.raises(SchemaError) as info:
        load_supergraph(sdl)
    assert fragment in str(info.value)
