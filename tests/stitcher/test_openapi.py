"""OpenAPI 2.0/3.0/3.1 -> GraphQL subgraph: realistic specs from tests/stitcher/specs plus small inline ones."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    print_schema,
    print_type,
    validate_schema,
)
from hypothesis import HealthCheck, given, settings, strategies as st

from stitcher import EntityResolver, SourceKind, Subgraph
from stitcher.errors import SchemaError
from stitcher.openapi import subgraph_from_openapi
from stitcher.sources import EntityConfig, SourceSpec

SPECS = Path(__file__).parent / "specs"


def translate(
    document: str | Mapping[str, Any],
    *,
    base_path: Path | None = SPECS,
    entities: Mapping[str, EntityConfig] | None = None,
    name: str = "svc",
) -> Subgraph:
    text = document if isinstance(document, str) else json.dumps(document)
    spec = SourceSpec(
        name, SourceKind.OPENAPI, text, url="http://127.0.0.1:9", base_path=base_path, entities=entities or {}
    )
    subgraph = subgraph_from_openapi(spec)
    assert subgraph.schema is not None
    assert validate_schema(subgraph.schema) == []
    print_schema(subgraph.schema)
    return subgraph


def spec_file(name: str, **kwargs: Any) -> Subgraph:
    return translate((SPECS / name).read_text(encoding="utf-8"), **kwargs)


def schema_of(subgraph: Subgraph) -> GraphQLSchema:
    assert subgraph.schema is not None
    return subgraph.schema


def sdl_of(subgraph: Subgraph, type_name: str) -> str:
    named = schema_of(subgraph).get_type(type_name)
    assert named is not None, f"{type_name} missing"
    return print_type(named)


def field_type(subgraph: Subgraph, type_name: str, field: str) -> str:
    named = schema_of(subgraph).get_type(type_name)
    assert isinstance(named, GraphQLObjectType | GraphQLInputObjectType)
    return str(named.fields[field].type)


def openapi3(paths: dict[str, Any], schemas: dict[str, Any] | None = None, version: str = "3.0.3") -> dict[str, Any]:
    return {
        "openapi": version,
        "info": {"title": "t", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas or {}},
    }


def get_json(schema: dict[str, Any], operation_id: str | None = "get", **extra: Any) -> dict[str, Any]:
    op: dict[str, Any] = {
        "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": schema}}}}
    }
    if operation_id:
        op["operationId"] = operation_id
    op.update(extra)
    return {"get": op}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


# -- the realistic fixtures ----------------------------------------------------------------------------------------


def test_catalog_example_translates_with_union_allof_and_entity() -> None:
    subgraph = spec_file("catalog.openapi.yaml", entities={"Book": EntityConfig(key="isbn", operation="getBook")})
    assert subgraph.kind is SourceKind.OPENAPI and subgraph.url == "http://127.0.0.1:9"
    assert subgraph.warnings == []
    schema = schema_of(subgraph)
    assert field_type(subgraph, "Query", "listBooks") == "[Book!]"
    assert field_type(subgraph, "Query", "getBook") == "Book"
    assert str(schema.query_type.fields["listBooks"].args["limit"].type) == "Int"  # type: ignore[union-attr]
    assert schema.query_type.fields["listBooks"].args["limit"].default_value == 20  # type: ignore[union-attr]
    assert field_type(subgraph, "Book", "published") == "String"  # nullable: true
    fmt = schema.get_type("BookFormat")
    assert isinstance(fmt, GraphQLUnionType) and [t.name for t in fmt.types] == ["Print", "Ebook"]
    assert subgraph.rest is not None
    disc = subgraph.rest.discriminators["BookFormat"]
    assert disc.property_name == "kind"
    assert disc.mapping["print"] == "Print" and disc.mapping["ebook"] == "Ebook" and disc.mapping["Print"] == "Print"
    # allOf merged: Hold has HoldInput's properties and its own
    assert set(schema.get_type("Hold").fields) == {"isbn", "memberId", "id", "position"}  # type: ignore[union-attr]
    assert field_type(subgraph, "Mutation", "placeHold") == "Hold"
    assert str(schema.mutation_type.fields["placeHold"].args["input"].type) == "PlaceHoldInput!"  # type: ignore[union-attr]
    assert "isbn: String!" in sdl_of(subgraph, "PlaceHoldInput")
    op = subgraph.rest.operations[("Query", "getBook")]
    assert (op.method, op.path, op.operation_id) == ("GET", "/books/{isbn}", "getBook")
    assert subgraph.resolvers["Book"] == EntityResolver("Book", "isbn", "getBook", "isbn", batched=False)
    assert [k.fields for k in subgraph.keys["Book"]] == ["isbn"]


def test_swagger_petstore() -> None:
    subgraph = spec_file("petstore.swagger.yaml")
    rest = subgraph.rest
    assert rest is not None
    schema = schema_of(subgraph)
    query, mutation = schema.query_type, schema.mutation_type
    assert query is not None and mutation is not None
    assert set(query.fields) == {
        "findPetsByStatus",
        "findPetsByTags",
        "getPetById",
        "getInventory",
        "getOrderById",
        "loginUser",
    }
    assert set(mutation.fields) == {"addPet", "updatePetWithForm", "deletePet", "uploadFile"}
    # basePath prefixes every path; path-level parameters apply to each method
    assert rest.operations[("Query", "getPetById")].path == "/v2/pet/{petId}"
    assert str(query.fields["getPetById"].args["petId"].type) == "BigInt!"
    assert str(mutation.fields["deletePet"].args["petId"].type) == "BigInt!"
    # body parameter -> input type without the readOnly id; x-nullable honoured
    assert str(mutation.fields["addPet"].args["input"].type) == "PetInput!"
    pet_input = schema.get_type("PetInput")
    assert isinstance(pet_input, GraphQLInputObjectType) and "id" not in pet_input.fields
    assert field_type(subgraph, "Pet", "id") == "BigInt" and field_type(subgraph, "Pet", "name") == "String!"
    assert field_type(subgraph, "Pet", "nickname") == "String"
    assert field_type(subgraph, "Pet", "status") == "PetStatus"
    # formData -> an input object sent as a form; a file makes it multipart
    form = rest.operations[("Mutation", "updatePetWithForm")]
    assert (form.body_argument, form.content_type) == ("input", "application/x-www-form-urlencoded")
    assert set(schema.get_type("UpdatePetWithFormInput").fields) == {"name", "status"}  # type: ignore[union-attr]
    assert rest.operations[("Mutation", "uploadFile")].content_type == "multipart/form-data"
    # no content -> Boolean; text/plain -> String; a map -> JSON with a warning
    assert str(mutation.fields["deletePet"].type) == "Boolean"
    assert str(mutation.fields["updatePetWithForm"].type) == "Boolean"
    assert str(query.fields["loginUser"].type) == "String"
    assert str(query.fields["getInventory"].type) == "JSON"
    assert any("GET /v2/store/inventory" in w and "additionalProperties" in w for w in subgraph.warnings)
    # collectionFormat: multi repeats the parameter, csv joins it
    status = rest.operations[("Query", "findPetsByStatus")].parameters[0]
    tags = rest.operations[("Query", "findPetsByTags")].parameters[0]
    assert (status.explode, tags.explode) == (True, False)
    assert query.fields["findPetsByTags"].deprecation_reason
    header = rest.operations[("Mutation", "deletePet")].parameters[1]
    assert (header.name, header.location, header.argument) == ("api_key", "header", "api_key")


def test_openapi30_ref_chains_relative_files_and_servers_prefix() -> None:
    subgraph = spec_file("orders.openapi.yaml")
    rest = subgraph.rest
    assert rest is not None and subgraph.warnings == []
    schema = schema_of(subgraph)
    # servers[0] path with its variables' defaults prefixes the paths
    assert rest.operations[("Query", "getOrder")].path == "/api/v3/orders/{order-id}"
    # a chain of aliases ends at Order; relative files (two levels) give Money, Currency, Country
    assert field_type(subgraph, "Mutation", "createOrder") == "Order"
    assert field_type(subgraph, "Order", "total") == "Money!"
    assert field_type(subgraph, "Query", "getOrderTotal") == "Money"
    assert field_type(subgraph, "Money", "currency") == "Currency!"
    assert field_type(subgraph, "Address", "country") == "Country"
    assert isinstance(schema.get_type("Currency"), GraphQLEnumType)
    # readOnly out of input, writeOnly out of output
    assert "id" not in schema.get_type("OrderInput").fields  # type: ignore[union-attr]
    assert "notes" not in schema.get_type("Order").fields  # type: ignore[union-attr]
    assert "notes" in schema.get_type("OrderInput").fields  # type: ignore[union-attr]
    # odd names: sanitized, and mapped back
    assert rest.json_names[("OrderLine", "unitPrice")] == "unit-price"
    assert rest.json_names[("OrderLineInput", "unitPrice")] == "unit-price"
    assert rest.json_names[("OrderPage", "nextCursor")] == "next-cursor"
    assert rest.enum_values["OrderStatus"] == {"_2fa_pending": "2fa-pending"}
    assert rest.enum_values["CancelOrderReason"] == {
        "customer_request": "customer-request",
        "out_of_stock": "out of stock",
    }
    list_orders = rest.operations[("Query", "listOrders")]
    assert [(p.name, p.location, p.argument) for p in list_orders.parameters] == [
        ("page-size", "query", "pageSize"),
        ("status", "query", "status"),
        ("ids", "query", "ids"),
        ("X-Tenant-Id", "header", "xTenantId"),
    ]  # the Accept header is the gateway's business, not an argument
    assert [p.explode for p in list_orders.parameters][:3] == [True, True, False]
    args = schema.query_type.fields["listOrders"].args  # type: ignore[union-attr]
    assert str(args["xTenantId"].type) == "String!" and args["pageSize"].default_value == 25
    assert field_type(subgraph, "Query", "listOrders") == "OrderPage"  # default (problem) response is not the type


def test_openapi31_type_arrays_defs_const_and_recursion() -> None:
    subgraph = spec_file("library.openapi31.json")
    schema = schema_of(subgraph)
    assert field_type(subgraph, "Query", "getShelfTree") == "Node"
    assert field_type(subgraph, "Node", "parent") == "Node"  # oneOf [Node, null]: recursive and nullable
    assert field_type(subgraph, "Node", "children") == "[Node!]"
    assert field_type(subgraph, "Item", "subtitle") == "String"
    assert field_type(subgraph, "Item", "kind") == "String!"  # const
    assert field_type(subgraph, "Item", "rating") == "Float"  # ["number", "integer"]
    assert field_type(subgraph, "Item", "weight") == "JSON"
    assert field_type(subgraph, "Item", "meta") == "JSON"
    assert str(schema.query_type.fields["listItems"].args["kind"].type) == "ListItemsKind"  # type: ignore[union-attr]
    assert list(schema.get_type("ListItemsKind").values) == ["book", "dvd"]  # type: ignore[union-attr]
    # no operationId: method + path
    assert field_type(subgraph, "Mutation", "postEvents") == "String"
    assert sorted(w.split(":")[0] for w in subgraph.warnings) == ["EventInput.payload", "Item.meta", "Item.weight"]


def test_translation_is_stable_across_runs() -> None:
    for name in ("catalog.openapi.yaml", "petstore.swagger.yaml", "orders.openapi.yaml", "library.openapi31.json"):
        first, second = spec_file(name), spec_file(name)
        assert print_schema(schema_of(first)) == print_schema(schema_of(second))
        assert first.rest == second.rest and first.warnings == second.warnings


# -- $ref handling ---------------------------------------------------------------------------------------------


def test_refused_and_broken_refs_fall_back_to_json_with_a_warning(tmp_path: Path) -> None:
    inside = tmp_path / "svc"
    inside.mkdir()
    (tmp_path / "secret.yaml").write_text("Secret: {type: object, properties: {x: {type: string}}}\n")
    document = openapi3(
        {
            "/r": get_json(
                {
                    "type": "object",
                    "properties": {
                        "escape": {"$ref": "../secret.yaml#/Secret"},
                        "remote": {"$ref": "https://example.com/schemas.yaml#/Thing"},
                        "missing": {"$ref": "#/components/schemas/Nope"},
                        "absent": {"$ref": "./absent.yaml#/X"},
                        "loop": ref("LoopA"),
                        "ok": {"type": "string"},
                    },
                }
            )
        },
        {"LoopA": ref("LoopB"), "LoopB": ref("LoopA")},
    )
    subgraph = translate(document, base_path=inside)
    for prop in ("escape", "remote", "missing", "absent", "loop"):
        assert field_type(subgraph, "GetResponse", prop) == "JSON"
    joined = "\n".join(subgraph.warnings)
    assert "outside the source's directory" in joined
    assert "remote and absolute references are refused" in joined
    assert "'Nope' not found" in joined
    assert "cannot read" in joined
    assert "cycle" in joined
    # without a base path every relative file is refused
    no_base = translate(document, base_path=None)
    assert any("need a base path" in w for w in no_base.warnings)


def test_recursive_schemas_through_arrays_allof_and_input() -> None:
    document = openapi3(
        {
            "/categories": {
                **get_json(ref("Category"), "getCategory"),
                "post": {
                    "operationId": "createCategory",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": ref("Category")}}},
                    "responses": {
                        "201": {"description": "ok", "content": {"application/json": {"schema": ref("Category")}}}
                    },
                },
            }
        },
        {
            "Category": {
                "type": "object",
                "required": ["name", "parent"],
                "properties": {
                    "name": {"type": "string"},
                    "parent": ref("Category"),
                    "children": {"type": "array", "items": ref("Category")},
                    "special": ref("SpecialCategory"),
                },
            },
            "SpecialCategory": {
                "allOf": [ref("Category"), {"type": "object", "properties": {"badge": {"type": "string"}}}]
            },
        },
    )
    subgraph = translate(document)
    assert field_type(subgraph, "Category", "parent") == "Category!"
    assert field_type(subgraph, "SpecialCategory", "badge") == "String"
    assert field_type(subgraph, "SpecialCategory", "parent") == "Category!"
    # a required self-reference in input would be unsatisfiable: it stays nullable there
    assert field_type(subgraph, "CategoryInput", "parent") == "CategoryInput"
    assert field_type(subgraph, "CategoryInput", "children") == "[CategoryInput!]"


# -- polymorphism ------------------------------------------------------------------------------------------------


def polymorphic_document() -> dict[str, Any]:
    circle = {"type": "object", "required": ["radius"], "properties": {"radius": {"type": "number"}}}
    square = {"type": "object", "required": ["side"], "properties": {"side": {"type": "number"}}}
    rect = {
        "type": "object",
        "required": ["side", "height"],
        "properties": {"side": {"type": "number"}, "height": {"type": "number"}},
    }
    pet_base = {
        "type": "object",
        "required": ["petType"],
        "properties": {"petType": {"type": "string"}, "name": {"type": "string"}},
    }
    return openapi3(
        {
            "/shapes": get_json({"type": "array", "items": ref("Shape")}, "listShapes"),
            "/pets": get_json({"type": "array", "items": ref("Pet")}, "listPets"),
            "/things": get_json({"anyOf": [ref("Circle"), {"oneOf": [ref("Square"), ref("Circle")]}]}, "getThing"),
            "/mixed": get_json({"oneOf": [{"type": "string"}, {"type": "integer"}]}, "getMixed"),
            "/maybe": get_json(
                {"oneOf": [{"type": "string"}, {"type": "null"}]},
                "getMaybe",
            ),
            "/numbers": get_json({"oneOf": [{"type": "integer"}, {"type": "number"}]}, "getNumber"),
            "/shapes/new": {
                "post": {
                    "operationId": "addShape",
                    "requestBody": {"content": {"application/json": {"schema": ref("Shape")}}},
                    "responses": {"204": {"description": "ok"}},
                }
            },
        },
        {
            "Shape": {"oneOf": [ref("Circle"), ref("Square"), ref("Rect")]},
            "Circle": circle,
            "Square": square,
            "Rect": rect,
            "PetBase": pet_base,
            "Pet": {
                "oneOf": [ref("Cat"), ref("Dog"), ref("Lizard")],
                "discriminator": {
                    "propertyName": "petType",
                    "mapping": {"cat": "#/components/schemas/Cat", "dog": "Dog"},
                },
            },
            "Cat": {"allOf": [ref("PetBase"), {"type": "object", "properties": {"purrs": {"type": "boolean"}}}]},
            "Dog": {
                "allOf": [
                    ref("PetBase"),
                    {"type": "object", "required": ["barks"], "properties": {"barks": {"type": "boolean"}}},
                ]
            },
            "Lizard": {"allOf": [ref("PetBase"), {"properties": {"scales": {"type": "integer"}}}]},
        },
    )


def test_one_of_with_and_without_discriminator() -> None:
    subgraph = translate(polymorphic_document())
    schema = schema_of(subgraph)
    rest = subgraph.rest
    assert rest is not None
    shape = schema.get_type("Shape")
    assert isinstance(shape, GraphQLUnionType) and [t.name for t in shape.types] == ["Circle", "Square", "Rect"]
    no_disc = rest.discriminators["Shape"]
    assert no_disc.property_name is None
    assert no_disc.required == {"Circle": {"radius"}, "Square": {"side"}, "Rect": {"side", "height"}}
    pet = rest.discriminators["Pet"]
    assert pet.property_name == "petType"
    assert pet.mapping["cat"] == "Cat" and pet.mapping["dog"] == "Dog" and pet.mapping["Lizard"] == "Lizard"
    assert pet.required["Dog"] == {"petType", "barks"}
    # allOf merges the base into each member
    assert set(schema.get_type("Dog").fields) == {"petType", "name", "barks"}  # type: ignore[union-attr]
    assert field_type(subgraph, "Dog", "barks") == "Boolean!"
    # nested unions flatten into one union named after the operation
    thing = schema.get_type("GetThingResponse")
    assert isinstance(thing, GraphQLUnionType) and [t.name for t in thing.types] == ["Circle", "Square"]
    assert field_type(subgraph, "Query", "getMixed") == "JSON"
    assert field_type(subgraph, "Query", "getMaybe") == "String"
    assert field_type(subgraph, "Query", "getNumber") == "Float"
    shape_input = schema.mutation_type.fields["addShape"].args["input"].type  # type: ignore[union-attr]
    assert isinstance(shape_input, GraphQLInputObjectType) and shape_input.is_one_of  # a choice of its members
    assert {n: str(f.type) for n, f in shape_input.fields.items()} == {
        "circle": "CircleInput",
        "square": "SquareInput",
        "rect": "RectInput",
    }
    assert not any("POST /shapes/new request body" in w for w in subgraph.warnings)
    assert any("getMixed" not in w and "/mixed" in w for w in subgraph.warnings)


def test_discriminator_mapping_to_a_non_member_warns() -> None:
    document = polymorphic_document()
    document["components"]["schemas"]["Pet"]["discriminator"]["mapping"]["snake"] = "#/components/schemas/Circle"
    subgraph = translate(document)
    assert any("'snake'" in w and "not one of the oneOf/anyOf members" in w for w in subgraph.warnings)
    assert subgraph.rest is not None and "snake" not in subgraph.rest.discriminators["Pet"].mapping


# -- names -------------------------------------------------------------------------------------------------------


def test_odd_names_are_sanitized_readably() -> None:
    odd = {
        "type": "object",
        "properties": {
            "first-name": {"type": "string"},
            "2nd_line": {"type": "string"},
            "prénom": {"type": "string"},
            "名前": {"type": "string"},
            "__v": {"type": "integer"},
            "@type": {"type": "string"},
            "type": {"type": "string"},
            "on": {"type": "boolean"},
            "mode": {"type": "string", "enum": ["true", "", "a b", "ok", "OK", "x-y", "x_y"]},
        },
    }
    document = openapi3(
        {
            "/users/{user-id}": get_json(ref("user-profile"), "get_user-by ID"),
            "/a": get_json(ref("Query"), "getA"),
            "/b": get_json(ref("2fa"), "get a"),
            "/c": get_json(ref("Ünïcödé"), None),
            "/d/{id}/e": get_json(ref("2fa"), None),
            "/": get_json({"type": "string"}, None),
        },
        {
            "user-profile": odd,
            "Query": {"type": "object", "properties": {"x": {"type": "string"}}},
            "2fa": {"type": "object", "properties": {"x": {"type": "string"}}},
            "Ünïcödé": {"type": "object", "properties": {"x": {"type": "string"}}},
        },
    )
    subgraph = translate(document)
    rest = subgraph.rest
    assert rest is not None
    schema = schema_of(subgraph)
    assert set(schema.query_type.fields) == {"getUserByID", "getA", "getA2", "getC", "getDByIdE", "getRoot"}  # type: ignore[union-attr]
    assert rest.operations[("Query", "getUserByID")].parameters[0].argument == "userId"
    assert {"UserProfile", "QueryType", "_2fa", "Unicode"} <= set(schema.type_map)
    profile = schema.get_type("UserProfile")
    assert isinstance(profile, GraphQLObjectType)
    back = {gql: rest.json_names.get(("UserProfile", gql), gql) for gql in profile.fields}
    assert back == {
        "firstName": "first-name",
        "_2ndLine": "2nd_line",
        "prenom": "prénom",
        "_540d_524d": "名前",
        "v": "__v",
        "type2": "@type",
        "type": "type",
        "on": "on",
        "mode": "mode",
    }
    mode = schema.get_type("UserProfileMode")
    assert isinstance(mode, GraphQLEnumType)
    assert list(mode.values) == ["TRUE", "EMPTY", "a_b", "ok", "OK", "x_y2", "x_y"]
    assert rest.enum_values["UserProfileMode"] == {"TRUE": "true", "EMPTY": "", "a_b": "a b", "x_y2": "x-y"}


def test_operation_ids_win_over_generated_names_and_duplicates_are_numbered() -> None:
    document = openapi3(
        {
            "/holds": {
                "post": {"responses": {"204": {"description": "ok"}}},
                "get": {"responses": {"204": {"description": "ok"}}},
            },
            "/books/{isbn}": get_json({"type": "string"}, None),
            "/x": get_json({"type": "string"}, "postHolds"),
            "/y": get_json({"type": "string"}, "list-items"),
            "/z": get_json({"type": "string"}, "list_items"),
        }
    )
    subgraph = translate(document)
    rest = subgraph.rest
    assert rest is not None
    names = {(root, f): op.path for (root, f), op in rest.operations.items()}
    assert names == {
        ("Mutation", "postHolds2"): "/holds",  # the operationId elsewhere keeps its name
        ("Query", "getHolds"): "/holds",
        ("Query", "getBooksByIsbn"): "/books/{isbn}",
        ("Query", "postHolds"): "/x",
        ("Query", "listItems"): "/y",
        ("Query", "listItems2"): "/z",
    }


def test_yaml_keeps_yes_no_on_and_dates_as_strings() -> None:
    text = """
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /s:
    get:
      operationId: getS
      responses:
        200:
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  on: {type: string, enum: [yes, no, 2024-01-01]}
"""
    subgraph = translate(text)
    enum = schema_of(subgraph).get_type("GetSResponseOn")
    assert isinstance(enum, GraphQLEnumType) and list(enum.values) == ["yes", "no", "_2024_01_01"]


# -- responses and bodies --------------------------------------------------------------------------------------


def response_document() -> dict[str, Any]:
    def content(schema: Any, media: str = "application/json") -> dict[str, Any]:
        return {"description": "d", "content": {media: {"schema": schema}}}

    def op(responses: dict[str, Any], method: str = "get", **extra: Any) -> dict[str, Any]:
        return {method: {"responses": responses, **extra}}

    return openapi3(
        {
            "/created": op({"201": content(ref("Thing")), "400": content(ref("Error"))}, "post", operationId="created"),
            "/lowest": op({"202": content({"type": "integer"}), "200": content(ref("Thing"))}, operationId="lowest"),
            "/wild": op({"2XX": content(ref("Thing")), "5XX": content(ref("Error"))}, operationId="wild"),
            "/default": op({"default": content(ref("Thing"))}, operationId="onlyDefault"),
            "/none": op({}, operationId="noResponses"),
            "/errors": op({"404": content(ref("Error")), "500": {"description": "x"}}, operationId="onlyErrors"),
            "/text": op({"200": content({"type": "string"}, "text/csv")}, operationId="csv"),
            "/binary": op(
                {"200": content({"type": "string", "format": "binary"}, "application/pdf")}, operationId="pdf"
            ),
            "/noschema": op({"200": {"description": "d", "content": {"application/json": {}}}}, operationId="noSchema"),
            "/head": op({"200": content(ref("Thing"))}, "head", operationId="exists"),
            "/form": op(
                {"204": {"description": "ok"}},
                "put",
                operationId="putForm",
                requestBody={"content": {"application/x-www-form-urlencoded": {"schema": ref("Thing")}}},
            ),
            "/text-body": op(
                {"204": {"description": "ok"}},
                "patch",
                operationId="patchText",
                requestBody={"required": True, "content": {"text/plain": {}}},
            ),
        },
        {
            "Thing": {"type": "object", "properties": {"id": {"type": "string"}}},
            "Error": {"type": "object", "properties": {"message": {"type": "string"}}},
        },
    )


def test_every_response_code_and_body_kind() -> None:
    subgraph = translate(response_document())
    rest = subgraph.rest
    assert rest is not None
    types = {field: field_type(subgraph, root, field) for root, field in rest.operations}
    assert types == {
        "created": "Thing",
        "lowest": "JSON",  # 200 a Thing, 202 an integer: each answer passes as it is
        "wild": "Thing",
        "onlyDefault": "Thing",
        "noResponses": "Boolean",
        "onlyErrors": "Boolean",
        "csv": "String",
        "pdf": "JSON",
        "noSchema": "JSON",
        "exists": "Boolean",
        "putForm": "Boolean",
        "patchText": "Boolean",
    }
    assert rest.operations[("Query", "exists")].method == "HEAD"  # HEAD is a Query field, PUT/PATCH mutations
    assert rest.operations[("Mutation", "putForm")].content_type == "application/x-www-form-urlencoded"
    assert rest.operations[("Mutation", "patchText")].content_type == "text/plain"
    schema = schema_of(subgraph)
    assert str(schema.mutation_type.fields["patchText"].args["input"].type) == "String!"  # type: ignore[union-attr]
    warnings = "\n".join(subgraph.warnings)
    assert (
        "GET /lowest: 2xx responses have different bodies that are not all objects (200: Thing, 202: Int)" in warnings
    )
    assert "GET /default: no 2xx response" in warnings
    assert "application/pdf content is not JSON" in warnings


def test_free_form_objects_and_maps_become_json_with_warnings() -> None:
    document = openapi3(
        {
            "/free": get_json(
                {
                    "type": "object",
                    "properties": {
                        "anything": {},
                        "bag": {"type": "object"},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "typed": {
                            "type": "object",
                            "properties": {"a": {"type": "string"}},
                            "additionalProperties": True,
                        },
                        "list": {"type": "array"},
                        "nothing": {"type": "null"},
                    },
                },
                "getFree",
            )
        }
    )
    subgraph = translate(document)
    for prop in ("anything", "bag", "labels", "nothing"):
        assert field_type(subgraph, "GetFreeResponse", prop) == "JSON"
    assert field_type(subgraph, "GetFreeResponse", "list") == "[JSON]"
    assert field_type(subgraph, "GetFreeResponse", "typed") == "GetFreeResponseTyped"
    assert len(subgraph.warnings) == 5 and all(w.endswith("typed as JSON") for w in subgraph.warnings)


def test_spec_with_hundreds_of_operations() -> None:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for i in range(150):
        schemas[f"Resource{i}"] = {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": "string"},
                "next": ref(f"Resource{(i + 1) % 150}"),
                f"field-{i}": {"type": "integer"},
            },
        }
        paths[f"/resources-{i}/{{id}}"] = {
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {
                **({"operationId": f"get-resource-{i}"} if i % 3 else {}),
                "responses": {
                    "200": {"description": "ok", "content": {"application/json": {"schema": ref(f"Resource{i}")}}}
                },
            },
            "put": {
                "requestBody": {"content": {"application/json": {"schema": ref(f"Resource{i}")}}},
                "responses": {"204": {"description": "ok"}},
            },
        }
    document = openapi3(paths, schemas)
    first, second = translate(document), translate(document)
    schema = schema_of(first)
    assert len(schema.query_type.fields) == 150 and len(schema.mutation_type.fields) == 150  # type: ignore[union-attr]
    assert "getResource1" in schema.query_type.fields and "getResources0ById" in schema.query_type.fields  # type: ignore[union-attr]
    assert "putResources149ById" in schema.mutation_type.fields  # type: ignore[union-attr]
    assert field_type(first, "Resource149", "next") == "Resource0"
    assert print_schema(schema) == print_schema(schema_of(second))
    assert first.warnings == []


def test_no_get_operation_still_gives_a_valid_schema() -> None:
    document = openapi3({"/ping": {"post": {"operationId": "ping", "responses": {"204": {"description": "ok"}}}}})
    subgraph = translate(document)
    assert set(schema_of(subgraph).query_type.fields) == {"_empty"}  # type: ignore[union-attr]
    assert any("no GET operation" in w for w in subgraph.warnings)


# -- entities ----------------------------------------------------------------------------------------------------


def entity_document() -> dict[str, Any]:
    book = {
        "type": "object",
        "required": ["isbn"],
        "properties": {"isbn": {"type": "string"}, "title": {"type": "string"}},
    }
    isbn = {"name": "isbn", "in": "path", "required": True, "schema": {"type": "string"}}
    isbns = {"name": "isbns", "in": "query", "required": True, "schema": {"type": "array", "items": {"type": "string"}}}
    lang = {"name": "lang", "in": "query", "schema": {"type": "string"}}
    return openapi3(
        {
            "/books/{isbn}": get_json(ref("Book"), "getBook", parameters=[isbn, lang]),
            "/books": {
                **get_json({"type": "array", "items": ref("Book")}, "getBooks", parameters=[isbns]),
                "post": {
                    "operationId": "addBook",
                    "responses": {
                        "200": {"description": "ok", "content": {"application/json": {"schema": ref("Book")}}}
                    },
                },
            },
            "/lookup/{code}": get_json(ref("Book"), "lookup", parameters=[{**isbn, "name": "code"}, lang]),
            "/titles/{isbn}": get_json({"type": "string"}, "getTitle", parameters=[isbn]),
        },
        {"Book": book},
    )


def test_entities_infer_argument_and_batching() -> None:
    subgraph = translate(
        entity_document(),
        entities={"Book": EntityConfig(key="isbn", operation="getBooks")},
    )
    assert subgraph.resolvers["Book"] == EntityResolver("Book", "isbn", "getBooks", "isbns", batched=True)
    single = translate(entity_document(), entities={"Book": EntityConfig(key="isbn", operation="getBook")})
    assert single.resolvers["Book"] == EntityResolver("Book", "isbn", "getBook", "isbn", batched=False)
    explicit = translate(
        entity_document(), entities={"Book": EntityConfig(key="isbn", operation="lookup", argument="code")}
    )
    assert explicit.resolvers["Book"].argument == "code"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (EntityConfig(key="isbn", operation="nope"), "no operation with this operationId"),
        (EntityConfig(key="isbn", operation="addBook"), "only GET can fetch"),
        (EntityConfig(key="isbn", operation="getTitle"), "it returns String, not Book"),
        (EntityConfig(key="sku", operation="getBook"), "key field 'sku' is not a field of Book"),
        (EntityConfig(key="isbn", operation="lookup"), "cannot tell which parameter receives the key 'isbn'"),
        (EntityConfig(key="isbn", operation="getBook", argument="x"), "argument 'x' is not a path or query parameter"),
        (EntityConfig(key="isbn", operation="getBook", batched=True), "batched needs a list argument"),
        (EntityConfig(key="isbn", operation="getBooks", batched=False), "a single fetch needs a scalar argument"),
    ],
)
def test_entity_config_that_does_not_fit_is_refused(config: EntityConfig, message: str) -> None:
    with pytest.raises(SchemaError) as info:
        translate(entity_document(), entities={"Book": config}, name="catalog")
    assert message in str(info.value)
    assert str(info.value).startswith(f"service \"catalog\": entity 'Book' (operation {config.operation!r})")


# -- not OpenAPI -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("openapi: 3.0.0\npaths: [unclosed", "cannot parse the OpenAPI document: invalid YAML"),
        ('{"openapi": "3.0.0",', "cannot parse the OpenAPI document: invalid JSON at line 1"),
        ("[1, 2]", "expected a mapping at the top level, got list"),
        ("", "got an empty document"),
        ("scalar Date", "expected a mapping at the top level, got str"),
        ("info: {title: x}\npaths: {}", "neither an `openapi` nor a `swagger` field"),
        ("openapi: 4.0.0\npaths: {}", "unsupported OpenAPI version '4.0.0'"),
        ("swagger: '1.2'\npaths: {}", "unsupported Swagger version '1.2'"),
        ("openapi: 3.1.0\npaths: [1]", "`paths` must be a mapping"),
    ],
)
def test_documents_that_are_not_openapi_are_refused(text: str, message: str) -> None:
    with pytest.raises(SchemaError) as info:
        subgraph_from_openapi(SourceSpec("bad", SourceKind.OPENAPI, text))
    assert message in str(info.value) and str(info.value).startswith('service "bad"')


def test_yaml_and_json_forms_of_one_spec_agree() -> None:
    text = (SPECS / "orders.openapi.yaml").read_text(encoding="utf-8")
    from_yaml = spec_file("orders.openapi.yaml")
    from_json = translate(json.dumps(yaml.safe_load(text)))
    assert print_schema(schema_of(from_yaml)) == print_schema(schema_of(from_json))


def inheritance_document(subtype_first: bool) -> dict[str, Any]:
    def get(schema: Any, operation_id: str) -> dict[str, Any]:
        return {"get": {"operationId": operation_id, "responses": {"200": {"description": "ok", "schema": schema}}}}

    pets = {"/pets": get({"type": "array", "items": {"$ref": "#/definitions/Pet"}}, "listPets")}
    cats = {"/cats/{id}": get({"$ref": "#/definitions/Cat"}, "getCat")}
    cats["/cats/{id}"]["get"]["parameters"] = [{"name": "id", "in": "path", "required": True, "type": "string"}]
    base = {"$ref": "#/definitions/Pet"}
    return {
        "swagger": "2.0",
        "info": {"title": "pets", "version": "1"},
        "paths": {**cats, **pets} if subtype_first else {**pets, **cats},
        "definitions": {
            "Pet": {
                "type": "object",
                "discriminator": "petType",
                "required": ["name", "petType"],
                "properties": {"name": {"type": "string"}, "petType": {"type": "string"}},
            },
            "Cat": {"allOf": [base, {"type": "object", "properties": {"huntingSkill": {"type": "string"}}}]},
            "Dog": {"allOf": [base, {"required": ["packSize"], "properties": {"packSize": {"type": "integer"}}}]},
            "Fish": {"allOf": [base, {"properties": {"name": {"type": "integer"}}}]},
        },
    }


@pytest.mark.parametrize("subtype_first", [True, False])
def test_allof_inheritance_with_a_discriminator_becomes_an_interface(subtype_first: bool) -> None:
    subgraph = translate(inheritance_document(subtype_first))
    schema = schema_of(subgraph)
    pet = schema.get_type("Pet")
    assert isinstance(pet, GraphQLInterfaceType) and set(pet.fields) == {"name", "petType"}
    # Swagger 2: the base's own name is a valid discriminator value too, so the base is concrete as PetObject
    assert {t.name for t in schema.get_possible_types(pet)} == {"PetObject", "Cat", "Dog"}
    assert field_type(subgraph, "Query", "listPets") == "[Pet!]" and field_type(subgraph, "Query", "getCat") == "Cat"
    assert field_type(subgraph, "Dog", "packSize") == "Int!"
    assert subgraph.rest is not None
    disc = subgraph.rest.discriminators["Pet"]
    assert disc.property_name == "petType" and disc.mapping == {"Pet": "PetObject", "Cat": "Cat", "Dog": "Dog"}
    assert any("Fish redefines name of Pet" in w for w in subgraph.warnings)


def test_allof_members_that_only_constrain_and_broken_members() -> None:
    document = openapi3(
        {
            "/a": {
                "get": {
                    "operationId": "getA",
                    "responses": {
                        "200": {"description": "d", "content": {"application/json": {"schema": ref("Strict")}}},
                        "201": {"description": "d", "content": {"application/json": {"schema": ref("Strict")}}},
                    },
                }
            },
            "/b": get_json({"allOf": [ref("Base"), {"$ref": "#/components/schemas/Gone"}]}, "getB"),
        },
        {
            "Base": {"type": "object", "properties": {"id": {"type": "string"}, "note": {"type": "string"}}},
            "Strict": {"allOf": [ref("Base"), {"type": "object", "required": ["id"], "description": "id is required"}]},
        },
    )
    subgraph = translate(document)
    assert field_type(subgraph, "Strict", "id") == "String!" and field_type(subgraph, "Strict", "note") == "String"
    assert field_type(subgraph, "Query", "getB") == "JSON"
    assert not any("differ" in w for w in subgraph.warnings)  # 200 and 201 share one schema


# -- whatever the schemas, the result is a valid GraphQL schema ---------------------------------------------------

_NAMES = ["Pet", "pet-type", "2fa", "Query", "Ünï", "a_b"]
_PROPS = st.sampled_from(["id", "name", "type", "kind", "first-name", "2nd", "__v", "@id", "ünï", "on"])
_LEAVES = st.one_of(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["string", "integer", "number", "boolean", "null", "object", "array", "file", "x"])}
    ),
    st.builds(lambda n: {"$ref": f"#/components/schemas/{n}"}, st.sampled_from([*_NAMES, "Missing"])),
    st.just({}),
    st.builds(
        lambda values: {"enum": values},
        st.lists(st.one_of(st.text(max_size=4), st.integers(), st.none(), st.booleans()), max_size=4),
    ),
    st.builds(lambda value: {"const": value}, st.one_of(st.text(max_size=3), st.integers(), st.none())),
    st.builds(lambda t: {"type": [t, "null"]}, st.sampled_from(["string", "integer", "object"])),
)
_SCHEMAS = st.recursive(
    _LEAVES,
    lambda children: st.one_of(
        st.builds(
            lambda props, required, extra: {"type": "object", "properties": props, "required": required, **extra},
            st.dictionaries(_PROPS, children, max_size=4),
            st.lists(_PROPS, max_size=2),
            st.sampled_from([{}, {"nullable": True}, {"additionalProperties": True}, {"readOnly": True}]),
        ),
        st.builds(lambda items: {"type": "array", "items": items}, children),
        st.builds(lambda members: {"oneOf": members}, st.lists(children, max_size=3)),
        st.builds(lambda members: {"anyOf": members}, st.lists(children, max_size=3)),
        st.builds(lambda members: {"allOf": members}, st.lists(children, max_size=3)),
        st.builds(
            lambda members, prop: {"oneOf": members, "discriminator": {"propertyName": prop}},
            st.lists(children, min_size=1, max_size=3),
            _PROPS,
        ),
        st.builds(
            lambda prop, props: {"type": "object", "discriminator": {"propertyName": prop}, "properties": props},
            _PROPS,
            st.dictionaries(_PROPS, children, min_size=1, max_size=3),
        ),
    ),
    max_leaves=10,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    components=st.fixed_dictionaries({n: _SCHEMAS for n in _NAMES}),
    response=_SCHEMAS,
    body=_SCHEMAS,
    parameter=_SCHEMAS,
    version=st.sampled_from(["3.0.3", "3.1.0"]),
)
def test_any_schema_gives_a_valid_graphql_schema(
    components: dict[str, Any], response: Any, body: Any, parameter: Any, version: str
) -> None:
    def op(method: str, **extra: Any) -> dict[str, Any]:
        ok = {"description": "d", "content": {"application/json": {"schema": response}}}
        return {method: {"responses": {"200": ok}, **extra}}

    document = openapi3(
        {
            "/things/{id}": {
                **op("get", parameters=[{"name": "id", "in": "path", "required": True, "schema": parameter}]),
                **op("post", requestBody={"content": {"application/json": {"schema": body}}}),
            },
            "/things": op("get", parameters=[{"name": "q-x", "in": "query", "schema": parameter}]),
        },
        components,
        version=version,
    )
    first = translate(document)  # asserts validate_schema() == [] and that the schema prints
    assert print_schema(schema_of(first)) == print_schema(schema_of(translate(document)))
