"""Federation v2 subgraphs of the shop: accounts, products, reviews, inventory and shipping.

Covers entities with several subgraphs, a compound key (``Product @key(fields: "sku vendor")`` in shipping),
``@requires`` (inventory's ``shippingEstimate``), ``@provides`` (reviews provides ``User.username``), ``@shareable``
and a union across subgraphs (products' ``search`` returns Products and Users; User fields live in accounts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLSchema, build_schema

from tests.stitcher.upstreams import data
from tests.stitcher.upstreams.app import GraphQLApp

_LINK = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", '
    'import: ["@key", "@requires", "@provides", "@external", "@shareable"])\n'
)

ACCOUNTS_SDL = (
    _LINK
    + """
type Query {
  me: User
  user(id: ID!): User
  users: [User!]!
}

type User @key(fields: "id") {
  id: ID!
  name: String
  username: String @shareable
}
"""
)

PRODUCTS_SDL = (
    _LINK
    + """
type Query {
  topProducts(first: Int = 5): [Product!]!
  product(upc: String!): Product
  search(text: String!): [SearchResult!]!
}

union SearchResult = Product | User

type Product @key(fields: "upc") @key(fields: "sku vendor") {
  upc: String!
  sku: String!
  vendor: String!
  name: String
  price: Int
  weight: Int
}

type User @key(fields: "id") {
  id: ID!
}
"""
)

REVIEWS_SDL = (
    _LINK
    + """
type Query {
  reviews: [Review!]!
}

type Review @key(fields: "id") {
  id: ID!
  body: String
  stars: Int!
  author: User @provides(fields: "username")
  product: Product
}

type User @key(fields: "id") {
  id: ID!
  username: String @external
  reviews: [Review!]!
}

type Product @key(fields: "upc") {
  upc: String!
  reviews: [Review!]!
}
"""
)

INVENTORY_SDL = (
    _LINK
    + """
type Product @key(fields: "upc") {
  upc: String!
  price: Int @external
  weight: Int @external
  inStock: Boolean
  warehouse: String
  shippingEstimate: Int @requires(fields: "price weight")
}
"""
)

SHIPPING_SDL = (
    _LINK
    + """
type Product @key(fields: "sku vendor") {
  sku: String!
  vendor: String!
  deliveryDays: Int
}
"""
)

_MACHINERY = """
scalar _Any
scalar FieldSet
scalar link__Import
directive @link(url: String!, import: [link__Import]) repeatable on SCHEMA
directive @key(fields: FieldSet!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
directive @requires(fields: FieldSet!) on FIELD_DEFINITION
directive @provides(fields: FieldSet!) on FIELD_DEFINITION
directive @external on OBJECT | FIELD_DEFINITION
directive @shareable repeatable on OBJECT | FIELD_DEFINITION
type _Service { sdl: String }
"""


def executable_schema(sdl: str, entities: list[str]) -> GraphQLSchema:
    """The subgraph's SDL plus the federation machinery (``_entities``, ``_service``), executable by graphql-core."""
    extra = _MACHINERY
    fields = "_service: _Service!"
    if entities:
        extra += f"union _Entity = {' | '.join(entities)}\n"
        fields = "_entities(representations: [_Any!]!): [_Entity]! " + fields
    keyword = "extend type Query" if "type Query" in sdl else "type Query"
    extra += f"{keyword} {{ {fields} }}\n"
    return build_schema(sdl + extra)


def _user(user: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if user is None else {"__typename": "User", **user}


def _product(product: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if product is None else {"__typename": "Product", **product}


def entity_resolvers(resolve: Callable[[dict[str, Any]], Any], sdl: str) -> dict[str, Any]:
    return {
        "_entities": lambda _info, representations: [resolve(rep) for rep in representations],
        "_service": lambda _info: {"sdl": sdl},
    }


def accounts_app() -> GraphQLApp:
    def resolve(rep: dict[str, Any]) -> Any:
        return _user(data.USERS.get(rep.get("id", "")))

    root = {
        "me": lambda _info: _user(data.USERS["1"]),
        "user": lambda _info, id: _user(data.USERS.get(id)),
        "users": lambda _info: [_user(u) for u in data.USERS.values()],
        **entity_resolvers(resolve, ACCOUNTS_SDL),
    }
    return GraphQLApp(executable_schema(ACCOUNTS_SDL, ["User"]), root)


def products_app() -> GraphQLApp:
    def resolve(rep: dict[str, Any]) -> Any:
        if rep["__typename"] == "User":
            return {"__typename": "User", "id": rep["id"]}
        if "upc" in rep:
            return _product(data.PRODUCTS.get(rep["upc"]))
        return _product(
            next((p for p in data.PRODUCTS.values() if p["sku"] == rep["sku"] and p["vendor"] == rep["vendor"]), None)
        )

    root = {
        "topProducts": lambda _info, first=5: [_product(p) for p in list(data.PRODUCTS.values())[:first]],
        "product": lambda _info, upc: _product(data.PRODUCTS.get(upc)),
        "search": lambda _info, text: [
            {"__typename": r["__typename"], "id": r["id"]} if r["__typename"] == "User" else r
            for r in data.search(text)
        ],
        **entity_resolvers(resolve, PRODUCTS_SDL),
    }
    return GraphQLApp(executable_schema(PRODUCTS_SDL, ["Product", "User"]), root)


def _review(review: dict[str, Any]) -> dict[str, Any]:
    user = data.USERS[review["authorId"]]
    return {
        "__typename": "Review",
        **review,
        # @provides: the author comes with its username, so the gateway needs no accounts fetch for it.
        "author": {
            "__typename": "User",
            "id": user["id"],
            "username": user["username"],
            "reviews": lambda _info: [_review(r) for r in data.reviews_of_user(user["id"])],
        },
        "product": {
            "__typename": "Product",
            "upc": review["upc"],
            "reviews": lambda _info: [_review(r) for r in data.reviews_of_product(review["upc"])],
        },
    }


def reviews_app() -> GraphQLApp:
    def resolve(rep: dict[str, Any]) -> Any:
        if rep["__typename"] == "User":
            return {
                "__typename": "User",
                "id": rep["id"],
                "reviews": [_review(r) for r in data.reviews_of_user(rep["id"])],
            }
        if rep["__typename"] == "Product":
            return {
                "__typename": "Product",
                "upc": rep["upc"],
                "reviews": [_review(r) for r in data.reviews_of_product(rep["upc"])],
            }
        review = next((r for r in data.REVIEWS if r["id"] == rep["id"]), None)
        return None if review is None else _review(review)

    root = {"reviews": lambda _info: [_review(r) for r in data.REVIEWS], **entity_resolvers(resolve, REVIEWS_SDL)}
    return GraphQLApp(executable_schema(REVIEWS_SDL, ["Review", "User", "Product"]), root)


def inventory_app() -> GraphQLApp:
    def resolve(rep: dict[str, Any]) -> Any:
        stock = data.INVENTORY.get(rep["upc"])
        if stock is None:
            return None
        return {
            "__typename": "Product",
            **stock,
            "warehouse": lambda _info: data.warehouse(rep["upc"]),
            "shippingEstimate": lambda _info: data.shipping_estimate(rep.get("price"), rep.get("weight")),
        }

    return GraphQLApp(executable_schema(INVENTORY_SDL, ["Product"]), entity_resolvers(resolve, INVENTORY_SDL))


def shipping_app() -> GraphQLApp:
    def resolve(rep: dict[str, Any]) -> Any:
        days = data.DELIVERY_DAYS.get((rep["sku"], rep["vendor"]))
        return {"__typename": "Product", "sku": rep["sku"], "vendor": rep["vendor"], "deliveryDays": days}

    return GraphQLApp(executable_schema(SHIPPING_SDL, ["Product"]), entity_resolvers(resolve, SHIPPING_SDL))


SUBGRAPHS: dict[str, tuple[str, Callable[[], GraphQLApp]]] = {
    "accounts": (ACCOUNTS_SDL, accounts_app),
    "products": (PRODUCTS_SDL, products_app),
    "reviews": (REVIEWS_SDL, reviews_app),
    "inventory": (INVENTORY_SDL, inventory_app),
    "shipping": (SHIPPING_SDL, shipping_app),
}
