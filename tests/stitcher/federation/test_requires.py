"""@requires beyond one flat field: chains, @inaccessible inputs, arguments (two requirements on one field with
different arguments), and a nested requirement whose inner field lives in yet another subgraph.

A workshop: ``catalog`` lists items; ``costing`` knows an item's cost (hidden from clients) and its price in a
currency; ``grading`` derives ``premium`` from the cost; ``advice`` derives ``recommended`` from ``premium`` (a
requirement that has a requirement); ``customs`` computes duties from the price in two currencies; ``assembly``
lists an item's parts and names the heaviest, which needs each part's weight from ``parts``.
"""

from __future__ import annotations

from typing import Any

from stitcher.transport import AiohttpTransport
from tests.stitcher.federation.kit import Gateway, Subgraph, gateway_fixture

ITEMS: dict[str, dict[str, Any]] = {
    "i1": {"name": "lathe", "cost": 40, "parts": ["p1", "p2", "p3"]},
    "i2": {"name": "vise", "cost": 8, "parts": ["p3"]},
}
WEIGHTS = {"p1": 5, "p2": 9, "p3": 2}
RATES = {"USD": 1, "EUR": 2}


def _costing(rep: dict[str, Any]) -> dict[str, Any]:
    cost = ITEMS[rep["id"]]["cost"]
    return {"id": rep["id"], "cost": cost, "price": lambda _info, currency: cost * RATES[currency]}


def _grading(rep: dict[str, Any]) -> dict[str, Any]:
    assert "cost" in rep, "the gateway must send the required cost"
    return {"id": rep["id"], "premium": rep["cost"] > 10}


def _advice(rep: dict[str, Any]) -> dict[str, Any]:
    assert "premium" in rep, "the gateway must send the required premium"
    return {"id": rep["id"], "recommended": not rep["premium"]}


def _customs(rep: dict[str, Any]) -> dict[str, Any]:
    price = rep["price"]  # the one currency this representation was built for
    return {"id": rep["id"], "dutyUSD": price // 10, "dutyEUR": price // 4}


def _assembly(rep: dict[str, Any]) -> dict[str, Any]:
    if rep["__typename"] == "Part":
        return {"__typename": "Part", "id": rep["id"]}
    item = rep["id"]
    parts = [{"__typename": "Part", "id": p} for p in ITEMS[item]["parts"]]
    result: dict[str, Any] = {"__typename": "Item", "id": item, "parts": lambda _info, first: parts[:first]}
    if "parts" in rep:
        # Exactly the required shape: no gateway-internal alias may leak into a representation.
        assert all(set(part) == {"weight"} for part in rep["parts"]), rep["parts"]
        weights = [part["weight"] for part in rep["parts"]]
        result["heaviest"] = ITEMS[item]["parts"][weights.index(max(weights))]
    return result


SUBGRAPHS = (
    Subgraph(
        "catalog",
        'type Query { items: [Item!]! }\ntype Item @key(fields: "id") { id: ID! name: String! }',
        ["Item"],
        {"items": lambda: [{"id": i, "name": item["name"]} for i, item in ITEMS.items()]},
        lambda rep: {"id": rep["id"], "name": ITEMS[rep["id"]]["name"]},
    ),
    Subgraph(
        "costing",
        'type Item @key(fields: "id") { id: ID! cost: Int! @inaccessible price(currency: String!): Int! }',
        ["Item"],
        resolve=_costing,
    ),
    Subgraph(
        "grading",
        'type Item @key(fields: "id") { id: ID! cost: Int! @external premium: Boolean! @requires(fields: "cost") }',
        ["Item"],
        resolve=_grading,
    ),
    Subgraph(
        "advice",
        'type Item @key(fields: "id") { id: ID! premium: Boolean! @external '
        'recommended: Boolean! @requires(fields: "premium") }',
        ["Item"],
        resolve=_advice,
    ),
    Subgraph(
        "customs",
        'type Item @key(fields: "id") { id: ID! price(currency: String!): Int! @external '
        'dutyUSD: Int! @requires(fields: "price(currency: \\"USD\\")") '
        'dutyEUR: Int! @requires(fields: "price(currency: \\"EUR\\")") }',
        ["Item"],
        resolve=_customs,
    ),
    Subgraph(
        "assembly",
        'type Item @key(fields: "id") { id: ID! parts(first: Int!): [Part!]! '
        'heaviest: String @requires(fields: "parts(first: 2) { weight }") }\n'
        'type Part @key(fields: "id") { id: ID! weight: Int! @external }',
        ["Item", "Part"],
        resolve=_assembly,
    ),
    Subgraph(
        "parts",
        'type Part @key(fields: "id") { id: ID! weight: Int! }',
        ["Part"],
        resolve=lambda rep: {"id": rep["id"], "weight": WEIGHTS[rep["id"]]},
    ),
)
gateway = gateway_fixture(*SUBGRAPHS)


async def test_a_required_field_that_is_inaccessible_is_fetched_for_the_gateway_only(
    gateway: Gateway, transport: AiohttpTransport
) -> None:
    await gateway.check(
        transport,
        "{ items { name premium } }",
        {"items": [{"name": "lathe", "premium": True}, {"name": "vise", "premium": False}]},
    )


async def test_a_required_field_with_its_own_requirement_is_fetched_in_order(
    gateway: Gateway, transport: AiohttpTransport
) -> None:
    await gateway.check(
        transport, "{ items { recommended } }", {"items": [{"recommended": False}, {"recommended": True}]}
    )
    await gateway.check(
        transport,
        "{ items { premium recommended } }",
        {"items": [{"premium": True, "recommended": False}, {"premium": False, "recommended": True}]},
    )


async def test_requirements_on_one_field_with_different_arguments_do_not_overwrite_each_other(
    gateway: Gateway, transport: AiohttpTransport
) -> None:
    await gateway.check(
        transport,
        '{ items { dutyUSD dutyEUR price(currency: "EUR") } }',
        {"items": [{"dutyUSD": 4, "dutyEUR": 20, "price": 80}, {"dutyUSD": 0, "dutyEUR": 4, "price": 16}]},
    )


async def test_a_nested_requirement_reached_through_another_subgraph_is_sent_as_required(
    gateway: Gateway, transport: AiohttpTransport
) -> None:
    await gateway.check(transport, "{ items { heaviest } }", {"items": [{"heaviest": "p2"}, {"heaviest": "p3"}]})
    await gateway.check(
        transport,
        "{ items { heaviest parts(first: 1) { id weight } } }",
        {
            "items": [
                {"heaviest": "p2", "parts": [{"id": "p1", "weight": 5}]},
                {"heaviest": "p3", "parts": [{"id": "p3", "weight": 2}]},
            ]
        },
    )
