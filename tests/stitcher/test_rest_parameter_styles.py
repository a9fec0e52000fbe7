"""Parameter styles reach the upstream exactly as OpenAPI 3's style table writes them (RFC 6570's expansions):
simple, label and matrix in a path, form, spaceDelimited, pipeDelimited and deepObject in a query, each exploded or
not, for arrays, objects and primitives; reserved characters percent-encoded unless ``allowReserved``. The request
line is read as it arrived at a real upstream on loopback, through both HTTP clients the gateway can use."""

from __future__ import annotations

from typing import Any

import pytest

from stitcher.transport import AiohttpTransport, HttpxTransport
from tests.stitcher.rest_gateway import openapi, run, supergraph_of, upstream
from tests.stitcher.upstreams.scripted import Received, ScriptedRestApp

__all__ = ["upstream"]  # the fixture

CLIENTS = pytest.mark.parametrize("client", [AiohttpTransport, HttpxTransport], ids=["aiohttp", "httpx"])
COLORS = {"type": "array", "items": {"type": "string"}}
RGB = {"$ref": "#/components/schemas/RGB"}
SCHEMAS = {
    "RGB": {
        "type": "object",
        "properties": {"R": {"type": "integer"}, "G": {"type": "integer"}, "B": {"type": "integer"}},
    }
}
BLUE = '"blue"'
ARRAY = '["blue", "black", "brown"]'
OBJECT = "{R: 100, G: 200, B: 150}"


def parameter(name: str, where: str, schema: dict[str, Any], style: str, explode: bool, **extra: Any) -> Any:
    required = where == "path"
    return {
        "name": name,
        "in": where,
        "required": required,
        "schema": schema,
        "style": style,
        "explode": explode,
        **extra,
    }


def operation(operation_id: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {"get": {"operationId": operation_id, "parameters": parameters, "responses": {"204": {"description": "d"}}}}


Row = tuple[str, dict[str, Any], str, bool, str]  # parameter, its schema, style, explode, the GraphQL value

# named after the table's rows
PATH: list[Row] = [
    ("sa", COLORS, "simple", False, ARRAY),
    ("sae", COLORS, "simple", True, ARRAY),
    ("so", RGB, "simple", False, OBJECT),
    ("soe", RGB, "simple", True, OBJECT),
    ("lp", {"type": "string"}, "label", False, BLUE),
    ("la", COLORS, "label", False, ARRAY),
    ("lae", COLORS, "label", True, ARRAY),
    ("lo", RGB, "label", False, OBJECT),
    ("loe", RGB, "label", True, OBJECT),
    ("mp", {"type": "string"}, "matrix", False, BLUE),
    ("me", {"type": "string"}, "matrix", False, '""'),
    ("ma", COLORS, "matrix", False, ARRAY),
    ("mae", COLORS, "matrix", True, ARRAY),
    ("mo", RGB, "matrix", False, OBJECT),
    ("moe", RGB, "matrix", True, OBJECT),
]
QUERY: list[Row] = [
    ("fp", {"type": "string"}, "form", True, BLUE),
    ("fe", {"type": "string"}, "form", False, '""'),
    ("fa", COLORS, "form", False, ARRAY),
    ("fae", COLORS, "form", True, ARRAY),
    ("fo", RGB, "form", False, OBJECT),
    ("foe", RGB, "form", True, OBJECT),
    ("sd", COLORS, "spaceDelimited", False, ARRAY),
    ("pd", COLORS, "pipeDelimited", False, ARRAY),
    ("deep", RGB, "deepObject", True, OBJECT),
]


def styles_document() -> dict[str, Any]:
    path = "/p/{sa}/{sae}/{so}/{soe}/{lp}/{la}/{lae}/{lo}/{loe}/m{mp}{me}{ma}{mae}{mo}{moe}"
    reserved = {"type": "string"}
    deep = {"type": "object", "properties": {"at": {"type": "string"}, "in": RGB, "tags": COLORS}}
    return openapi(
        {
            path: operation("paths", [parameter(n, "path", s, st, e) for n, s, st, e, _ in PATH]),
            "/q": operation("queries", [parameter(n, "query", s, st, e) for n, s, st, e, _ in QUERY]),
            "/r": operation(
                "reserved",
                [
                    parameter("kept", "query", reserved, "form", True, allowReserved=True),
                    parameter("encoded", "query", reserved, "form", True),
                    parameter("deepKept", "query", deep, "deepObject", True, allowReserved=True),
                    parameter("deep", "query", deep, "deepObject", True),
                ],
            ),
        },
        SCHEMAS,
    )


def call(field: str, rows: list[Row]) -> str:
    return "{ " + field + "(" + ", ".join(f"{name}: {value}" for name, _, _, _, value in rows) + ") }"


async def received(
    upstream: tuple[ScriptedRestApp, str], client: type[AiohttpTransport | HttpxTransport], query: str
) -> Received:
    """What the upstream received for ``query`` over the styles document."""
    app, url = upstream
    app.fallback = (204, b"", "application/json")
    supergraph = supergraph_of(styles_document(), url)
    assert not any("style" in w for w in supergraph.subgraphs["svc"].warnings)
    response = await run(supergraph, query, transport_class=client)
    assert response.errors is None and response.data is not None and all(response.data.values())
    return app.received[-1]


@CLIENTS
async def test_path_styles_are_written_as_the_style_table_says(
    upstream: tuple[ScriptedRestApp, str], client: type[AiohttpTransport | HttpxTransport]
) -> None:
    sent = await received(upstream, client, call("paths", PATH))
    assert sent.raw_path.split("/")[2:] == [
        "blue,black,brown",  # simple
        "blue,black,brown",  # simple, exploded
        "R,100,G,200,B,150",
        "R=100,G=200,B=150",
        ".blue",  # label
        ".blue,black,brown",
        ".blue.black.brown",
        ".R,100,G,200,B,150",
        ".R=100.G=200.B=150",
        "m;mp=blue;me;ma=blue,black,brown;mae=blue;mae=black;mae=brown;mo=R,100,G,200,B,150;R=100;G=200;B=150",
    ]


@CLIENTS
async def test_query_styles_are_written_as_the_style_table_says(
    upstream: tuple[ScriptedRestApp, str], client: type[AiohttpTransport | HttpxTransport]
) -> None:
    sent = await received(upstream, client, call("queries", QUERY))
    assert sent.query.split("&") == [
        "fp=blue",
        "fe=",
        "fa=blue,black,brown",
        "fae=blue",
        "fae=black",
        "fae=brown",
        "fo=R,100,G,200,B,150",
        "R=100",
        "G=200",
        "B=150",
        "sd=blue%20black%20brown",
        "pd=blue|black|brown",
        "deep%5BR%5D=100",  # deep[R]=100: brackets are reserved characters, percent-encoded
        "deep%5BG%5D=200",
        "deep%5BB%5D=150",
    ]


@CLIENTS
async def test_reserved_characters_are_encoded_unless_allow_reserved(
    upstream: tuple[ScriptedRestApp, str], client: type[AiohttpTransport | HttpxTransport]
) -> None:
    value = '"a/b:c@d,e;f=g+h!$\'()* 100%"'
    deep = '{at: "x/y:z", in: {R: 1}, tags: ["t/1", "t 2"]}'
    query = f"{{ reserved(kept: {value}, encoded: {value}, deepKept: {deep}, deep: {deep}) }}"
    sent = await received(upstream, client, query)
    assert sent.query.split("&") == [
        "kept=a/b:c@d,e;f=g+h!$'()*%20100%25",  # reserved kept; a space and % itself are still encoded
        "encoded=a%2Fb%3Ac%40d%2Ce%3Bf%3Dg%2Bh%21%24%27%28%29%2A%20100%25",
        "deepKept[at]=x/y:z",  # nested objects nest again, arrays repeat
        "deepKept[in][R]=1",
        "deepKept[tags]=t/1",
        "deepKept[tags]=t%202",
        "deep%5Bat%5D=x%2Fy%3Az",
        "deep%5Bin%5D%5BR%5D=1",
        "deep%5Btags%5D=t%2F1",
        "deep%5Btags%5D=t%202",
    ]


def test_a_style_its_location_does_not_take_is_the_default_with_a_warning() -> None:
    document = openapi(
        {
            "/things/{id}": operation(
                "things",
                [
                    parameter("id", "path", COLORS, "deepObject", False),
                    parameter("q", "query", COLORS, "matrix", False),
                    parameter("h", "header", COLORS, "label", False),
                ],
            )
        }
    )
    subgraph = supergraph_of(document, "http://things.test").subgraphs["svc"]
    warnings = [w for w in subgraph.warnings if "style" in w]
    assert warnings == [
        "GET /things/{id}: style 'deepObject' of 'id' is not one of a path parameter's (simple, label, matrix); "
        "it is sent as 'simple'",
        "GET /things/{id}: style 'matrix' of 'q' is not one of a query parameter's (form, spaceDelimited, "
        "pipeDelimited, deepObject); it is sent as 'form'",
        "GET /things/{id}: style 'label' of 'h' is not one of a header parameter's (simple); it is sent as 'simple'",
    ]
    assert subgraph.rest is not None
    (operation_binding,) = subgraph.rest.operations.values()
    assert [(p.name, p.style, p.explode) for p in operation_binding.parameters] == [
        ("id", "", False),
        ("q", "", False),
        ("h", "", False),
    ]
