"""Polymorphic REST answers pick their concrete type (discriminator mapping, Azure's x-ms-discriminator-value,
else the properties present), subtype fields reach the client, and subtypes can be sent in input; through Loom
against a real upstream on loopback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from graphql import GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

from tests.stitcher.rest_gateway import get_json, openapi, run, supergraph_of, upstream
from tests.stitcher.upstreams.scripted import ScriptedRestApp

__all__ = ["upstream"]  # the fixture


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def pets_document() -> dict[str, Any]:
    base = {
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": {"type": "string"}, "name": {"type": "string"}},
    }
    return openapi(
        {
            "/pets": {
                **get_json("listPets", {"type": "array", "items": ref("Pet")}),
                "post": {
                    "operationId": "addPet",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": ref("Pet")}}},
                    "responses": {
                        "201": {"description": "made", "content": {"application/json": {"schema": ref("Pet")}}}
                    },
                },
            },
        },
        {
            "Pet": {
                "oneOf": [ref("Cat"), ref("Dog")],
                "discriminator": {
                    "propertyName": "kind",
                    "mapping": {"feline": "#/components/schemas/Cat", "canine": "Dog"},
                },
            },
            "Base": base,
            # Both declare `lives` and `name`: only the discriminator's value can tell a Cat from a Dog.
            "Cat": {
                "allOf": [ref("Base"), {"properties": {"lives": {"type": "integer"}, "purrs": {"type": "boolean"}}}]
            },
            "Dog": {
                "allOf": [ref("Base"), {"properties": {"lives": {"type": "integer"}, "barks": {"type": "boolean"}}}]
            },
        },
    )


PETS_QUERY = """{ listPets { __typename ... on Cat { name lives purrs } ... on Dog { name lives barks } } }"""


async def test_a_discriminator_mapping_decides_the_type_and_subtype_fields_reach_the_client(
    upstream: tuple[ScriptedRestApp, str],
) -> None:
    app, url = upstream
    supergraph = supergraph_of(pets_document(), url)
    app.answer(
        "GET",
        "/pets",
        [
            {"kind": "canine", "name": "Rex", "lives": 1, "barks": True},
            {"kind": "feline", "name": "Tom", "lives": 9},  # looks like either: the mapping says Cat
            {"kind": "Dog", "name": "Fido", "lives": 1},  # the schema's name works too
        ],
    )
    response = await run(supergraph, PETS_QUERY)
    assert response.errors is None
    assert response.data == {
        "listPets": [
            {"__typename": "Dog", "name": "Rex", "lives": 1, "barks": True},
            {"__typename": "Cat", "name": "Tom", "lives": 9, "purrs": None},
            {"__typename": "Dog", "name": "Fido", "lives": 1, "barks": None},
        ]
    }


async def test_a_subtype_is_sent_through_a_one_of_input_with_its_discriminator_value(
    upstream: tuple[ScriptedRestApp, str],
) -> None:
    app, url = upstream
    supergraph = supergraph_of(pets_document(), url)
    pet_input = supergraph.schema.get_type("PetInput")
    assert isinstance(pet_input, GraphQLInputObjectType) and pet_input.is_one_of
    assert set(pet_input.fields) == {"cat", "dog"}
    app.answer("POST", "/pets", {"kind": "feline", "name": "Tom", "purrs": True}, status=201)
    mutation = "mutation($pet: PetInput!) { addPet(input: $pet) { __typename ... on Cat { name purrs } } }"
    response = await run(supergraph, mutation, {"pet": {"cat": {"name": "Tom", "purrs": True}}})
    assert response.errors is None
    assert response.data == {"addPet": {"__typename": "Cat", "name": "Tom", "purrs": True}}
    assert json.loads(app.received[-1].body) == {"kind": "feline", "name": "Tom", "purrs": True}
    # two members at once is refused before anything is sent
    sent = len(app.received)
    refused = await run(supergraph, mutation, {"pet": {"cat": {"name": "a"}, "dog": {"name": "b"}}})
    assert refused.errors is not None and "exactly one field" in refused.errors[0]["message"]
    assert len(app.received) == sent


def azure_document() -> dict[str, Any]:
    """Azure's style: Swagger 2.0 inheritance, `x-ms-discriminator-value` on each subtype, a subtype of a subtype."""

    def definition(name: str) -> dict[str, str]:
        return {"$ref": f"#/definitions/{name}"}

    return {
        "swagger": "2.0",
        "info": {"title": "resources", "version": "1"},
        "paths": {
            "/resources": {
                "get": {
                    "operationId": "Resources_List",
                    "responses": {
                        "200": {"description": "ok", "schema": {"type": "array", "items": definition("Resource")}}
                    },
                },
                "put": {
                    "operationId": "Resources_Create",
                    "parameters": [
                        {"name": "resource", "in": "body", "required": True, "schema": definition("Resource")}
                    ],
                    "responses": {"200": {"description": "ok", "schema": definition("Resource")}},
                },
            }
        },
        "definitions": {
            "Resource": {
                "type": "object",
                "discriminator": "type",
                "required": ["type"],
                "properties": {"type": {"type": "string"}, "id": {"type": "string"}},
            },
            "VirtualMachine": {
                "x-ms-discriminator-value": "Microsoft.Compute/virtualMachines",
                "allOf": [definition("Resource"), {"properties": {"size": {"type": "string"}}}],
            },
            "ScaleSet": {
                "x-ms-discriminator-value": "Microsoft.Compute/virtualMachineScaleSets",
                "allOf": [definition("VirtualMachine"), {"properties": {"capacity": {"type": "integer"}}}],
            },
            "Disk": {
                "x-ms-discriminator-value": "Microsoft.Compute/disks",
                "allOf": [definition("Resource"), {"properties": {"sizeGb": {"type": "integer"}}}],
            },
        },
    }


async def test_azure_discriminator_values_and_subtypes_of_subtypes(upstream: tuple[ScriptedRestApp, str]) -> None:
    app, url = upstream
    supergraph = supergraph_of(azure_document(), url)
    resource = supergraph.schema.get_type("Resource")
    assert isinstance(resource, GraphQLInterfaceType)
    possible = {t.name for t in supergraph.schema.get_possible_types(resource)}
    assert possible == {"ResourceObject", "VirtualMachine", "ScaleSet", "Disk"}  # Swagger 2: "Resource" is a value
    scale_set = supergraph.schema.get_type("ScaleSet")
    assert isinstance(scale_set, GraphQLObjectType) and set(scale_set.fields) == {"type", "id", "size", "capacity"}
    app.answer(
        "GET",
        "/resources",
        [
            {"type": "Microsoft.Compute/virtualMachineScaleSets", "id": "s", "size": "L", "capacity": 3},
            {"type": "Microsoft.Compute/disks", "id": "d", "sizeGb": 128},
            {"type": "Microsoft.Compute/virtualMachines", "id": "v", "size": "S"},
        ],
    )
    query = """{ resourcesList { __typename id ... on VirtualMachine { size } ... on ScaleSet { size capacity }
                 ... on Disk { sizeGb } } }"""
    response = await run(supergraph, query)
    assert response.errors is None
    assert response.data == {
        "resourcesList": [
            {"__typename": "ScaleSet", "id": "s", "size": "L", "capacity": 3},
            {"__typename": "Disk", "id": "d", "sizeGb": 128},
            {"__typename": "VirtualMachine", "id": "v", "size": "S"},
        ]
    }
    app.answer("PUT", "/resources", {"type": "Microsoft.Compute/disks", "id": "d2", "sizeGb": 64})
    mutation = 'mutation { resourcesCreate(input: {disk: {id: "d2", sizeGb: 64}}) { __typename id } }'
    response = await run(supergraph, mutation)
    assert response.errors is None and response.data == {"resourcesCreate": {"__typename": "Disk", "id": "d2"}}
    assert json.loads(app.received[-1].body) == {"type": "Microsoft.Compute/disks", "id": "d2", "sizeGb": 64}


async def test_without_a_discriminator_the_properties_present_decide(upstream: tuple[ScriptedRestApp, str]) -> None:
    """Both members require only `id`: the required properties cannot tell them apart, the others present can."""
    app, url = upstream
    card = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}, "pan": {"type": "string"}}}
    bank = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}, "iban": {"type": "string"}}}
    document = openapi(
        {"/methods": get_json("methods", {"type": "array", "items": ref("Method")})},
        {"Method": {"oneOf": [ref("Card"), ref("Bank")]}, "Card": card, "Bank": bank},
    )
    supergraph = supergraph_of(document, url)
    app.answer("GET", "/methods", [{"id": "1", "iban": "DE00"}, {"id": "2", "pan": "4111"}, {"id": "3"}])
    query = "{ methods { __typename ... on Card { id pan } ... on Bank { id iban } } }"
    response = await run(supergraph, query)
    assert response.errors is None
    assert response.data == {
        "methods": [
            {"__typename": "Bank", "id": "1", "iban": "DE00"},
            {"__typename": "Card", "id": "2", "pan": "4111"},
            {"__typename": "Card", "id": "3", "pan": None},  # nothing tells them apart: the first member
        ]
    }


async def test_a_base_that_names_itself_is_a_concrete_type_too(upstream: tuple[ScriptedRestApp, str]) -> None:
    """Azure: a base with its own x-ms-discriminator-value is answered as itself, not as a subtype."""
    app, url = upstream
    document = azure_document()
    document["definitions"]["Resource"]["x-ms-discriminator-value"] = "Microsoft.Resources/generic"
    supergraph = supergraph_of(document, url)
    resource = supergraph.schema.get_type("Resource")
    assert isinstance(resource, GraphQLInterfaceType)
    possible = {t.name for t in supergraph.schema.get_possible_types(resource)}
    assert possible == {"ResourceObject", "VirtualMachine", "ScaleSet", "Disk"}
    app.answer(
        "GET",
        "/resources",
        [{"type": "Microsoft.Resources/generic", "id": "g"}, {"type": "Microsoft.Compute/disks", "id": "d"}],
    )
    response = await run(supergraph, "{ resourcesList { __typename id } }")
    assert response.errors is None
    assert response.data == {
        "resourcesList": [{"__typename": "ResourceObject", "id": "g"}, {"__typename": "Disk", "id": "d"}]
    }


def implicit_pets_document(swagger: bool, mapping: dict[str, str] | None = None) -> dict[str, Any]:
    """Inheritance without explicit discriminator values: Cat and Dog extend Pet through allOf, and Pet's
    discriminator is a bare property name (Swagger 2) or has no mapping (OpenAPI 3)."""
    prefix = "#/definitions/" if swagger else "#/components/schemas/"

    def schema_ref(name: str) -> dict[str, str]:
        return {"$ref": prefix + name}

    discriminator: Any = "petType" if swagger else {"propertyName": "petType"}
    if mapping is not None:
        discriminator["mapping"] = {value: prefix + name for value, name in mapping.items()}
    schemas = {
        "Pet": {
            "type": "object",
            "discriminator": discriminator,
            "required": ["petType", "name"],
            "properties": {"petType": {"type": "string"}, "name": {"type": "string"}},
        },
        "Cat": {"allOf": [schema_ref("Pet"), {"properties": {"purrs": {"type": "boolean"}}}]},
        "Dog": {"allOf": [schema_ref("Pet"), {"properties": {"barks": {"type": "boolean"}}}]},
    }
    if swagger:
        ok = {"description": "ok", "schema": {"type": "array", "items": schema_ref("Pet")}}
        body = [{"name": "pet", "in": "body", "required": True, "schema": schema_ref("Pet")}]
        created = {"description": "made", "schema": schema_ref("Pet")}
        return {
            "swagger": "2.0",
            "info": {"title": "pets", "version": "1"},
            "paths": {
                "/pets": {
                    "get": {"operationId": "listPets", "responses": {"200": ok}},
                    "post": {"operationId": "addPet", "parameters": body, "responses": {"201": created}},
                }
            },
            "definitions": schemas,
        }
    return openapi(
        {
            "/pets": {
                **get_json("listPets", {"type": "array", "items": schema_ref("Pet")}),
                "post": {
                    "operationId": "addPet",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": schema_ref("Pet")}}},
                    "responses": {
                        "201": {"description": "made", "content": {"application/json": {"schema": schema_ref("Pet")}}}
                    },
                },
            }
        },
        schemas,
    )


@pytest.mark.parametrize("swagger", [True, False], ids=["swagger-2", "openapi-3-without-mapping"])
async def test_without_explicit_values_each_schema_is_named_by_its_own_name_the_base_too(
    upstream: tuple[ScriptedRestApp, str], swagger: bool
) -> None:
    """Swagger 2 (and OpenAPI 3's implicit mapping): a subtype's discriminator value is its definition name, and
    the base's own name is a valid value too: the base is a concrete type (PetObject) and a member of the input."""
    app, url = upstream
    supergraph = supergraph_of(implicit_pets_document(swagger), url)
    pet = supergraph.schema.get_type("Pet")
    assert isinstance(pet, GraphQLInterfaceType)
    assert {t.name for t in supergraph.schema.get_possible_types(pet)} == {"PetObject", "Cat", "Dog"}
    app.answer(
        "GET",
        "/pets",
        [
            {"petType": "Cat", "name": "Tom", "purrs": True},
            {"petType": "Pet", "name": "Generic"},
            {"petType": "Dog", "name": "Rex", "purrs": True},  # looks like a Cat: the value says Dog
        ],
    )
    query = "{ listPets { __typename name ... on Cat { purrs } ... on Dog { barks } } }"
    response = await run(supergraph, query)
    assert response.errors is None
    assert response.data == {
        "listPets": [
            {"__typename": "Cat", "name": "Tom", "purrs": True},
            {"__typename": "PetObject", "name": "Generic"},
            {"__typename": "Dog", "name": "Rex", "barks": None},
        ]
    }
    pet_input = supergraph.schema.get_type("PetInput")
    assert isinstance(pet_input, GraphQLInputObjectType) and pet_input.is_one_of
    assert set(pet_input.fields) == {"pet", "cat", "dog"}
    mutation = "mutation($pet: PetInput!) { addPet(input: $pet) { __typename name } }"
    for chosen, value in (("pet", "Pet"), ("dog", "Dog")):
        app.answer("POST", "/pets", {"petType": value, "name": "Nemo"}, status=201)
        response = await run(supergraph, mutation, {"pet": {chosen: {"name": "Nemo"}}})
        assert response.errors is None
        typename = "PetObject" if value == "Pet" else value
        assert response.data == {"addPet": {"__typename": typename, "name": "Nemo"}}
        assert json.loads(app.received[-1].body) == {"petType": value, "name": "Nemo"}  # the value defaults


def test_an_explicit_mapping_that_does_not_name_the_base_keeps_it_abstract() -> None:
    """OpenAPI 3 with a mapping: only the values it lists (and the subtypes' names) count, so no PetObject."""
    supergraph = supergraph_of(implicit_pets_document(False, {"cat": "Cat", "dog": "Dog"}), "http://pets.test")
    assert supergraph.schema.get_type("PetObject") is None
    pet_input = supergraph.schema.get_type("PetInput")
    assert isinstance(pet_input, GraphQLInputObjectType) and set(pet_input.fields) == {"cat", "dog"}
