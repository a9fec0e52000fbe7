"""Run GraphQL through Loom against a scripted REST upstream on loopback: compose the spec, execute, return."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from stitcher.composition import compose
from stitcher.execution import ExecutionResponse, Executor
from stitcher.ir import SourceKind, Supergraph
from stitcher.sources import SourceSpec
from stitcher.transport import AiohttpTransport, HttpxTransport
from tests._serving import serving
from tests.stitcher.upstreams.scripted import ScriptedRestApp


def openapi(paths: dict[str, Any], schemas: dict[str, Any] | None = None, version: str = "3.0.3") -> dict[str, Any]:
    document: dict[str, Any] = {"openapi": version, "info": {"title": "t", "version": "1"}, "paths": paths}
    if schemas:
        document["components"] = {"schemas": schemas}
    return document


def get_json(operation_id: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A GET operation answering ``schema`` as JSON."""
    response = {"description": "ok", "content": {"application/json": {"schema": schema}}}
    return {"get": {"operationId": operation_id, "responses": {"200": response}, **extra}}


def supergraph_of(document: dict[str, Any] | str, url: str, name: str = "svc") -> Supergraph:
    text = document if isinstance(document, str) else json.dumps(document)
    return compose([SourceSpec(name, SourceKind.OPENAPI, text, url=url)])


async def run(
    supergraph: Supergraph,
    query: str,
    variables: dict[str, Any] | None = None,
    transport_class: type[AiohttpTransport | HttpxTransport] = AiohttpTransport,
) -> ExecutionResponse:
    transport = await transport_class.create()
    try:
        return await Executor(supergraph, transport).execute(query, variables)
    finally:
        await transport.aclose()


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[ScriptedRestApp, str]]:
    app = ScriptedRestApp()
    with serving(app, "scripted REST upstream") as url:
        yield app, url
