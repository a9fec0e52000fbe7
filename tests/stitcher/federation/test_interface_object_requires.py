"""@requires on a field an @interfaceObject subgraph adds: the requirement is declared on the interface object, and
the gateway sends it in the interface-typed representation whichever implementation the object is.

``people`` defines ``interface Member @key(fields: "id")`` with Staff and Guest; ``badges`` knows only ``Member``
(an interface object), takes ``name`` as @external and derives ``badge`` from it; it also lists members itself.
"""

from __future__ import annotations

from typing import Any

from stitcher.transport import AiohttpTransport
from tests.stitcher.federation.kit import Gateway, Subgraph, gateway_fixture

MEMBERS = {
    "m1": {"__typename": "Staff", "id": "m1", "name": "Ada", "desk": 4},
    "m2": {"__typename": "Guest", "id": "m2", "name": "Bo", "host": "m1"},
}


def _badge(rep: dict[str, Any]) -> dict[str, Any]:
    assert rep["__typename"] == "Member", rep
    assert "name" in rep, "the gateway must send the required name"
    return {"id": rep["id"], "badge": f"[{rep['name'].upper()}]"}


SUBGRAPHS = (
    Subgraph(
        "people",
        'type Query { members: [Member!]! }\ninterface Member @key(fields: "id") { id: ID! name: String! }\n'
        'type Staff implements Member @key(fields: "id") { id: ID! name: String! desk: Int }\n'
        'type Guest implements Member @key(fields: "id") { id: ID! name: String! host: String }',
        ["Staff", "Guest"],
        {"members": lambda: list(MEMBERS.values())},
        lambda rep: MEMBERS.get(rep["id"]),
        {"Member": lambda value: value["__typename"]},
    ),
    Subgraph(
        "badges",
        'type Query { visitors: [Member!]! }\ntype Member @key(fields: "id") @interfaceObject { id: ID! '
        'name: String! @external badge: String! @requires(fields: "name") }',
        ["Member"],
        {"visitors": lambda: [{"__typename": "Member", "id": "m2"}]},
        _badge,
    ),
)
gateway = gateway_fixture(*SUBGRAPHS)


async def test_the_requirement_of_an_interface_object_field_is_sent_for_every_implementation(
    gateway: Gateway, transport: AiohttpTransport
) -> None:
    await gateway.check(transport, "{ members { badge } }", {"members": [{"badge": "[ADA]"}, {"badge": "[BO]"}]})
    await gateway.check(
        transport,
        "{ members { id name badge ... on Staff { desk } } }",
        {
            "members": [
                {"id": "m1", "name": "Ada", "badge": "[ADA]", "desk": 4},
                {"id": "m2", "name": "Bo", "badge": "[BO]"},
            ]
        },
    )


async def test_interface_objects_listed_by_their_own_subgraph_get_their_requirement_too(
    gateway: Gateway, transport: AiohttpTransport
) -> None:
    await gateway.check(
        transport,
        "{ visitors { id badge ... on Guest { host } } }",
        {"visitors": [{"id": "m2", "badge": "[BO]", "host": "m1"}]},
    )
