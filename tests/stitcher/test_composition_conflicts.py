"""Conflicts a person can act on: hiding a field with a transform removes it from the conflicts, as the conflict
messages suggest; every conflict is one line."""

from __future__ import annotations

import pytest
from graphql import GraphQLObjectType

from stitcher.composition import compose
from stitcher.errors import CompositionError, SchemaError
from stitcher.ir import FieldJoin, SourceKind
from stitcher.sources import SourceSpec, Transforms


def plain(name: str, sdl: str, hide: tuple[str, ...] = (), rename_types: dict[str, str] | None = None) -> SourceSpec:
    transforms = Transforms(hide=hide, rename_types=rename_types or {})
    return SourceSpec(name, SourceKind.GRAPHQL, sdl, url=f"http://{name}.test/graphql", transforms=transforms)


ONE = "type Query { hello: String  version: Int  one: Int }"
TWO = "type Query { hello(name: String!): Int  version: String  two: Int }"


def test_hiding_a_clashing_root_field_in_one_service_removes_the_conflict() -> None:
    with pytest.raises(CompositionError) as info:
        compose([plain("one", ONE), plain("two", TWO)])
    assert len(info.value.conflicts) == 2 and all("\n" not in c for c in info.value.conflicts)
    sg = compose([plain("one", ONE), plain("two", TWO, hide=("Query.hello", "Query.version"))])
    query = sg.schema.query_type
    assert isinstance(query, GraphQLObjectType)
    assert str(query.fields["hello"].type) == "String" and list(query.fields["hello"].args) == []
    assert sg.fields[("Query", "hello")] == (FieldJoin("one"),)  # only the service that exposes it resolves it
    assert sg.fields[("Query", "two")] == (FieldJoin("two"),)


def test_a_field_hidden_by_every_service_is_inaccessible() -> None:
    sg = compose([plain("one", ONE, hide=("Query.one",)), plain("two", TWO, hide=("Query.hello", "Query.version"))])
    query = sg.schema.query_type
    assert isinstance(query, GraphQLObjectType) and "one" not in query.fields
    assert "Query.one" in sg.inaccessible and "Query.hello" not in sg.inaccessible


def test_a_field_hidden_in_a_renamed_type_is_matched_in_product_names() -> None:
    one = plain("one", "type Query { info: Info } type Info { a: Int b: String }")
    # (two never returns Info: otherwise Info.b, which only "one" resolves, would be unreachable from "two")
    two = plain("two", "type Query { count: Int } type Stats { a: Int b: Int }", rename_types={"Stats": "Info"})
    with pytest.raises(CompositionError) as info:
        compose([one, two])
    assert info.value.conflicts == [
        'Info.b: "String" in service "one" vs "Int" in service "two" (or let one service\'s definition win: prefer: '
        "{Info: one} in the Product)"
    ]
    two = plain("two", two.schema, hide=("Stats.b",), rename_types={"Stats": "Info"})
    sg = compose([one, two])
    assert sg.fields[("Info", "b")] == (FieldJoin("one"),)
    assert sg.fields[("Info", "a")] == (FieldJoin("one"), FieldJoin("two"))


def test_type_conflicts_and_unreachable_fields_are_reported_in_one_run() -> None:
    link = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"])\n'
    a = SourceSpec(
        "a",
        SourceKind.FEDERATION,
        link + 'type Query { p: P  m: M } type P @key(fields: "id") { id: ID! } type M @shareable { v: Int }',
    )
    # b's P has no resolvable key there, so "a" cannot get P.name; and M.v's types differ
    b = SourceSpec(
        "b",
        SourceKind.FEDERATION,
        link + 'type Query { q: P } type P @key(fields: "id", resolvable: false) { id: ID! name: String } '
        "type M @shareable { v: String }",
    )
    with pytest.raises(CompositionError) as info:
        compose([a, b])
    conflicts = info.value.conflicts
    assert conflicts[0] == (
        'M.v: "Int" in service "a" vs "String" in service "b" (or let one service\'s definition win: prefer: {M: a} '
        "in the Product)"
    )
    assert any(c.startswith('P.name: cannot be resolved for a P returned by service "a"') for c in conflicts)
    assert str(info.value).count("\n") == len(conflicts)  # one conflict per line


USERS = "type Query { user(id: ID!): User }  type User { id: ID!  name: String }"
BILLING = (
    "type Query { invoice: Invoice  owner: User }  type Invoice { total: Int }  type User { id: Int  login: String }"
)


def test_hiding_a_clashing_type_in_one_service_removes_it_from_the_conflicts() -> None:
    with pytest.raises(CompositionError, match="User"):
        compose([plain("users", USERS), plain("billing", BILLING)])
    sg = compose([plain("users", USERS), plain("billing", BILLING, hide=("User", "Query.owner"))])
    user = sg.schema.get_type("User")
    assert isinstance(user, GraphQLObjectType) and sorted(user.fields) == ["id", "name"]
    assert str(user.fields["id"].type) == "ID!" and "User" not in sg.inaccessible
    assert [j.graph for j in sg.types["User"]] == ["users"]


def test_a_hidden_type_still_returned_by_a_visible_field_is_a_conflict_that_says_what_to_hide() -> None:
    with pytest.raises(CompositionError) as info:
        compose([plain("users", USERS), plain("billing", BILLING, hide=("User",))])
    assert any("Query.owner returns it: hide Query.owner too" in c for c in info.value.conflicts)


FED = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"]) '
CATALOG = (
    FED + 'type Query { shelf: Shelf! } type Shelf @key(fields: "books { id }") { books: [Book!]! } '
    'type Book @key(fields: "id") { id: ID! title: String! }'
)
ISBNS = FED + 'type Book @key(fields: "id") { id: ID! isbn: String! @shareable }'
RANKING = (
    FED + 'type Shelf @key(fields: "books { id isbn }") { books: [Book!]! top: Book } '
    'type Book @key(fields: "id isbn") { id: ID! isbn: String! }'
)


def federation(name: str, sdl: str) -> SourceSpec:
    return SourceSpec(name, SourceKind.FEDERATION, sdl, url=f"http://{name}.test/graphql")


def test_a_key_completed_through_another_services_entity_lookup_composes() -> None:
    """catalog returns a Shelf knowing its books by id only; ranking's key needs the books' isbn, which isbns
    resolves for a Book reached by id (Apollo composes this; the planner fetches isbn first)."""
    sg = compose([federation("catalog", CATALOG), federation("isbns", ISBNS), federation("ranking", RANKING)])
    assert [j.graph for j in sg.fields[("Shelf", "top")]] == ["ranking"]


def test_a_plain_graphql_service_is_told_to_declare_an_entity_not_a_key_directive() -> None:
    users = "type Query { users: [User] }  type User { id: ID!  name: String }"
    ranks = "type Query { top: Rank }  type Rank { user: User }  type User { id: ID!  rank: Int }"
    with pytest.raises(CompositionError) as info:
        compose([plain("users", users), plain("ranks", ranks)])
    message = next(c for c in info.value.conflicts if c.startswith("User.name"))
    assert 'declare User an entity of service "users" (spec.entities.User' in message and "@key" not in message


def test_renames_by_pattern_for_types_and_root_fields() -> None:
    artworks = "type Query { artwork(id: ID!): Artwork  artworks: [Artwork] }  type Artwork { id: ID!  title: String }"
    transforms = Transforms(
        type_patterns={"Art(.*)": r"Gravity\1"}, root_field_patterns={"art(.*)": r"gravityArt\1"}, prefix="G"
    )
    spec = SourceSpec("gravity", SourceKind.GRAPHQL, artworks, url="http://gravity.test/graphql", transforms=transforms)
    sg = compose([spec])
    query = sg.schema.query_type
    assert isinstance(query, GraphQLObjectType)
    assert sorted(query.fields) == ["gravityArtwork", "gravityArtworks"]
    assert str(query.fields["gravityArtworks"].type) == "[Gravitywork]"
    bad = Transforms(type_patterns={"(": "x"}, root_field_patterns={"(.*)": r"\1-x"})
    with pytest.raises(SchemaError, match=r"not a regular expression: .*; root_field_patterns: Query.artwork becomes"):
        compose([SourceSpec("gravity", SourceKind.GRAPHQL, artworks, url="http://g.test/graphql", transforms=bad)])
