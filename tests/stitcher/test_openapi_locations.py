"""stitcher.openapi keys what it builds by document and JSON pointer, and classifies schemas as a typed value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from graphql import GraphQLObjectType, validate_schema

from stitcher import SourceKind, Subgraph
from stitcher._jsonref import load_text
from stitcher.openapi import Kind, Location, subgraph_from_openapi
from stitcher.openapi.classification import Classifier
from stitcher.openapi.context import Context
from stitcher.sources import SourceSpec


def spec_of(text: str, base_path: Path | None = None) -> SourceSpec:
    return SourceSpec("svc", SourceKind.OPENAPI, text, url="http://127.0.0.1:9", base_path=base_path)


def translate(document: dict[str, Any] | str, base_path: Path | None = None) -> Subgraph:
    text = document if isinstance(document, str) else json.dumps(document)
    subgraph = subgraph_from_openapi(spec_of(text, base_path))
    assert subgraph.schema is not None
    assert validate_schema(subgraph.schema) == []
    return subgraph


def test_one_schema_reached_by_a_ref_and_by_its_place_is_one_type() -> None:
    """``#/paths/.../schema`` and the inline schema at that place are one location, hence one type."""
    document = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a": {
                "get": {
                    "operationId": "a",
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {
                                    "schema": {"type": "object", "properties": {"x": {"type": "integer"}}}
                                }
                            },
                        }
                    },
                }
            },
            "/b": {
                "get": {
                    "operationId": "b",
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/paths/~1a/get/responses/200/content/application~1json/schema"}
                                }
                            },
                        }
                    },
                }
            },
        },
    }
    schema = translate(document).schema
    assert schema is not None
    assert schema.query_type is not None
    fields = schema.query_type.fields
    assert fields["a"].type is fields["b"].type
    assert isinstance(fields["a"].type, GraphQLObjectType)


def test_a_yaml_alias_that_contains_itself_is_json_not_a_hang() -> None:
    text = """
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /a:
    get:
      operationId: a
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: &loop
                type: array
                items: *loop
"""
    subgraph = translate(text)
    assert any("contains itself" in w or "too deeply" in w for w in subgraph.warnings), subgraph.warnings


def test_classification_is_a_kind_memoised_by_location() -> None:
    document = load_text(
        json.dumps(
            {
                "openapi": "3.1.0",
                "info": {"title": "t", "version": "1"},
                "paths": {},
                "components": {
                    "schemas": {
                        "Id": {"type": "integer", "format": "int64"},
                        "Count": {"type": ["integer", "number"]},
                        "Colour": {"enum": ["red", "green"]},
                        "Pet": {"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}]},
                        "Cat": {"type": "object", "properties": {"meow": {"type": "boolean"}}},
                        "Dog": {"type": "object", "properties": {"bark": {"type": "string"}}},
                        "Free": {"type": "object"},
                        "Nothing": {"type": "null"},
                        "Tags": {"type": "array", "items": {"type": "string"}},
                    }
                },
            }
        )
    )
    context = Context(spec_of("{}"), document, swagger=False)
    classifier = Classifier(context)
    root = context.root_node()
    kinds = {
        name: classifier.kind(root.child("components", "schemas", name)) for name in document["components"]["schemas"]
    }
    assert kinds == {
        "Id": Kind.BIG_INT,
        "Count": Kind.FLOAT,
        "Colour": Kind.ENUM,
        "Pet": Kind.UNION,
        "Cat": Kind.OBJECT,
        "Dog": Kind.OBJECT,
        "Free": Kind.JSON,
        "Nothing": Kind.NULL,
        "Tags": Kind.ARRAY,
    }
    assert Kind.BIG_INT.is_scalar and not Kind.ENUM.is_scalar
    assert context.component_names[Location("", "/components/schemas/Pet")] == "Pet"


def test_component_names_with_slashes_and_percent_refs_share_one_location(tmp_path: Path) -> None:
    document = {
        "swagger": "2.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a": {
                "get": {
                    "operationId": "a",
                    "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/Transaction%20Id"}}},
                }
            },
            "/b": {
                "get": {
                    "operationId": "b",
                    "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/a~1b"}}},
                }
            },
        },
        "definitions": {
            "Transaction Id": {"type": "object", "properties": {"id": {"type": "string"}}},
            "a/b": {"type": "object", "properties": {"n": {"type": "integer"}}},
        },
    }
    schema = translate(document).schema
    assert schema is not None and schema.query_type is not None
    assert str(schema.query_type.fields["a"].type) == "TransactionId"
    assert str(schema.query_type.fields["b"].type) == "AB"
