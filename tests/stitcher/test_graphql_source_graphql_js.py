"""Plain GraphQL sources take what graphql-js 16 takes (draft-spec rules are warnings) and refuse the rest with one
readable line per problem that says where and what to do."""

from __future__ import annotations

import json
from typing import Any

import pytest
from graphql import GraphQLObjectType, build_schema, graphql_sync, introspection_from_schema, validate_schema

from stitcher.composition import compose
from stitcher.errors import SchemaError
from stitcher.graphql_source import read_schema, subgraph_from_graphql
from stitcher.ir import SourceKind
from stitcher.sources import SourceSpec

# An implementation field deprecated while its interface field is not: graphql-core 3.3 refuses it (a draft spec
# rule), graphql-js 16 accepts it, and several big public schemas have it.
DEPRECATED_IMPLEMENTATION = """
interface Node { id: ID! legacyId: String }
type User implements Node {
  id: ID!
  legacyId: String @deprecated(reason: "Use id.")
  name: String
}
type Query { user: User node: Node }
"""


def plain(sdl: str, name: str = "gh") -> SourceSpec:
    return SourceSpec(name, SourceKind.GRAPHQL, sdl, url=f"http://{name}.test/graphql")


def introspection(sdl: str) -> str:
    # assume_valid: introspection runs only on a valid schema, and graphql-js 16 finds this one valid
    return json.dumps({"data": introspection_from_schema(build_schema(sdl, assume_valid=True))})


@pytest.mark.parametrize("as_introspection", [False, True])
def test_deprecated_implementation_field_is_taken_with_a_warning(as_introspection: bool) -> None:
    text = introspection(DEPRECATED_IMPLEMENTATION) if as_introspection else DEPRECATED_IMPLEMENTATION
    sub = subgraph_from_graphql(plain(text))
    (warning,) = sub.warnings
    assert "User.legacyId must not be deprecated" in warning and "graphql-js 16 accepts" in warning
    sg = compose([plain(text)])
    assert sg.warnings == [f'service "gh": {warning}']  # reported once, not again for the composed schema
    user = sg.schema.get_type("User")
    assert isinstance(user, GraphQLObjectType) and user.fields["legacyId"].deprecation_reason == "Use id."
    # the composed schema executes queries (graphql-core asserts a schema is valid before it runs anything)
    result = graphql_sync(sg.schema, "{ user { legacyId } }", root_value={"user": {"legacyId": "u1"}})
    assert result.errors is None and result.data == {"user": {"legacyId": "u1"}}


def test_deprecated_implementation_in_the_composition_only_is_a_warning_too() -> None:
    # each service alone is fine; the merged User.legacyId is deprecated (first deprecation wins) while Node's is not
    a = plain(
        "interface Node { legacyId: String } type User implements Node { legacyId: String } type Query { n: Node }", "a"
    )
    b = plain('type User { legacyId: String @deprecated(reason: "old") } type Query { u: User }', "b")
    sg = compose([a, b])
    assert validate_schema(sg.schema) == []
    assert any(w.startswith("composed schema: Interface field Node.legacyId is not deprecated") for w in sg.warnings)


def test_invalid_default_value_is_a_warning_like_graphql_js_16() -> None:
    schema, warnings = read_schema("gh", 'enum Order { ASC DESC } type Query { list(order: Order = "ASC"): [Int] }')
    assert schema.query_type is not None
    assert len(warnings) == 1 and warnings[0].startswith("Query.list(order:) has invalid default value")


def test_a_field_defined_twice_names_both_places() -> None:
    with pytest.raises(SchemaError) as info:
        subgraph_from_graphql(plain("type Query { user: User }\ntype User {\n  id: ID!\n  login: String\n  id: ID\n}"))
    assert str(info.value) == (
        "service \"gh\": invalid SDL: Field 'User.id' can only be defined once: defined at line 3, column 3 and again "
        "at line 5, column 3; remove one"
    )


def test_a_field_defined_twice_in_an_introspection_result_names_both_places() -> None:
    data = introspection_from_schema(build_schema("type Query { user: User } type User { id: ID! login: String }"))
    types: list[Any] = list(data["__schema"]["types"])
    user = next(t for t in types if t["name"] == "User")
    user["fields"].append(dict(user["fields"][0]))  # graphql-core would keep the last "id" silently
    with pytest.raises(SchemaError) as info:
        subgraph_from_graphql(plain(json.dumps(data)))
    assert str(info.value) == (
        'service "gh": introspection result: field User.id is defined twice (entries 0 and 2 of the fields of User); '
        "remove one"
    )


def test_federation_directives_in_a_plain_service_suggest_protocol_federation() -> None:
    sdl = (
        'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])\n'
        'type Query { p: P }\ntype P @key(fields: "id") { id: ID! }'
    )
    with pytest.raises(SchemaError) as info:
        subgraph_from_graphql(plain(sdl))
    message = str(info.value)
    assert "uses Federation directives (@link at line 1, column 15, @key at line 3, column 8)" in message
    assert "declare the service with protocol: federation" in message
    # a plain service that defines such a directive itself is a plain service
    own = 'directive @key(fields: String!) on OBJECT\ntype Query { p: P }\ntype P @key(fields: "id") { id: ID! }'
    assert subgraph_from_graphql(plain(own)).schema is not None


def test_several_problems_are_one_per_line() -> None:
    sdl = "type Query { a: A b: Missing }\ntype A { x: Int x: Int }\ntype A { y: Int }"
    with pytest.raises(SchemaError) as info:
        subgraph_from_graphql(plain(sdl))
    head, *lines = str(info.value).split("\n")
    assert head == 'service "gh": invalid SDL (3 problems):'
    assert all(line.startswith("- ") for line in lines) and len(lines) == 3
    assert any("Unknown type 'Missing'" in line for line in lines)
