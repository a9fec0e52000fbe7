"""No request to a running portal waits on a composition (issue 10): translating and composing refuse to run on a
thread that runs an event loop. The guard is what makes the rest of the portal's tests a proof: every publish,
apply and preview they drive through the real ASGI app would fail if its composition ran on the loop."""

from __future__ import annotations

import threading

import anyio.to_thread
import pytest

from portal.composer import compose_specs
from portal.errors import Invalid
from portal.publishing import validate_schema
from stitcher.ir import SourceKind
from stitcher.sources import SourceSpec

SMALL = SourceSpec("small", SourceKind.GRAPHQL, "type Query { hello: String }", url="http://small.test/graphql")
OPENAPI = """openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /things:
    get:
      operationId: things
      responses:
        "200":
          description: ok
          content: {application/json: {schema: {type: array, items: {type: string}}}}
"""


async def test_a_composition_on_the_event_loop_is_refused_and_runs_in_a_worker_thread() -> None:
    with pytest.raises(RuntimeError, match=r"composing product 'shop' was started on the event loop"):
        compose_specs("shop", [SMALL])
    threads: list[threading.Thread] = []

    def compose() -> str:
        threads.append(threading.current_thread())
        return str(compose_specs("shop", [SMALL]).schema.query_type)

    assert await anyio.to_thread.run_sync(compose) == "Query"
    assert threads[0] is not threading.main_thread()


async def test_translating_a_published_openapi_document_on_the_event_loop_is_refused() -> None:
    with pytest.raises(RuntimeError, match=r"translating service 'things' was started on the event loop"):
        validate_schema("things", SourceKind.OPENAPI, OPENAPI)
    checked = await anyio.to_thread.run_sync(validate_schema, "things", SourceKind.OPENAPI, OPENAPI)
    assert checked.translated is not None


def test_without_a_loop_the_cli_composes_as_before() -> None:
    assert compose_specs("shop", [SMALL]).schema.query_type is not None
    with pytest.raises(Invalid, match="the schema is empty"):
        validate_schema("things", SourceKind.OPENAPI, " ")
