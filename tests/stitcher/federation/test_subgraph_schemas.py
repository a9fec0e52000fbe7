"""Every upstream document is valid in the subgraph's own schema: an interface whose implementations differ per
subgraph gets fragments only on the implementations that subgraph has (``Appliance`` is implemented by Kettle in
``devices`` and by Oven in ``ovens``; ``devices`` must never see a fragment on Oven, which it does not know)."""

from __future__ import annotations

from stitcher.transport import AiohttpTransport
from tests.stitcher.federation.kit import Gateway, Subgraph, gateway_fixture

SUBGRAPHS = (
    Subgraph(
        "devices",
        "type Query { appliances: [Appliance!]! @shareable favourite: Kettle @shareable }\n"
        "interface Appliance { id: ID! }\n"
        'type Kettle implements Appliance @key(fields: "id") { id: ID! litres: Int! }',
        ["Kettle"],
        {
            "appliances": lambda: [{"__typename": "Kettle", "id": "k1", "litres": 2}],
            "favourite": lambda: {"__typename": "Kettle", "id": "k1", "litres": 2},
        },
        lambda rep: {"id": rep["id"], "litres": 2},
        {"Appliance": lambda value: value["__typename"]},
    ),
    Subgraph(
        "ovens",
        "interface Appliance { id: ID! }\n"
        'type Oven implements Appliance @key(fields: "id") { id: ID! watts: Int! }\n'
        'type Kettle @key(fields: "id") { id: ID! brand: String! }',
        ["Oven", "Kettle"],
        resolve=lambda rep: {"id": rep["id"], "brand": "Acme"} if rep["__typename"] == "Kettle" else None,
    ),
)
gateway = gateway_fixture(*SUBGRAPHS)


async def test_fragments_only_on_the_implementations_a_subgraph_has(
    gateway: Gateway, transport: AiohttpTransport
) -> None:
    await gateway.check(transport, "{ appliances { id } }", {"appliances": [{"id": "k1"}]})
    await gateway.check(
        transport,
        "{ appliances { ... on Oven { watts } ... on Kettle { litres brand } } }",
        {"appliances": [{"litres": 2, "brand": "Acme"}]},
    )
    for body in gateway.requests("devices"):
        assert "Oven" not in body["query"]
