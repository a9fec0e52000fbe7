"""A shared root field whose selection only one of its subgraphs can plan: ``node`` is in ``people`` and
``rooms``; each knows the other's type only with its key @external, so ``... on Room { id size }`` cannot come
from ``people`` (an entity hop to ``rooms`` would need the very key it lacks) and must be asked of ``rooms``. A
selection no subgraph can plan stays a planning error."""

from __future__ import annotations

from typing import Any

from stitcher.transport import AiohttpTransport
from tests.stitcher.federation.kit import Gateway, Subgraph, gateway_fixture


def _people_node(id: str) -> dict[str, Any]:
    if id.startswith("p"):
        return {"__typename": "Person", "id": id, "name": "Ann"}
    return {"__typename": "Room", "id": id}


def _rooms_node(id: str) -> dict[str, Any]:
    if id.startswith("r"):
        return {"__typename": "Room", "id": id, "size": 12}
    return {"__typename": "Person", "id": id}


_NODE = {"Node": lambda value: value["__typename"]}
SUBGRAPHS = (
    Subgraph(
        "people",
        "type Query { node(id: ID!): Node @shareable }\ninterface Node { id: ID! }\n"
        'type Person implements Node @key(fields: "id") { id: ID! name: String }\n'
        'type Room implements Node @key(fields: "id") { id: ID! @external }',
        ["Person", "Room"],
        {"node": _people_node},
        lambda rep: _people_node(rep["id"]),
        _NODE,
    ),
    Subgraph(
        "rooms",
        "type Query { node(id: ID!): Node @shareable }\ninterface Node { id: ID! }\n"
        'type Person implements Node @key(fields: "id") { id: ID! @external }\n'
        'type Room implements Node @key(fields: "id") { id: ID! size: Int }',
        ["Person", "Room"],
        {"node": _rooms_node},
        lambda rep: _rooms_node(rep["id"]),
        _NODE,
    ),
)
SUPERGRAPH = """
type Query @join__type(graph: PEOPLE) @join__type(graph: ROOMS) { node(id: ID!): Node }
interface Node @join__type(graph: PEOPLE) @join__type(graph: ROOMS) { id: ID! }
type Person implements Node @join__implements(graph: PEOPLE, interface: "Node")
  @join__implements(graph: ROOMS, interface: "Node")
  @join__type(graph: PEOPLE, key: "id") @join__type(graph: ROOMS, key: "id") {
  id: ID! @join__field(graph: PEOPLE) @join__field(graph: ROOMS, external: true)
  name: String @join__field(graph: PEOPLE)
}
type Room implements Node @join__implements(graph: PEOPLE, interface: "Node")
  @join__implements(graph: ROOMS, interface: "Node")
  @join__type(graph: PEOPLE, key: "id") @join__type(graph: ROOMS, key: "id") {
  id: ID! @join__field(graph: PEOPLE, external: true) @join__field(graph: ROOMS)
  size: Int @join__field(graph: ROOMS)
}
"""
gateway = gateway_fixture(*SUBGRAPHS, supergraph=SUPERGRAPH)


async def test_the_subgraph_that_can_plan_the_selection_is_asked(gateway: Gateway, transport: AiohttpTransport) -> None:
    await gateway.check(
        transport,
        '{ room: node(id: "r1") { ... on Room { id size } } person: node(id: "p1") { ... on Person { id name } } }',
        {"room": {"id": "r1", "size": 12}, "person": {"id": "p1", "name": "Ann"}},
    )


async def test_a_selection_no_subgraph_can_plan_is_an_error(gateway: Gateway, transport: AiohttpTransport) -> None:
    response = await gateway.run(transport, '{ node(id: "r1") { id } }')
    assert response.data is None
    assert response.errors is not None
    assert response.errors[0]["extensions"]["code"] == "QUERY_PLANNING_FAILED"
