"""A union whose members differ per subgraph, below a shareable value-type field of an entity. ``east`` and ``west``
both resolve ``Hall.display`` and ``Display.exhibits``; east's Exhibit is Poster | Painting, west's is
Poster | Sculpture. Asked through east, ``display`` could as well come from west (an entity hop on Hall's key), so
only the members both can return (Poster) are fetched, as Apollo's planner does: a Painting keeps its
``__typename`` and its fields come out null. A field only west resolves (``annex``) forces the hop, and then west's
own members are fetched."""

from __future__ import annotations

from typing import Any

from graphql import OperationDefinitionNode, parse

from stitcher.planning import build_plan
from stitcher.transport import AiohttpTransport
from tests.stitcher.federation.kit import Gateway, Subgraph, compose_subgraphs, gateway_fixture

POSTER = {"__typename": "Poster", "caption": "Opening night"}
PAINTING = {"__typename": "Painting", "artist": "Morisot"}
SCULPTURE = {"__typename": "Sculpture", "material": "bronze"}


def _hall(exhibits: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"id": "h1", "display": {"exhibits": exhibits}, **extra}


SUBGRAPHS = (
    Subgraph(
        "east",
        'type Query { eastHall: Hall }\ntype Hall @key(fields: "id") { id: ID! display: Display @shareable }\n'
        "type Display @shareable { exhibits: [Exhibit!]! @shareable }\nunion Exhibit = Poster | Painting\n"
        "type Poster @shareable { caption: String }\ntype Painting { artist: String }",
        entities=["Hall"],
        query={"eastHall": lambda: _hall([POSTER, PAINTING])},
        resolve=lambda rep: _hall([POSTER, PAINTING]) if rep["id"] == "h1" else None,
        types={"Exhibit": lambda value: value["__typename"]},
    ),
    Subgraph(
        "west",
        'type Query { westHall: Hall }\ntype Hall @key(fields: "id") { id: ID! display: Display @shareable '
        "annex: Display }\ntype Display @shareable { exhibits: [Exhibit!]! @shareable }\n"
        "union Exhibit = Poster | Sculpture\ntype Poster @shareable { caption: String }\n"
        "type Sculpture { material: String }",
        entities=["Hall"],
        query={"westHall": lambda: _hall([POSTER, SCULPTURE], annex={"exhibits": [SCULPTURE]})},
        resolve=lambda rep: _hall([POSTER, SCULPTURE], annex={"exhibits": [SCULPTURE]}) if rep["id"] == "h1" else None,
        types={"Exhibit": lambda value: value["__typename"]},
    ),
)
gateway = gateway_fixture(*SUBGRAPHS)

EXHIBITS = "exhibits { __typename ... on Poster { caption } ... on Painting { artist } ... on Sculpture { material } }"


async def test_members_only_one_sharing_subgraph_returns_are_not_fetched(
    gateway: Gateway, transport: AiohttpTransport
) -> None:
    await gateway.check(
        transport,
        f"{{ eastHall {{ display {{ {EXHIBITS} }} }} }}",
        {"eastHall": {"display": {"exhibits": [POSTER, {"__typename": "Painting", "artist": None}]}}},
    )
    await gateway.check(
        transport,
        f"{{ westHall {{ display {{ {EXHIBITS} }} }} }}",
        {"westHall": {"display": {"exhibits": [POSTER, {"__typename": "Sculpture", "material": None}]}}},
    )
    sent = gateway.requests("east")[-1]["query"]
    assert "Poster" in sent and "Painting" not in sent


async def test_a_field_only_one_subgraph_resolves_fetches_all_its_members(
    gateway: Gateway, transport: AiohttpTransport
) -> None:
    """``annex`` is west's alone: from east it is an entity hop, and west's members are all fetched."""
    await gateway.check(
        transport,
        f"{{ eastHall {{ annex {{ {EXHIBITS} }} }} westHall {{ annex {{ {EXHIBITS} }} }} }}",
        {"eastHall": {"annex": {"exhibits": [SCULPTURE]}}, "westHall": {"annex": {"exhibits": [SCULPTURE]}}},
    )
    assert "material" in gateway.requests("west")[-1]["query"]


def test_the_plan_is_the_same_every_time() -> None:
    supergraph = compose_subgraphs(SUBGRAPHS)
    operation = parse(f"{{ eastHall {{ display {{ {EXHIBITS} }} annex {{ {EXHIBITS} }} }} }}").definitions[0]
    assert isinstance(operation, OperationDefinitionNode)

    def documents() -> list[str]:
        plan = build_plan(supergraph, operation, {}, {})
        found: list[str] = []
        pending = [node for stage in plan.stages for node in stage]
        while pending:
            node = pending.pop(0)
            found.append(node.query)
            pending.extend(node.children)
        return found

    first = documents()
    assert len(first) == 2 and "Painting" not in first[0] and "Sculpture" in first[1]
    assert all(documents() == first for _ in range(3))
