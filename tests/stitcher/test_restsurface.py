"""The REST surface: routes compiled from GraphQL operations, parameter coercion, the OpenAPI 3.1 document."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from stitcher.composition import compose
from stitcher.ir import SourceKind
from stitcher.restsurface import RestInputError, RestSurface, RestSurfaceError
from stitcher.snapshot import RestRoute
from stitcher.sources import SourceSpec

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
