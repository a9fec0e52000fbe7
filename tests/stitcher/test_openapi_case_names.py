"""Names that differ only by case (``StartDate`` and ``startDate``) stay distinct and readable: GraphQL names are
case-sensitive, so each keeps its own spelling, and the REST call sends each under its own parameter name."""

from __future__ import annotations

import json

from graphql import GraphQLInputObjectType, GraphQLObjectType

from stitcher.composition import compose
from stitcher.ir import SourceKind
from stitcher.sources import SourceSpec

STRING = {"type": "string"}
SPEC = {
    "openapi": "3.0.0",
    "info": {"title": "reports", "version": "1"},
    "paths": {
        "/reports": {
            "post": {
                "operationId": "createReport",
                "parameters": [
                    {"name": "StartDate", "in": "query", "schema": STRING},
                    {"name": "startDate", "in": "query", "schema": STRING},
                ],
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {"type": "object", "properties": {"EndDate": STRING, "endDate": STRING}}
                        }
                    }
                },
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": STRING}}}},
            }
        }
    },
}


def test_arguments_and_input_fields_differing_only_by_case_keep_their_own_names() -> None:
    sg = compose([SourceSpec("reports", SourceKind.OPENAPI, json.dumps(SPEC), url="http://reports.test")])
    mutation = sg.schema.mutation_type
    assert isinstance(mutation, GraphQLObjectType)
    field = mutation.fields["createReport"]
    assert {"StartDate", "startDate"} <= set(field.args)
    body = [a for a in field.args.values() if isinstance(getattr(a.type, "of_type", a.type), GraphQLInputObjectType)]
    assert len(body) == 1
    body_type = getattr(body[0].type, "of_type", body[0].type)
    assert isinstance(body_type, GraphQLInputObjectType) and sorted(body_type.fields) == ["EndDate", "endDate"]
    rest = sg.subgraphs["reports"].rest
    assert rest is not None
    parameters = rest.operations[("Mutation", "createReport")].parameters
    assert {(p.name, p.argument) for p in parameters} == {("StartDate", "StartDate"), ("startDate", "startDate")}
