"""The REST surface: routes compiled from GraphQL operations, parameter coercion, the OpenAPI 3.1 document."""

from __future__ import annotations

from pathlib import Path

import pytest
from openapi_spec_validator import validate

from stitcher.composition import compose
from stitcher.ir import SourceKind
from stitcher.restsurface import RestInputError, RestSurface, RestSurfaceError
from stitcher.snapshot import RestRoute
from stitcher.sources import SourceSpec, Transforms

SDL = """
enum Sort { NEWEST OLDEST }
input Filter { author: String! tags: [String!] }
type Query {
  items(page: Int!, exact: Boolean, tags: [String!], sort: Sort, ratio: Float): [Item!]!
  item(id: ID!): Item
}
type Mutation { find(filter: Filter!): [Item!]! }
type Item { id: ID! }
"""
SUPERGRAPH = compose([SourceSpec("items", SourceKind.GRAPHQL, SDL, url="http://127.0.0.1:9/graphql")])
ITEMS = "query($page: Int!, $exact: Boolean, $tags: [String!], $sort: Sort, $ratio: Float) { items(page: $page, exact: $exact, tags: $tags, sort: $sort, ratio: $ratio) { id } }"  # noqa: E501


def _surface(*routes: RestRoute) -> RestSurface:
    return RestSurface("shop", "1.0.0", routes, SUPERGRAPH)


def test_path_and_query_parameters_are_coerced_to_the_variable_types() -> None:
    surface = _surface(RestRoute(path="/items/page/{page}", operation=ITEMS))
    matched = surface.match("GET", "/items/page/3")
    assert matched is not None
    route, path_values = matched
    query = [("exact", "true"), ("tags", "a"), ("tags", "b"), ("sort", "NEWEST"), ("ratio", "0.5"), ("other", "x")]
    variables = route.build_variables(path_values, query, None)
    assert variables == {"page": 3, "exact": True, "tags": ["a", "b"], "sort": "NEWEST", "ratio": 0.5}
    assert surface.match("GET", "/items/page/3/more") is None
    assert surface.match("POST", "/items/page/3") is None
    assert surface.match("HEAD", "/items/page/3") is not None
    assert surface.methods_for("/items/page/3") == ["GET", "HEAD"]
    assert surface.methods_for("/nothing") == []
    with pytest.raises(RestInputError, match="'page' must be a number of type Int"):
        route.build_variables({"page": "three"}, [], None)
    with pytest.raises(RestInputError, match="'exact' must be true or false"):
        route.build_variables({"page": "1"}, [("exact", "maybe")], None)


def test_json_bodies_feed_the_variables_of_mutations() -> None:
    route = RestRoute(
        method="POST", path="/search", operation="mutation($filter: Filter!) { find(filter: $filter) { id } }"
    )
    surface = _surface(route)
    matched = surface.match("POST", "/search")
    assert matched is not None
    assert matched[0].build_variables({}, [], {"filter": {"author": "a"}}) == {"filter": {"author": "a"}}
    with pytest.raises(RestInputError, match="JSON object"):
        matched[0].build_variables({}, [], [1, 2])


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (RestRoute(path="items", operation="{ item(id: 1) { id } }"), "must start with '/'"),
        (RestRoute(path="/x", operation="{ item(id: "), "does not parse"),
        (RestRoute(path="/x/{id}", operation="{ item(id: 1) { id } }"), "path parameter {id} is not a variable"),
        (RestRoute(path="/x", operation='mutation { find(filter: {author: "a"}) { id } }'), "other than GET"),
        (
            RestRoute(path="/x", operation="query A { item(id: 1) { id } } query B { item(id: 2) { id } }"),
            "exactly one",
        ),
        (RestRoute(path="/x/{id}", operation="query($id: Nope) { item(id: $id) { id } }"), "unknown type"),
    ],
)
def test_unusable_routes_are_refused_with_the_reason(route: RestRoute, message: str) -> None:
    with pytest.raises(RestSurfaceError, match=message):
        _surface(route)


def test_the_openapi_document_is_valid_openapi_31() -> None:
    surface = _surface(
        RestRoute(path="/items/page/{page}", operation=ITEMS),
        RestRoute(path="/items/{id}", operation="query Item($id: ID!) { item(id: $id) { id } }"),
        RestRoute(
            method="POST", path="/search", operation="mutation($filter: Filter!) { find(filter: $filter) { id } }"
        ),
    )
    document = surface.openapi("/products/shop/rest")
    validate(document)
    page = document["paths"]["/items/page/{page}"]["get"]
    params = {p["name"]: p for p in page["parameters"]}
    assert params["page"] == {"name": "page", "in": "path", "required": True, "schema": {"type": "integer"}}
    assert params["sort"]["schema"] == {"type": "string", "enum": ["NEWEST", "OLDEST"]}
    assert params["tags"]["schema"] == {"type": "array", "items": {"type": "string"}}
    assert document["paths"]["/items/{id}"]["get"]["operationId"] == "Item"
    body = document["paths"]["/search"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["filter"]
    assert body["properties"]["filter"]["required"] == ["author"]


SPECS = Path(__file__).parent / "specs"


def test_pass_through_routes_are_described_as_their_services_describe_them() -> None:
    """openapi.json gives each pass-through operation the source's parameters, body and responses (Swagger 2.0
    converted; $refs to other files inlined; named schemas as <service>.<Name> components), not a bare default."""
    orders = SourceSpec(
        "orders",
        SourceKind.OPENAPI,
        (SPECS / "orders.openapi.yaml").read_text(),
        url="http://127.0.0.1:9",
        base_path=SPECS,
    )
    pets = SourceSpec(
        "pets",
        SourceKind.OPENAPI,
        (SPECS / "petstore.swagger.yaml").read_text(),
        url="http://127.0.0.1:8",
        transforms=Transforms(prefix="Pets", root_field_patterns={"(.*)": "pets_\\1"}),
    )
    surface = RestSurface("shop", "1.0.0", [], compose([orders, pets]))
    document = surface.openapi("/products/shop/rest")
    validate(document)  # still a valid OpenAPI 3.1 document
    paths = document["paths"]
    listing = paths["/orders/api/v3/orders"]["get"]
    params = {p["name"]: p for p in listing["parameters"]}
    assert params["page-size"]["in"] == "query"  # a $ref'd parameter, inlined
    assert params["ids"]["style"] == "form" and params["ids"]["explode"] is False
    assert params["X-Tenant-Id"]["required"] is True
    assert params["status"]["schema"] == {"$ref": "#/components/schemas/orders.OrderStatus"}
    assert listing["operationId"] == "orders.list-orders" and listing["tags"] == ["orders"]
    page = listing["responses"]["200"]["content"]["application/json"]["schema"]
    assert page == {"$ref": "#/components/schemas/orders.OrderPage"}
    assert "default" in listing["responses"]  # the error response, from components/responses
    create = paths["/orders/api/v3/orders"]["post"]
    assert "application/json" in create["requestBody"]["content"]
    schemas = document["components"]["schemas"]
    assert "orders.Order" in schemas and "Errors" in schemas
    cancel = paths["/orders/api/v3/orders/{order-id}"]["delete"]
    assert {p["name"] for p in cancel["parameters"]} == {"order-id", "reason"}
    assert cancel["responses"]["204"] == {"description": "cancelled"}
    # Swagger 2.0: a body parameter becomes the request body, form parameters a form body, schema -> content
    add = paths["/pets/v2/pet"]["post"]
    assert add["requestBody"]["required"] is True and "parameters" not in add
    form = paths["/pets/v2/pet/{petId}"]["post"]["requestBody"]["content"]
    assert list(form) == ["application/x-www-form-urlencoded"]
    by_status = paths["/pets/v2/pet/findByStatus"]["get"]
    status_param = next(p for p in by_status["parameters"] if p["name"] == "status")
    assert status_param["explode"] is True and status_param["schema"]["type"] == "array"
    pet = by_status["responses"]["200"]["content"]
    assert pet["application/json"]["schema"] == {"type": "array", "items": {"$ref": "#/components/schemas/pets.Pet"}}


def test_a_service_without_its_source_is_described_bare() -> None:
    orders = SourceSpec(
        "orders", SourceKind.OPENAPI, (SPECS / "orders.openapi.yaml").read_text(), url="http://1", base_path=SPECS
    )
    supergraph = compose([orders])
    supergraph.sources = ()  # a supergraph composed elsewhere carries no sources
    document = RestSurface("shop", "1.0.0", [], supergraph).openapi("/rest")
    validate(document)
    listing = document["paths"]["/orders/api/v3/orders"]["get"]
    assert listing["responses"] == {"default": {"description": "The answer of service orders"}}


@pytest.mark.parametrize(
    ("path", "raw_path", "upstream"),
    [
        ("/orders/items/a,b&c", "/products/shop/rest/orders/items/a%2Cb%26c", "http://1/items/a%2Cb%26c"),
        ("/orders/files/a/b", "/products/shop/rest/orders/files/a%2Fb?x=1", "http://1/files/a%2Fb"),
        ("/orders/x?y", "/products/shop/rest/orders/x%3Fy", "http://1/x%3Fy"),  # never a query
        ("/orders/items/a,b", None, "http://1/items/a,b"),  # no raw path: the decoded one, encoded again
        ("/orders/x%zz", "/products/shop/rest/orders/x%zz", "http://1/x%25zz"),  # a broken escape: encoded again
        ("/orders/items/a b", "/products/shop/rest/orders/other", "http://1/items/a%20b"),  # raw does not match
    ],
)
def test_pass_through_keeps_what_the_client_encoded(path: str, raw_path: str | None, upstream: str) -> None:
    orders = SourceSpec(
        "orders", SourceKind.OPENAPI, (SPECS / "orders.openapi.yaml").read_text(), url="http://1", base_path=SPECS
    )
    surface = RestSurface("shop", "1.0.0", [], compose([orders]))
    assert surface.passthrough(path, raw_path) == upstream
