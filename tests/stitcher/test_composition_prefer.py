"""``prefer``: the product chooses which service's definition of a shared type wins (GraphQL Tools' canonical
definitions): the winner's field types, arguments, descriptions, enum values and input fields are the product's,
and a service whose definition of a field differs stops resolving that field."""

from __future__ import annotations

import pytest
from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType

from stitcher.composition import compose
from stitcher.errors import CompositionError
from stitcher.ir import FieldJoin, SourceKind
from stitcher.sources import EntityConfig, SourceSpec, Stitching


def plain(name: str, sdl: str, **entities: EntityConfig) -> SourceSpec:
    return SourceSpec(name, SourceKind.GRAPHQL, sdl, url=f"http://{name}.test/graphql", entities=entities)


A = plain(
    "a",
    """
    type Query { item(id: ID!): Item  a(tier: Tier, filter: Filter): Int }
    "An item, as a knows it."
    type Item { id: ID! size: Int  label(lang: String): String  color: String }
    enum Tier { LOW HIGH }
    input Filter { q: String! limit: Int }
    """,
    Item=EntityConfig(key="id", operation="item"),
)
B = plain(
    "b",
    """
    type Query { items: [Item!]!  itemsByIds(ids: [ID!]!): [Item]!  b(tier: Tier, filter: Filter): Int }
    "An item, as b knows it."
    type Item { id: ID! size: String  label(lang: String!): String  color: String!  weight: Int }
    enum Tier { LOW MID HIGH }
    input Filter { q: String! page: Int! }
    """,
    Item=EntityConfig(key="id", operation="itemsByIds"),
)


def test_without_prefer_every_clash_suggests_it() -> None:
    with pytest.raises(CompositionError) as info:
        compose([A, B])
    hint = "(or let one service's definition win: prefer: {%s: a} in the Product)"
    conflicts = info.value.conflicts
    assert 'Item.size: "Int" in service "a" vs "String" in service "b" ' + hint % "Item" in conflicts
    assert 'Item.label(lang:): "String!" required in service "b" but missing' not in conflicts
    assert (
        'Filter.page: "Int!" required in service "b" but missing in service "a" '
        + hint.replace("{%s: a}", "{Filter: b}")
        in conflicts
    )


def test_the_preferred_definition_is_the_products() -> None:
    sg = compose([A, B], Stitching(prefer={"Item": "a", "Tier": "a", "Filter": "a"}))
    item = sg.schema.get_type("Item")
    assert isinstance(item, GraphQLObjectType)
    assert item.description == "An item, as a knows it."
    assert {n: str(f.type) for n, f in item.fields.items()} == {
        "id": "ID!",
        "size": "Int",
        "label": "String",
        "color": "String",
        "weight": "Int",
    }
    assert {n: str(a.type) for n, a in item.fields["label"].args.items()} == {"lang": "String"}
    # b's size (another type) and label (a required argument a lacks) left the product: a alone resolves them
    assert sg.fields[("Item", "size")] == (FieldJoin("a"),)
    assert sg.fields[("Item", "label")] == (FieldJoin("a"),)
    # where b agrees (up to nullability) it still resolves the field; fields a lacks are merged as usual
    assert [j.graph for j in sg.fields[("Item", "color")]] == ["a", "b"]
    assert sg.fields[("Item", "weight")] == (FieldJoin("b"),)
    tier = sg.schema.get_type("Tier")
    assert isinstance(tier, GraphQLEnumType) and list(tier.values) == ["LOW", "HIGH"]
    filter_ = sg.schema.get_type("Filter")
    assert isinstance(filter_, GraphQLInputObjectType)
    assert {n: str(f.type) for n, f in filter_.fields.items()} == {"q": "String!", "limit": "Int"}
    assert {j.graph for j in sg.types["Tier"]} == {"a", "b"}  # both services still use the type


@pytest.mark.parametrize(
    ("prefer", "conflict"),
    [
        ({"Item": "c"}, "prefer.Item: c is not a source of the product (sources: a, b)"),
        ({"Ghost": "a"}, "prefer.Ghost: no source defines a type Ghost (names are the product's)"),
        ({"Query": "a"}, "prefer.Query: Query is a root type, merged field by field; rename or hide the root fields"),
    ],
)
def test_a_prefer_that_does_not_fit_is_a_conflict(prefer: dict[str, str], conflict: str) -> None:
    with pytest.raises(CompositionError) as info:
        compose([A, B], Stitching(prefer={"Item": "a", "Tier": "a", "Filter": "a", **prefer}))
    assert any(c.startswith(conflict) for c in info.value.conflicts), info.value.conflicts
