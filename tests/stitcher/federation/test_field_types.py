"""A field whose type differs per subgraph (``join__field(type:)``): sibling fragments of one upstream selection
must not hold one response key with two types, or the subgraph refuses the document ("fields conflict").

A shop sells to ``accounts`` (a union): ``Customer.id`` is ``ID!`` in ``accounts`` but ``ID`` in ``loyalty`` (so
``ID`` in the supergraph), while ``Staff.id`` is ``ID`` everywhere. ``... on Customer { id } ... on Staff { id }``
sent to ``accounts`` must alias one of them, and so must the gateway's own key fields for entity hops to
``loyalty``."""

from __future__ import annotations

from typing import Any

from stitcher.transport import AiohttpTransport
from tests.stitcher.federation.kit import Gateway, Subgraph, gateway_fixture

CUSTOMER = {"__typename": "Customer", "id": "c1", "name": "Ann"}
STAFF = {"__typename": "Staff", "id": "s1", "name": "Bo"}


def _account(value: dict[str, Any]) -> dict[str, Any]:
    return {**value, "peers": [CUSTOMER, STAFF]}


def _loyalty(rep: dict[str, Any]) -> dict[str, Any]:
    if rep["__typename"] == "Customer":
        return {"id": rep["id"], "points": 12}
    return {"id": rep["id"], "badge": "gold"}


SUBGRAPHS = (
    Subgraph(
        "accounts",
        "type Query { accounts: [Account!]! }\nunion Account = Customer | Staff\n"
        'type Customer @key(fields: "id") { id: ID! name: String peers: [Account!]! }\n'
        'type Staff @key(fields: "id") { id: ID name: String peers: [Account!]! }',
        ["Customer", "Staff"],
        {"accounts": lambda: [_account(CUSTOMER), _account(STAFF)]},
        lambda rep: _account(CUSTOMER if rep["__typename"] == "Customer" else STAFF),
        {"Account": lambda value: value["__typename"]},
    ),
    Subgraph(
        "loyalty",
        "type Query { customers: [Customer!]! }\n"
        'type Customer @key(fields: "id") { id: ID points: Int }\n'
        'type Staff @key(fields: "id") { id: ID badge: String }',
        ["Customer", "Staff"],
        {"customers": lambda: [{"id": "c1", "points": 12}]},
        _loyalty,
    ),
)
gateway = gateway_fixture(*SUBGRAPHS)


async def test_sibling_fragments_with_different_types_of_one_field(
    gateway: Gateway, transport: AiohttpTransport
) -> None:
    await gateway.check(
        transport,
        "{ customers { id name } accounts { ... on Customer { id name } ... on Staff { id name } } }",
        {
            "customers": [{"id": "c1", "name": "Ann"}],
            "accounts": [{"id": "c1", "name": "Ann"}, {"id": "s1", "name": "Bo"}],
        },
    )


async def test_nested_sibling_fragments(gateway: Gateway, transport: AiohttpTransport) -> None:
    peers = "peers { ... on Customer { id } ... on Staff { id } }"
    await gateway.check(
        transport,
        f"{{ accounts {{ ... on Customer {{ id {peers} }} ... on Staff {{ id {peers} }} }} }}",
        {
            "accounts": [
                {"id": "c1", "peers": [{"id": "c1"}, {"id": "s1"}]},
                {"id": "s1", "peers": [{"id": "c1"}, {"id": "s1"}]},
            ]
        },
    )


async def test_key_fields_with_different_types_for_entity_hops(gateway: Gateway, transport: AiohttpTransport) -> None:
    await gateway.check(
        transport,
        "{ accounts { ... on Customer { points } ... on Staff { badge } } }",
        {"accounts": [{"points": 12}, {"badge": "gold"}]},
    )
