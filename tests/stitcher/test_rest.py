"""REST fetches: requests built from GraphQL arguments, responses shaped back into GraphQL values."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import pytest
from graphql import GraphQLObjectType, GraphQLOutputType

from stitcher import Subgraph
from stitcher.errors import StitcherError
from stitcher.rest import (
    InvalidValue,
    RestRequest,
    RestResponseError,
    RestStatusError,
    build_request,
    check_status,
    settle,
    shape_result,
    shape_value,
)
from tests.stitcher.test_openapi import (
    inheritance_document,
    openapi3,
    polymorphic_document,
    ref,
    response_document,
    spec_file,
    translate,
)


@pytest.fixture(scope="module")
def orders() -> Subgraph:
    return spec_file("orders.openapi.yaml")


@pytest.fixture(scope="module")
def petstore() -> Subgraph:
    return spec_file("petstore.swagger.yaml")


def return_type(subgraph: Subgraph, root: str, field: str) -> GraphQLOutputType:
    assert subgraph.schema is not None
    root_type = subgraph.schema.get_type(root)
    assert isinstance(root_type, GraphQLObjectType)
    field_type: GraphQLOutputType = root_type.fields[field].type
    return field_type


def body_json(request: RestRequest) -> Any:
    assert request.body is not None
    return json.loads(request.body)


# -- build_request -------------------------------------------------------------------------------------------------


def test_path_query_header_parameters(orders: Subgraph) -> None:
    request = build_request(
        orders,
        "Query",
        "listOrders",
        {"pageSize": 10, "status": "_2fa_pending", "ids": ["a", "b,c"], "xTenantId": "acme"},
    )
    assert request.method == "GET" and request.path == "/api/v3/orders"
    # query values are sent percent-encoded: the comma inside an item is not a separator
    assert request.query == [("page-size", "10"), ("status", "2fa-pending"), ("ids", "a,b%2Cc")]
    assert request.url("http://up/") == "http://up/api/v3/orders?page-size=10&status=2fa-pending&ids=a,b%2Cc"
    assert request.headers["X-Tenant-Id"] == "acme" and request.headers["Accept"] == "application/json"
    assert request.body is None and "Content-Type" not in request.headers
    # path values are percent-encoded, slashes included; unset optional parameters are left out
    cancel = build_request(orders, "Mutation", "cancelOrder", {"orderId": "A/1 ü?", "reason": None})
    assert (cancel.method, cancel.path, cancel.query) == ("DELETE", "/api/v3/orders/A%2F1%20%C3%BC%3F", [])
    cancel = build_request(orders, "Mutation", "cancelOrder", {"orderId": "7", "reason": "out_of_stock"})
    assert cancel.query == [("reason", "out%20of%20stock")]


def test_arrays_follow_explode_and_booleans_are_lowercase(petstore: Subgraph) -> None:
    multi = build_request(petstore, "Query", "findPetsByStatus", {"status": ["available", "sold"]})
    assert multi.query == [("status", "available"), ("status", "sold")]
    assert multi.path == "/v2/pet/findByStatus"
    csv = build_request(petstore, "Query", "findPetsByTags", {"tags": ["x", "y"]})
    assert csv.query == [("tags", "x,y")]
    document = openapi3(
        {
            "/flags/{ids}": {
                "get": {
                    "operationId": "flags",
                    "parameters": [
                        {
                            "name": "ids",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "array", "items": {"type": "integer"}},
                        },
                        {"name": "on", "in": "query", "schema": {"type": "boolean"}},
                        {"name": "session", "in": "cookie", "schema": {"type": "string"}},
                        {"name": "theme", "in": "cookie", "schema": {"type": "string"}},
                    ],
                    "responses": {"204": {"description": "ok"}},
                }
            }
        }
    )
    flags = build_request(
        translate(document), "Query", "flags", {"ids": [1, 2], "on": False, "session": "a b", "theme": "dark"}
    )
    assert (flags.path, flags.query) == ("/flags/1,2", [("on", "false")])
    assert flags.headers["Cookie"] == "session=a%20b; theme=dark"


def test_json_body_uses_original_property_names_and_enum_values(orders: Subgraph) -> None:
    order = {
        "status": "_2fa_pending",
        "lines": [{"sku": "b-1", "quantity": 2, "unitPrice": {"amount": "9.50", "currency": "EUR"}}],
        "total": {"amount": "19.00", "currency": "EUR"},
        "notes": None,
    }
    request = build_request(orders, "Mutation", "createOrder", {"input": order})
    assert (request.method, request.path, request.headers["Content-Type"]) == (
        "POST",
        "/api/v3/orders",
        "application/json",
    )
    assert body_json(request) == {
        "status": "2fa-pending",
        "lines": [{"sku": "b-1", "quantity": 2, "unit-price": {"amount": "9.50", "currency": "EUR"}}],
        "total": {"amount": "19.00", "currency": "EUR"},
        "notes": None,
    }


def test_form_and_multipart_bodies(petstore: Subgraph) -> None:
    form = build_request(
        petstore,
        "Mutation",
        "updatePetWithForm",
        {"petId": 9007199254740993, "input": {"name": "Rex & co", "status": "sold"}},
    )
    assert form.path == "/v2/pet/9007199254740993"
    assert form.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form.body is not None and parse_qsl(form.body.decode()) == [("name", "Rex & co"), ("status", "sold")]
    upload = build_request(
        petstore, "Mutation", "uploadFile", {"petId": 1, "input": {"additionalMetadata": "front", "file": "PNG..."}}
    )
    content_type = upload.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=")[1]
    assert upload.body is not None
    parts = upload.body.decode().split(f"--{boundary}")
    assert parts[0] == "" and parts[-1] == "--\r\n"
    assert parts[1] == '\r\nContent-Disposition: form-data; name="additionalMetadata"\r\n\r\nfront\r\n'
    assert parts[2] == '\r\nContent-Disposition: form-data; name="file"\r\n\r\nPNG...\r\n'
    header = build_request(petstore, "Mutation", "deletePet", {"petId": 3, "api_key": "k"})
    assert (header.method, header.headers["api_key"], header.body) == ("DELETE", "k", None)


def test_text_body_is_sent_as_is() -> None:
    subgraph = translate(response_document())
    request = build_request(subgraph, "Mutation", "patchText", {"input": "héllo"})
    assert (request.body, request.headers["Content-Type"]) == ("héllo".encode(), "text/plain")


def test_bad_calls_are_refused_with_a_clear_error(orders: Subgraph) -> None:
    with pytest.raises(StitcherError, match=r"Query.nope"):
        build_request(orders, "Query", "nope", {})
    with pytest.raises(StitcherError, match=r"path parameter 'order-id' needs a value"):
        build_request(orders, "Query", "getOrder", {})
    not_rest = Subgraph(name="g", kind=orders.kind, schema=None)
    with pytest.raises(StitcherError, match=r"'g' is not a REST"):
        build_request(not_rest, "Query", "x", {})


# -- shape_result --------------------------------------------------------------------------------------------------


def test_shapes_names_typenames_enums_and_leaves_json_alone(orders: Subgraph) -> None:
    upstream = {
        "items": [
            {
                "id": "o1",
                "status": "2fa-pending",
                "lines": [{"sku": "s", "quantity": 1, "unit-price": {"amount": "1", "currency": "GBP"}, "extra": 1}],
                "total": {"amount": "1", "currency": "GBP"},
            }
        ],
        "next-cursor": None,
    }
    shaped = shape_result(orders, return_type(orders, "Query", "listOrders"), json.dumps(upstream).encode())
    assert shaped == {
        "__typename": "OrderPage",
        "items": [
            {
                "__typename": "Order",
                "id": "o1",
                "status": "_2fa_pending",
                "lines": [
                    {
                        "__typename": "OrderLine",
                        "sku": "s",
                        "quantity": 1,
                        "unitPrice": {"__typename": "Money", "amount": "1", "currency": "GBP"},
                    }
                ],
                "total": {"__typename": "Money", "amount": "1", "currency": "GBP"},
                "shipping": None,
            }
        ],
        "nextCursor": None,
    }
    library = spec_file("library.openapi31.json")
    item = {"id": "i", "kind": "book", "weight": ["12", {"unit": "g"}], "meta": {"any": [1, None]}}
    shaped_items = shape_value(library, return_type(library, "Query", "listItems"), [item])
    assert shaped_items[0]["weight"] == ["12", {"unit": "g"}] and shaped_items[0]["meta"] == {"any": [1, None]}
    tree = {"label": "root", "children": [{"label": "leaf", "parent": {"label": "root"}}]}
    shaped_tree = shape_value(library, return_type(library, "Query", "getShelfTree"), tree)
    assert shaped_tree["children"][0]["parent"] == {
        "__typename": "Node",
        "label": "root",
        "parent": None,
        "children": None,
    }


def test_unions_resolve_by_discriminator_then_required_properties() -> None:
    subgraph = translate(polymorphic_document())
    pets = [
        {"petType": "cat", "name": "Tom", "purrs": True},
        {"petType": "dog", "name": "Rex", "barks": False},
        {"petType": "Lizard", "scales": 200},
        {"petType": "unknown", "barks": True},  # no mapping: Dog is the one whose required properties are present
    ]
    shaped = shape_value(subgraph, return_type(subgraph, "Query", "listPets"), pets)
    assert [p["__typename"] for p in shaped] == ["Cat", "Dog", "Lizard", "Dog"]
    assert shaped[0] == {"__typename": "Cat", "petType": "cat", "name": "Tom", "purrs": True}
    shapes = [{"radius": 1.5}, {"side": 2}, {"side": 2, "height": 3}, {"colour": "red"}]
    shaped_shapes = shape_value(subgraph, return_type(subgraph, "Query", "listShapes"), shapes)
    # the largest matching required set wins (Rect over Square); nothing matching falls back to the first type
    assert [s["__typename"] for s in shaped_shapes] == ["Circle", "Square", "Rect", "Circle"]


def test_catalog_union_by_discriminator_value() -> None:
    catalog = spec_file("catalog.openapi.yaml")
    body = b'[{"isbn": "1", "title": "T", "format": {"kind": "ebook", "sizeKb": 12}}]'
    shaped = shape_result(catalog, return_type(catalog, "Query", "listBooks"), body)
    assert shaped[0]["format"] == {"__typename": "Ebook", "kind": "ebook", "sizeKb": 12}


def test_no_content_text_and_scalars() -> None:
    subgraph = translate(response_document())
    boolean = return_type(subgraph, "Query", "exists")
    assert shape_result(subgraph, boolean, b"") is True
    assert shape_result(subgraph, boolean, b"whatever the server said") is True
    assert shape_result(subgraph, return_type(subgraph, "Query", "csv"), b"a,b\n1,2\n") == "a,b\n1,2\n"
    assert shape_result(subgraph, return_type(subgraph, "Query", "lowest"), b"") is None
    assert shape_result(subgraph, return_type(subgraph, "Query", "noSchema"), b'{"x": [1]}') == {"x": [1]}
    boolean_schema = translate(
        openapi3(
            {
                "/b": {
                    "get": {
                        "operationId": "b",
                        "responses": {
                            "200": {
                                "description": "d",
                                "content": {"application/json": {"schema": {"type": "boolean"}}},
                            }
                        },
                    }
                }
            }
        )
    )
    assert shape_result(boolean_schema, return_type(boolean_schema, "Query", "b"), b"false") is False


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>oops</html>", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[]", "expected an object at the top"),
    ],
)
def test_garbage_bodies_raise_a_response_error(orders: Subgraph, body: bytes, message: str) -> None:
    with pytest.raises(RestResponseError, match=message):
        shape_result(orders, return_type(orders, "Query", "listOrders"), body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"items": {"id": 1}}', "Expected Iterable, but did not find one for field 'OrderPage.items'."),
        (b'{"items": [3]}', "expected an object at .items[0], got int"),
    ],
)
def test_a_misshapen_part_of_a_body_is_an_invalid_value_there(orders: Subgraph, body: bytes, message: str) -> None:
    """Only the part that does not fit is lost (a field error at its path); the rest of the answer stays."""
    found: list[InvalidValue] = []
    shaped = shape_result(orders, return_type(orders, "Query", "listOrders"), body, found)
    assert [f.message for f in found] == [message]
    settled, errors = settle(shaped)
    assert settled["__typename"] == "OrderPage" and errors == [(["items", 0] if b"[3]" in body else ["items"], message)]


def test_round_trip_create_then_read_back(orders: Subgraph) -> None:
    """What a client sends through createOrder comes back unchanged when the upstream echoes it (plus its id)."""
    order = {
        "status": "_2fa_pending",
        "lines": [{"sku": "x-1", "quantity": 3, "unitPrice": {"amount": "2.00", "currency": "USD"}}],
        "total": {"amount": "6.00", "currency": "USD"},
        "shipping": {"street": "Main St 1", "country": {"code": "DE", "name": None}},
    }
    request = build_request(orders, "Mutation", "createOrder", {"input": order})
    stored = {**body_json(request), "id": "o-9"}  # the upstream stores the JSON it got and adds an id
    echoed = shape_result(orders, return_type(orders, "Mutation", "createOrder"), json.dumps(stored).encode())

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "__typename"}
        return [strip(v) for v in value] if isinstance(value, list) else value

    assert strip(echoed) == {**order, "id": "o-9"}
    assert echoed["shipping"]["country"]["__typename"] == "Country"


# -- check_status --------------------------------------------------------------------------------------------------


def test_check_status_passes_2xx_and_summarises_errors() -> None:
    for status in (200, 201, 204, 299):
        check_status(status, b"")
    with pytest.raises(RestStatusError) as info:
        check_status(404, b'{"title": "Not Found", "detail": "no order o-1", "status": 404}')
    error = info.value
    assert (error.status, error.summary) == (404, "no order o-1")
    assert str(error) == "upstream responded 404 Not Found: no order o-1"
    assert error.body == {"title": "Not Found", "detail": "no order o-1", "status": 404}
    assert error.extensions == {"code": "UPSTREAM_HTTP_ERROR", "status": 404}
    with pytest.raises(RestStatusError) as info:
        check_status(500, b"<html>\n<body>" + b"x" * 1000 + b"</body></html>")
    assert info.value.summary.startswith("<html> <body>xxx") and len(info.value.summary) == 200
    assert info.value.body is None
    with pytest.raises(RestStatusError, match=r"^upstream responded 503 Service Unavailable$"):
        check_status(503, b"")
    with pytest.raises(RestStatusError, match=r"^upstream responded 599 Unknown Status: \[1\]$"):
        check_status(599, b"[1]")
    with pytest.raises(RestStatusError, match=r"301 Moved Permanently"):
        check_status(301, b"")


def test_shape_result_on_a_generated_union_member_name() -> None:
    document = openapi3(
        {
            "/u": {
                "get": {
                    "operationId": "u",
                    "responses": {
                        "200": {
                            "description": "d",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "oneOf": [
                                            ref("A"),
                                            {
                                                "type": "object",
                                                "required": ["b-value"],
                                                "properties": {"b-value": {"type": "integer"}},
                                            },
                                        ]
                                    }
                                }
                            },
                        }
                    },
                }
            }
        },
        {"A": {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}}},
    )
    subgraph = translate(document)
    shaped = shape_value(subgraph, return_type(subgraph, "Query", "u"), [{"b-value": 1}][0])
    assert shaped == {"__typename": "UResponse2", "bValue": 1}


def test_interfaces_resolve_by_discriminator() -> None:
    subgraph = translate(inheritance_document(subtype_first=False))
    pets = [{"petType": "Dog", "name": "Rex", "packSize": 3}, {"petType": "Cat", "name": "Tom", "huntingSkill": "lazy"}]
    shaped = shape_value(subgraph, return_type(subgraph, "Query", "listPets"), pets)
    assert shaped == [
        {"__typename": "Dog", "name": "Rex", "petType": "Dog", "packSize": 3},
        {"__typename": "Cat", "name": "Tom", "petType": "Cat", "huntingSkill": "lazy"},
    ]
