"""Upstream GraphQL errors reach the client in the client's terms: their ``extensions`` as the subgraph sent them,
their ``locations`` pointing at the client's field (the upstream document is one the client never saw), and their
path without the gateway's internal aliases. ``parcels`` resolves Parcel with ``code`` as ``String!`` (``String`` in
``tracking``, so the gateway aliases it there) and ``weight`` that ``tracking`` requires for ``fee``; some fields
fail on purpose, with extensions."""

from __future__ import annotations

from typing import Any, NoReturn

from graphql import GraphQLError

from stitcher.transport import AiohttpTransport
from tests.stitcher.federation.kit import Gateway, Subgraph, gateway_fixture


def _fail(what: str, code: str) -> Any:
    def resolve(_info: Any) -> NoReturn:
        raise GraphQLError(f"{what} is unavailable", extensions={"code": code, "retryable": False})

    return resolve


def _parcel(parcel_id: str, *, broken_code: bool = False) -> dict[str, Any]:
    return {
        "id": parcel_id,
        "code": _fail("the code", "CODE_DOWN") if broken_code else f"code-{parcel_id}",
        "label": _fail("the label", "LABEL_DOWN"),
        "weight": _fail("the scale", "SCALE_DOWN") if parcel_id == "p2" else 3,
    }


def _tracked(rep: dict[str, Any]) -> dict[str, Any]:
    weight = rep.get("weight")
    return {
        "id": rep["id"],
        "code": None,
        "fee": None if weight is None else weight * 2,
        "status": _fail("tracking", "TRACKING_DOWN"),
    }


SUBGRAPHS = (
    Subgraph(
        "parcels",
        "type Query { parcel(id: ID!): Parcel parcels: [Parcel!]! }\n"
        'type Parcel @key(fields: "id") { id: ID! code: String! @shareable label: String weight: Int }',
        ["Parcel"],
        {
            "parcel": lambda id: _parcel(id, broken_code=id == "p3"),
            "parcels": lambda: [_parcel("p1"), _parcel("p2")],
        },
        lambda rep: _parcel(rep["id"]),
    ),
    Subgraph(
        "tracking",
        'type Parcel @key(fields: "id") { id: ID! code: String @shareable weight: Int @external '
        'fee: Int @requires(fields: "weight") status: String }',
        ["Parcel"],
        resolve=_tracked,
    ),
)
gateway = gateway_fixture(*SUBGRAPHS)


async def test_errors_keep_their_extensions_and_point_at_the_client_field(
    gateway: Gateway, transport: AiohttpTransport
) -> None:
    query = '{\n  parcel(id: "p1") {\n    id\n    label\n    status\n  }\n}'
    for response in await gateway.both(transport, query):
        assert response.data == {"parcel": {"id": "p1", "label": None, "status": None}}
        assert response.errors == [
            {
                "message": "the label is unavailable",
                "path": ["parcel", "label"],
                "locations": [{"line": 4, "column": 5}],
                "extensions": {"code": "LABEL_DOWN", "retryable": False},
            },
            {
                "message": "tracking is unavailable",
                "path": ["parcel", "status"],
                "locations": [{"line": 5, "column": 5}],
                "extensions": {"code": "TRACKING_DOWN", "retryable": False},
            },
        ]


async def test_paths_below_the_gateways_aliases_are_the_clients(gateway: Gateway, transport: AiohttpTransport) -> None:
    """``code`` is aliased in ``parcels`` (its type there is ``String!``): the error names the client's ``code``
    (under the client's own alias ``c`` here). ``weight`` is fetched only for ``tracking``'s ``fee``: the client
    never selected it, so its error points at the parcel that needed it."""
    query = 'query {\n  parcel(id: "p3") {\n    c: code\n  }\n}'
    for response in await gateway.both(transport, query):
        assert response.data == {"parcel": None}
        assert response.errors == [
            {
                "message": "the code is unavailable",
                "path": ["parcel", "c"],
                "locations": [{"line": 3, "column": 5}],
                "extensions": {"code": "CODE_DOWN", "retryable": False},
            }
        ]
    assert "_L___0_c: code" in gateway.requests("parcels")[-1]["query"]  # the alias the error path does not show
    query = "query {\n  parcels {\n    ... on Parcel { fee }\n  }\n}"
    for response in await gateway.both(transport, query):
        assert response.data == {"parcels": [{"fee": 6}, {"fee": None}]}
        assert response.errors == [
            {
                "message": "the scale is unavailable",
                "path": ["parcels", 1],
                "locations": [{"line": 2, "column": 3}],
                "extensions": {"code": "SCALE_DOWN", "retryable": False},
            }
        ]
    sent = gateway.requests("parcels")[-1]["query"]
    assert "_L_weight" in sent  # the alias the error path no longer shows
