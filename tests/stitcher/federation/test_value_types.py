"""A value type (an object type with no key) behind a root field that several subgraphs share: ``shelf`` lives in
``titles`` and ``prices``, and each knows only some fields of Shelf. No entity fetch can complete a Shelf (there
is no key to send), so the gateway sends ``shelf`` to each subgraph with the fields that subgraph resolves and
merges the answers at the same response key, lists item by item."""

from __future__ import annotations

from stitcher.transport import AiohttpTransport
from tests.stitcher.federation.kit import Gateway, Subgraph, gateway_fixture

SUBGRAPHS = (
    Subgraph(
        "titles",
        "type Query { shelf: Shelf! @shareable shelves: [Shelf!]! @shareable }\n"
        "type Shelf @shareable { id: ID! title: Title! }\ntype Title { text: String! }",
        query={
            "shelf": lambda: {"id": "s1", "title": {"text": "Poetry"}},
            "shelves": lambda: [{"id": "s1", "title": {"text": "Poetry"}}, {"id": "s2", "title": {"text": "Maps"}}],
        },
    ),
    Subgraph(
        "prices",
        "type Query { shelf: Shelf! @shareable shelves: [Shelf!]! @shareable }\n"
        "type Shelf @shareable { id: ID! price: Price! }\ntype Price { amount: Int! }",
        query={
            "shelf": lambda: {"id": "s1", "price": {"amount": 5}},
            "shelves": lambda: [{"id": "s1", "price": {"amount": 5}}, {"id": "s2", "price": {"amount": 9}}],
        },
    ),
)
SUPERGRAPH = """
type Query @join__type(graph: TITLES) @join__type(graph: PRICES) {
  shelf: Shelf!
  shelves: [Shelf!]!
}
type Shelf @join__type(graph: TITLES) @join__type(graph: PRICES) {
  id: ID!
  title: Title! @join__field(graph: TITLES)
  price: Price! @join__field(graph: PRICES)
}
type Title @join__type(graph: TITLES) { text: String! }
type Price @join__type(graph: PRICES) { amount: Int! }
"""
gateway = gateway_fixture(*SUBGRAPHS, supergraph=SUPERGRAPH)


async def test_a_shared_root_value_is_merged_from_each_subgraph(gateway: Gateway, transport: AiohttpTransport) -> None:
    await gateway.check(
        transport,
        "{ shelf { id price { amount } title { text } } }",
        {"shelf": {"id": "s1", "price": {"amount": 5}, "title": {"text": "Poetry"}}},
    )
    await gateway.check(
        transport,
        "{ shelves { title { text } price { amount } } }",
        {
            "shelves": [
                {"title": {"text": "Poetry"}, "price": {"amount": 5}},
                {"title": {"text": "Maps"}, "price": {"amount": 9}},
            ]
        },
    )


async def test_fields_of_one_subgraph_need_one_fetch(gateway: Gateway, transport: AiohttpTransport) -> None:
    before = len(gateway.requests("prices"))
    await gateway.check(
        transport, "{ shelf { id title { text } } }", {"shelf": {"id": "s1", "title": {"text": "Poetry"}}}
    )
    assert len(gateway.requests("prices")) == before
