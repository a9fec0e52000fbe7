"""Federation 1 subgraphs (no @link to Federation 2) compose with Federation 1 rules, as Apollo composition does:
every field is shareable, and ``extend type`` extends an entity another subgraph owns."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLObjectType

from stitcher.composition import build_subgraph, compose
from stitcher.errors import CompositionError
from stitcher.ir import FieldJoin, SourceKind, TypeJoin
from stitcher.sources import SourceSpec

SCHEMAS = Path(__file__).parent / "schemas"
LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"])\n'


def fed(name: str, sdl: str | None = None) -> SourceSpec:
    text = sdl if sdl is not None else (SCHEMAS / f"fed1-{name}.graphql").read_text()
    return SourceSpec(name, SourceKind.FEDERATION, text, url=f"http://{name}.test/graphql")


def test_a_subgraph_without_a_federation_2_link_is_federation_1() -> None:
    assert build_subgraph(fed("catalog")).federation_v1
    assert not build_subgraph(fed("v2", LINK + "type Query { a: Int }")).federation_v1
    # Federation 2 directives say the author writes Federation 2, even without the @link Apollo would want
    assert not build_subgraph(fed("v2", "type Query { a: Int @shareable }")).federation_v1


def test_federation_1_subgraphs_share_value_types_and_root_fields_and_extend_entities() -> None:
    sg = compose([fed("catalog"), fed("reviews")])
    assert sg.fields[("Money", "amount")] == (FieldJoin("catalog"), FieldJoin("reviews"))
    assert [j.graph for j in sg.fields[("Query", "serviceVersion")]] == ["catalog", "reviews"]
    # the extension's key field is @external in Federation 1 style, but the subgraph receives it: not external
    assert sg.fields[("Product", "upc")] == (FieldJoin("catalog"), FieldJoin("reviews"))
    assert sg.fields[("Product", "reviews")] == (FieldJoin("reviews"),)
    assert sg.types["Product"] == (TypeJoin("catalog", key="upc"), TypeJoin("reviews", key="upc"))
    product = sg.schema.get_type("Product")
    assert isinstance(product, GraphQLObjectType) and set(product.fields) == {"upc", "name", "price", "reviews"}


def test_federation_2_rules_still_hold_for_the_federation_2_subgraph_of_a_mixed_composition() -> None:
    v2 = fed("money", LINK + "type Query { rate: Money } type Money { amount: Int! currency: String! }")
    with pytest.raises(CompositionError) as info:
        compose([fed("catalog"), v2])
    conflicts = info.value.conflicts
    assert {c.split(":")[0] for c in conflicts} == {"Money.amount", "Money.currency"}
    assert all('not shareable in service "money"' in c for c in conflicts)
    shared = fed("money", LINK + "type Query { rate: Money } type Money @shareable { amount: Int! currency: String! }")
    assert compose([fed("catalog"), shared]).fields[("Money", "currency")] == (
        FieldJoin("catalog"),
        FieldJoin("money"),
    )
