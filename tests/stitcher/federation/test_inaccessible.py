"""@inaccessible values never reach clients: an enum value or an object type the API schema hides comes out as
null (with an error where null is not allowed), while a @requires selection may still name the hidden type.

A garden: ``beds`` lists beds with a plant (an interface; ``Weed`` is hidden) and a soil kind (``TOXIC`` is hidden);
``care`` derives advice from the plant, requiring fragments on both the visible ``Herb`` and the hidden ``Weed``.
"""

from __future__ import annotations

from typing import Any

from stitcher.transport import AiohttpTransport
from tests.stitcher.federation.kit import Gateway, Subgraph, gateway_fixture

BEDS = [
    {"id": "b1", "soil": "LOAM", "plant": {"__typename": "Herb", "name": "mint", "scent": "fresh"}},
    {"id": "b2", "soil": "TOXIC", "plant": {"__typename": "Weed", "name": "bindweed", "spread": 9}},
]

_SDL = """
enum Soil { LOAM CLAY TOXIC @inaccessible }
interface Plant { name: String! }
type Herb implements Plant @shareable { name: String! scent: String! }
type Weed implements Plant @shareable @inaccessible { name: String! spread: Int! }
"""


def _care(rep: dict[str, Any]) -> dict[str, Any]:
    plant = rep["plant"]
    advice = f"pull {plant['name']} ({plant['spread']})" if "spread" in plant else f"water {plant['name']}"
    return {"id": rep["id"], "advice": advice}


SUBGRAPHS = (
    Subgraph(
        "beds",
        'type Query { beds: [Bed!]! soils: [Soil!]! firstSoil: Soil! }\ntype Bed @key(fields: "id") { id: ID! '
        "soil: Soil plant: Plant }" + _SDL,
        ["Bed"],
        {"beds": lambda: BEDS, "soils": lambda: ["CLAY", "TOXIC"], "firstSoil": lambda: "TOXIC"},
        lambda rep: next(b for b in BEDS if b["id"] == rep["id"]),
        {"Plant": lambda value: value["__typename"]},
    ),
    Subgraph(
        "care",
        'type Bed @key(fields: "id") { id: ID! plant: Plant @external advice: String! '
        '@requires(fields: "plant { name ... on Herb { scent } ... on Weed { spread } }") }' + _SDL,
        ["Bed"],
        resolve=_care,
        types={"Plant": lambda value: value["__typename"]},
    ),
)
gateway = gateway_fixture(*SUBGRAPHS)


async def test_a_hidden_enum_value_is_null(gateway: Gateway, transport: AiohttpTransport) -> None:
    await gateway.check(
        transport, "{ beds { id soil } }", {"beds": [{"id": "b1", "soil": "LOAM"}, {"id": "b2", "soil": None}]}
    )


async def test_a_hidden_enum_value_where_null_is_not_allowed_is_an_error(
    gateway: Gateway, transport: AiohttpTransport
) -> None:
    for response in await gateway.both(transport, "{ soils }"):
        assert response.data is None
        assert response.errors is not None and "TOXIC" in response.errors[0]["message"]
    for response in await gateway.both(transport, "{ firstSoil }"):
        assert response.data is None
        assert response.errors is not None and response.errors[0]["path"] == ["firstSoil"]


async def test_an_object_of_a_hidden_type_is_null(gateway: Gateway, transport: AiohttpTransport) -> None:
    await gateway.check(
        transport,
        "{ beds { id plant { __typename name ... on Herb { scent } } } }",
        {
            "beds": [
                {"id": "b1", "plant": {"__typename": "Herb", "name": "mint", "scent": "fresh"}},
                {"id": "b2", "plant": None},
            ]
        },
    )


async def test_a_requirement_may_select_a_hidden_type(gateway: Gateway, transport: AiohttpTransport) -> None:
    await gateway.check(
        transport,
        "{ beds { advice } }",
        {"beds": [{"advice": "water mint"}, {"advice": "pull bindweed (9)"}]},
    )
