"""An operation with several 2xx responses handles each: a body typed by its own schema (a union chosen by the
status code when the bodies differ), no body (204) as null without an error. Through Loom against a real upstream."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLUnionType

from tests.stitcher.rest_gateway import openapi, run, supergraph_of, upstream
from tests.stitcher.upstreams.scripted import ScriptedRestApp

__all__ = ["upstream"]  # the fixture


def body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": "ok", "content": {"application/json": {"schema": schema}}}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def document() -> dict[str, Any]:
    return openapi(
        {
            "/jobs": {
                "post": {
                    "operationId": "startJob",
                    "responses": {
                        "200": body(ref("Job")),  # done at once
                        "202": body(ref("Ticket")),  # queued
                        "204": {"description": "nothing to do"},
                        "400": body(ref("Problem")),
                    },
                }
            },
            "/pets/{id}": {
                "put": {
                    "operationId": "putPet",
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": body(ref("Pet")), "201": body(ref("Pet")), "204": {"description": "same"}},
                }
            },
            "/notes": {
                "post": {
                    "operationId": "addNote",
                    "responses": {"200": body({"type": "string"}), "201": body(ref("Pet"))},
                }
            },
        },
        {
            "Job": {"type": "object", "properties": {"id": {"type": "string"}, "result": {"type": "integer"}}},
            "Ticket": {"type": "object", "properties": {"id": {"type": "string"}, "position": {"type": "integer"}}},
            "Pet": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}}},
            "Problem": {"type": "object", "properties": {"title": {"type": "string"}}},
        },
    )


JOB = "mutation { startJob { __typename ... on Job { id result } ... on Ticket { id position } } }"


async def test_each_2xx_body_is_typed_by_its_own_status(upstream: tuple[ScriptedRestApp, str]) -> None:
    app, url = upstream
    supergraph = supergraph_of(document(), url)
    union = supergraph.schema.get_type("StartJobResponses")
    assert isinstance(union, GraphQLUnionType) and [t.name for t in union.types] == ["Job", "Ticket"]
    # the same body, two statuses: the status decides (both types have `id` only in common)
    app.answer("POST", "/jobs", {"id": "j1", "result": 42}, status=200)
    response = await run(supergraph, JOB)
    assert response.errors is None and response.data == {"startJob": {"__typename": "Job", "id": "j1", "result": 42}}
    app.answer("POST", "/jobs", {"id": "j1"}, status=202)
    response = await run(supergraph, JOB)
    assert response.errors is None
    assert response.data == {"startJob": {"__typename": "Ticket", "id": "j1", "position": None}}
    app.answer("POST", "/jobs", ..., status=204)
    response = await run(supergraph, JOB)
    assert response.errors is None and response.data == {"startJob": None}


async def test_one_schema_for_several_codes_and_no_content(upstream: tuple[ScriptedRestApp, str]) -> None:
    app, url = upstream
    supergraph = supergraph_of(document(), url)
    query = 'mutation { putPet(id: "p1") { id name } }'
    for status in (200, 201):
        app.answer("PUT", "/pets/p1", {"id": "p1", "name": f"made with {status}"}, status=status)
        response = await run(supergraph, query)
        assert response.errors is None and response.data == {"putPet": {"id": "p1", "name": f"made with {status}"}}
    app.answer("PUT", "/pets/p1", ..., status=204)
    response = await run(supergraph, query)
    assert response.errors is None and response.data == {"putPet": None}


async def test_bodies_of_different_kinds_are_json_with_a_warning(upstream: tuple[ScriptedRestApp, str]) -> None:
    app, url = upstream
    supergraph = supergraph_of(document(), url)
    assert str(supergraph.schema.mutation_type.fields["addNote"].type) == "JSON"  # type: ignore[union-attr]
    assert any("POST /notes" in w and "not all objects" in w for w in supergraph.subgraphs["svc"].warnings)
    app.answer("POST", "/notes", {"id": "n", "name": "x"}, status=201)
    response = await run(supergraph, "mutation { addNote }")
    assert response.errors is None and response.data == {"addNote": {"id": "n", "name": "x"}}
