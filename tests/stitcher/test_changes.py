"""Breaking changes between two versions of a product's API: each kind the portal refuses for a published product,
and what is not breaking (additions, an output that becomes stricter, an input that becomes looser)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from graphql import build_schema

from stitcher.changes import BreakingChange, ProductApi, breaking_changes
from stitcher.composition import compose
from stitcher.ir import SourceKind
from stitcher.sources import SourceSpec

BEFORE = """
type Query {
  member(id: ID!): Member
  members(limit: Int, tier: Tier): [Member!]!
  search(text: String): [Member!]!
}
type Member { id: ID! name: String! tier: Tier! email: String }
enum Tier { GOLD SILVER BRONZE }
input Filter { tier: Tier name: String }
type Mutation { join(filter: Filter): Member }
"""


def api(sdl: str, routes: Mapping[tuple[str, str], str] | None = None) -> ProductApi:
    return ProductApi(schema=build_schema(sdl), routes=dict(routes or {}), passthrough=frozenset())


def descriptions(before: ProductApi, after: ProductApi) -> list[str]:
    return [c.description for c in breaking_changes(before, after)]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("tier: Tier! ", "", "Field Member.tier was removed"),
        ("name: String!", "name: Int!", "Field Member.name changed type from String! to Int!"),
        ("name: String!", "name: String", "Field Member.name changed type from String! to String"),
        ("members(limit: Int, tier: Tier)", "members(tier: Tier)", "Argument Query.members(limit:) was removed"),
        ("members(limit: Int, tier: Tier)", "members(limit: Int!, tier: Tier)",
         "Argument Query.members(limit:) has changed type from Int to Int!"),
        ("search(text: String)", "search(text: String, page: Int!)",
         "A required argument Query.search(page:) was added"),
        ("GOLD SILVER BRONZE", "GOLD SILVER", "Enum value Tier.BRONZE was removed"),
        ("input Filter { tier: Tier name: String }", "input Filter { tier: Tier name: String since: Int! }",
         "A required field Filter.since was added"),
        ("type Mutation { join(filter: Filter): Member }\n", "", "Mutation was removed"),
    ],
)  # fmt: skip
def test_each_breaking_kind_is_named(old: str, new: str, expected: str) -> None:
    assert old in BEFORE
    found = descriptions(api(BEFORE), api(BEFORE.replace(old, new)))
    assert found == [expected], found


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("email: String }", "email: String phone: String }"),  # a new field
        ("email: String }", "email: String! }"),  # an output that is never null now
        ("members(limit: Int, tier: Tier)", "members(limit: Int, tier: Tier, page: Int)"),  # an optional argument
        ("member(id: ID!)", "member(id: ID)"),  # an input that may be left out now
        ("GOLD SILVER BRONZE", "GOLD SILVER BRONZE PLATINUM"),  # an enum value more (dangerous, not breaking)
    ],
)
def test_additions_and_compatible_changes_are_not_breaking(old: str, new: str) -> None:
    assert breaking_changes(api(BEFORE), api(BEFORE.replace(old, new))) == []


def test_rest_routes_removed_or_rebound_are_breaking() -> None:
    routes = {("GET", "/members/{id}"): "query ($id: ID!) { member(id: $id) { name } }", ("GET", "/members"): "{ x }"}
    after = {("GET", "/members/{id}"): "query ($id: ID!) { member(id: $id) { tier } }", ("POST", "/members"): "{ x }"}
    found = breaking_changes(api(BEFORE, routes), api(BEFORE, after))
    assert found == [
        BreakingChange("route_removed", "REST route GET /members was removed"),
        BreakingChange("route_changed", "REST route GET /members/{id} runs another operation"),
    ]
    # Whitespace in an operation is no change.
    spaced = {k: v.replace(" {", "  {\n") for k, v in routes.items()}
    assert breaking_changes(api(BEFORE, routes), api(BEFORE, spaced)) == []


CATALOG = """
openapi: 3.0.3
info: {title: Catalog, version: '1'}
paths:
  /books:
    get:
      operationId: listBooks
      responses: {'200': {description: ok, content: {application/json: {schema: {type: array, items: {type: string}}}}}}
  /books/{isbn}:
    get:
      operationId: getBook
      parameters: [{name: isbn, in: path, required: true, schema: {type: string}}]
      responses: {'200': {description: ok, content: {application/json: {schema: {type: string}}}}}
    delete:
      operationId: dropBook
      parameters: [{name: isbn, in: path, required: true, schema: {type: string}}]
      responses: {'204': {description: gone}}
"""


def catalog_api(text: str) -> ProductApi:
    spec = SourceSpec(name="catalog", protocol=SourceKind.OPENAPI, schema=text, url="http://catalog.internal")
    return ProductApi.of(compose([spec]), [{"method": "GET", "path": "/all", "operation": "{ listBooks }"}])


def test_a_composed_product_lists_the_operations_it_passes_through() -> None:
    before = catalog_api(CATALOG)
    assert before.routes == {("GET", "/all"): "{ listBooks }"}
    assert before.passthrough == {
        ("catalog", "GET", "/books"),
        ("catalog", "GET", "/books/{isbn}"),
        ("catalog", "DELETE", "/books/{isbn}"),
    }
    start, end = CATALOG.index("    delete:"), CATALOG.index("      responses: {'204'")
    dropped = CATALOG[:start] + CATALOG[end + len("      responses: {'204': {description: gone}}\n") :]
    assert [str(c) for c in breaking_changes(before, catalog_api(dropped))] == [
        "Mutation was removed",  # its only field was the dropped operation
        "REST operation DELETE /catalog/books/{isbn} was removed",
    ]
    assert breaking_changes(before, catalog_api(CATALOG)) == []
