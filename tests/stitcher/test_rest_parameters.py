"""REST parameters reach the upstream as the OpenAPI description says: array items keep their own ``,`` and ``&``
encoded (the separators stay literal), spaceDelimited/pipeDelimited and Swagger's ssv/tsv/pipes, and nothing is sent
for a parameter the client left out unless the description gives it a default. Through Loom, over real HTTP, with
both HTTP clients the gateway can use."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote

import pytest
from graphql import print_schema
from hypothesis import HealthCheck, given, settings, strategies as st

from stitcher.transport import AiohttpTransport, HttpxTransport
from tests.stitcher.rest_gateway import openapi, run, supergraph_of, upstream
from tests.stitcher.upstreams.scripted import ScriptedRestApp

__all__ = ["upstream"]  # the fixture

CLIENTS = pytest.mark.parametrize("client", [AiohttpTransport, HttpxTransport], ids=["aiohttp", "httpx"])
STRINGS = {"type": "array", "items": {"type": "string"}}


def parameter(name: str, where: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "schema": schema, **extra}


def document() -> dict[str, Any]:
    return openapi(
        {
            "/items/{keys}": {
                "get": {
                    "operationId": "items",
                    "parameters": [
                        parameter("keys", "path", STRINGS, required=True),
                        parameter("ids", "query", STRINGS, style="form", explode=False),
                        parameter("tags", "query", STRINGS),  # form, exploded: one parameter per item
                        parameter("words", "query", STRINGS, style="spaceDelimited", explode=False),
                        parameter("codes", "query", STRINGS, style="pipeDelimited", explode=False),
                        parameter("limit", "query", {"type": "integer"}),
                        parameter("flag", "query", {"type": "boolean"}),
                        parameter("order", "query", {"type": "string", "enum": ["asc", "desc"]}),
                        parameter("page", "query", {"type": "integer", "default": 1}),
                        parameter("size", "query", {"type": "integer", "default": "ten"}),  # not an integer: ignored
                        parameter("note", "query", {"type": "string"}),
                    ],
                    "responses": {"204": {"description": "done"}},
                }
            }
        }
    )


@CLIENTS
async def test_array_items_keep_their_commas_and_ampersands_encoded(
    upstream: tuple[ScriptedRestApp, str], client: type[AiohttpTransport | HttpxTransport]
) -> None:
    app, url = upstream
    app.fallback = (204, b"", "application/json")
    supergraph = supergraph_of(document(), url)
    query = """{ items(keys: ["a,b", "c&d", "e/f"], ids: ["1,2", "3&x=4"], tags: ["x&y", "z"],
                 words: ["w1", "w2"], codes: ["p|q", "r"], note: "a&b=c d") }"""
    response = await run(supergraph, query, transport_class=client)
    assert response.errors is None and response.data == {"items": True}
    sent = app.received[-1]
    assert sent.raw_path == "/items/a%2Cb,c%26d,e%2Ff"
    assert sent.query.split("&") == [
        "ids=1%2C2,3%26x%3D4",
        "tags=x%26y",
        "tags=z",
        "words=w1%20w2",
        "codes=p%7Cq|r",
        "page=1",
        "note=a%26b%3Dc%20d",
    ]
    # what the upstream reads back: split on the separators first, then decode each item
    assert [unquote(item) for item in sent.raw_path.split("/")[2].split(",")] == ["a,b", "c&d", "e/f"]


@CLIENTS
async def test_parameters_left_out_are_not_sent(
    upstream: tuple[ScriptedRestApp, str], client: type[AiohttpTransport | HttpxTransport]
) -> None:
    app, url = upstream
    app.fallback = (204, b"", "application/json")
    supergraph = supergraph_of(document(), url)
    printed = print_schema(supergraph.schema)
    assert "page: Int = 1," in printed and "size: Int," in printed and "limit: Int," in printed
    response = await run(supergraph, '{ items(keys: ["k"], flag: false, limit: 0) }', transport_class=client)
    assert response.errors is None
    # only what the client gave, and `page`, whose default the description declares
    assert app.received[-1].query == "limit=0&flag=false&page=1"
    response = await run(
        supergraph, '{ items(keys: ["k"], order: null, note: null, page: null) }', transport_class=client
    )
    assert response.errors is None and app.received[-1].query == ""


async def test_swagger_collection_formats(upstream: tuple[ScriptedRestApp, str]) -> None:
    app, url = upstream
    app.fallback = (204, b"", "application/json")
    swagger = {
        "swagger": "2.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/find": {
                "get": {
                    "operationId": "find",
                    "parameters": [
                        {
                            "name": fmt,
                            "in": "query",
                            "type": "array",
                            "items": {"type": "string"},
                            "collectionFormat": fmt,
                        }
                        for fmt in ("csv", "ssv", "tsv", "pipes", "multi")
                    ],
                    "responses": {"204": {"description": "done"}},
                }
            }
        },
    }
    supergraph = supergraph_of(swagger, url)
    assert not any("collectionFormat" in w for w in supergraph.subgraphs["svc"].warnings)
    values = '["a b", "c,d"]'
    query = f"{{ find(csv: {values}, ssv: {values}, tsv: {values}, pipes: {values}, multi: {values}) }}"
    response = await run(supergraph, query)
    assert response.errors is None
    assert app.received[-1].query.split("&") == [
        "csv=a%20b,c%2Cd",
        "ssv=a%20b%20c%2Cd",
        "tsv=a%20b%09c%2Cd",
        "pipes=a%20b|c%2Cd",
        "multi=a%20b",
        "multi=c%2Cd",
    ]


_ITEMS = st.lists(
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=8),
    min_size=1,
    max_size=4,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=_ITEMS, ids=_ITEMS, tags=_ITEMS, codes=_ITEMS)
def test_any_items_reach_the_upstream_as_sent(
    upstream: tuple[ScriptedRestApp, str], keys: list[str], ids: list[str], tags: list[str], codes: list[str]
) -> None:
    """Whatever the items hold (',', '&', '=', '|', '%', '/', '?', '#', spaces, any script), an upstream that
    splits on the separators and then decodes each item gets exactly the client's items."""
    app, url = upstream
    app.fallback = (204, b"", "application/json")
    supergraph = supergraph_of(document(), url)
    query = """query($keys: [String!]!, $ids: [String!], $tags: [String!], $codes: [String!]) {
                 items(keys: $keys, ids: $ids, tags: $tags, codes: $codes, page: null) }"""
    variables = {"keys": keys, "ids": ids, "tags": tags, "codes": codes}
    response = asyncio.run(run(supergraph, query, variables))
    assert response.errors is None
    sent = app.received[-1]
    assert [unquote(item) for item in sent.raw_path.removeprefix("/items/").split(",")] == keys
    pairs = [pair.partition("=") for pair in sent.query.split("&")]
    received: dict[str, list[str]] = {}
    for name, _, value in pairs:
        received.setdefault(name, []).append(value)
    assert [unquote(item) for item in received["ids"][0].split(",")] == ids
    assert [unquote(item) for item in received["tags"]] == tags
    assert [unquote(item) for item in received["codes"][0].split("|")] == codes
