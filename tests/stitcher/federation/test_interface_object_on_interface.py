"""Interface objects whose fields are selected on the interface alone. ``people`` defines ``interface Member``
(key ``id``) with Staff and Guest, and Staff resolves ``active`` itself; ``directory`` returns Members as an
@interfaceObject; ``presence`` adds ``active`` to every Member as an @interfaceObject too. With no ``__typename`` and
no fragment on an implementation, the concrete type is never needed: ``active`` comes from ``presence`` for every
member (through Member's key, ``__typename: "Member"``) and ``people`` is not asked, as Apollo plans it. A fragment
on Staff needs the type: ``people`` types the objects and answers Staff's own ``active`` in that same request."""

from __future__ import annotations

from typing import Any

from stitcher.transport import AiohttpTransport
from tests.stitcher.federation.kit import Gateway, Subgraph, gateway_fixture

MEMBERS = {"m1": "Staff", "m2": "Guest"}


def _person(rep: dict[str, Any]) -> dict[str, Any] | None:
    kind = MEMBERS.get(rep["id"])
    if kind is None:
        return None
    return (
        {"__typename": kind, "id": rep["id"], "active": True}
        if kind == "Staff"
        else {"__typename": kind, "id": rep["id"]}
    )


SUBGRAPHS = (
    Subgraph(
        "people",
        'interface Member @key(fields: "id") { id: ID! }\n'
        'type Staff implements Member @key(fields: "id") { id: ID! active: Boolean! @shareable }\n'
        'type Guest implements Member @key(fields: "id") { id: ID! }',
        entities=["Staff", "Guest"],
        resolve=_person,
        types={"Member": lambda value: value["__typename"]},
    ),
    Subgraph(
        "directory",
        'type Query { members: [Member!]! }\ntype Member @key(fields: "id") @interfaceObject { id: ID! }',
        entities=["Member"],
        query={"members": lambda: [{"id": i} for i in MEMBERS]},
        resolve=lambda rep: {"id": rep["id"]},
    ),
    Subgraph(
        "presence",
        'type Member @key(fields: "id") @interfaceObject { id: ID! active: Boolean! @shareable }',
        entities=["Member"],
        resolve=lambda rep: {"id": rep["id"], "active": False},
    ),
)
gateway = gateway_fixture(*SUBGRAPHS)


async def test_fields_on_the_interface_come_from_the_interface_object(
    gateway: Gateway, transport: AiohttpTransport
) -> None:
    before = len(gateway.requests("people"))
    await gateway.check(
        transport,
        "{ members { id active } }",
        {"members": [{"id": "m1", "active": False}, {"id": "m2", "active": False}]},
    )
    assert len(gateway.requests("people")) == before
    sent = gateway.requests("presence")[-1]
    assert sent["variables"]["_loomReps"] == [{"__typename": "Member", "id": i} for i in MEMBERS]


async def test_a_fragment_on_an_implementation_asks_for_the_type_first(
    gateway: Gateway, transport: AiohttpTransport
) -> None:
    before = {name: len(gateway.requests(name)) for name in ("people", "presence")}
    await gateway.check(
        transport,
        "{ members { id ... on Staff { active } } }",
        {"members": [{"id": "m1", "active": True}, {"id": "m2"}]},
    )
    # One request to ``people`` per run (composed and loaded): the type and Staff's ``active`` together.
    assert len(gateway.requests("people")) == before["people"] + 2
    assert len(gateway.requests("presence")) == before["presence"]
    assert "... on Member{__typename ... on Staff{active}}" in gateway.requests("people")[-1]["query"]
    await gateway.check(
        transport,
        "{ members { __typename id active } }",
        {
            "members": [
                {"__typename": "Staff", "id": "m1", "active": True},
                {"__typename": "Guest", "id": "m2", "active": False},
            ]
        },
    )
