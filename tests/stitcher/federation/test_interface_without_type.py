"""Fields selected on an interface whose concrete type nobody can tell: ``notes`` returns Note as a
non-resolvable @interfaceObject, and ``index`` defines the interface Note with a key but no implementation at all.
A typename fetch cannot be planned (``index`` has no object type to put in ``_entities``), so fields ``notes``
resolves itself are fetched from ``notes`` directly; a field no subgraph can give there is a planning error, never
an invalid upstream document."""

from __future__ import annotations

from stitcher.transport import AiohttpTransport
from tests.stitcher.federation.kit import Gateway, Subgraph, gateway_fixture

SUBGRAPHS = (
    Subgraph(
        "index",
        'type Query { latest: Note }\ninterface Note @key(fields: "id") { id: ID! }',
        query={"latest": lambda: None},
    ),
    Subgraph(
        "notes",
        'type Query { pinned: Note }\ntype Note @key(fields: "id", resolvable: false) @interfaceObject '
        "{ id: ID! text: String }",
        query={"pinned": lambda: {"id": "n1", "text": "buy milk"}},
    ),
)
SUPERGRAPH = """
type Query @join__type(graph: INDEX) @join__type(graph: NOTES) {
  latest: Note @join__field(graph: INDEX)
  pinned: Note @join__field(graph: NOTES)
}
interface Note @join__type(graph: INDEX, key: "id")
  @join__type(graph: NOTES, key: "id", resolvable: false, isInterfaceObject: true) {
  id: ID!
  text: String @join__field(graph: NOTES)
}
"""
gateway = gateway_fixture(*SUBGRAPHS, supergraph=SUPERGRAPH)


async def test_fields_of_the_interface_object_come_from_its_subgraph(
    gateway: Gateway, transport: AiohttpTransport
) -> None:
    await gateway.check(transport, "{ pinned { id text } }", {"pinned": {"id": "n1", "text": "buy milk"}})
    await gateway.check(transport, "{ pinned { ... on Note { id } } }", {"pinned": {"id": "n1"}})
    assert gateway.requests("index") == []


async def test_a_field_no_subgraph_can_give_is_a_planning_error(gateway: Gateway, transport: AiohttpTransport) -> None:
    response = await gateway.run(transport, "{ latest { text } }")
    assert response.data is None
    assert response.errors is not None
    assert response.errors[0]["extensions"]["code"] == "QUERY_PLANNING_FAILED"
    assert "Note" in response.errors[0]["message"]
