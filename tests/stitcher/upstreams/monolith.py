"""One GraphQL service that serves the shop's whole product schema from the same data (the reference result)."""

from __future__ import annotations

from typing import Any

from graphql import build_schema

from tests.stitcher.upstreams import data
from tests.stitcher.upstreams.app import GraphQLApp

MONOLITH_SDL = """
type Query {
  me: User
  user(id: ID!): User
  users: [User!]!
  topProducts(first: Int = 5): [Product!]!
  product(upc: String!): Product
  search(text: String!): [SearchResult!]!
  reviews: [Review!]!
}

union SearchResult = Product | User

type User {
  id: ID!
  name: String
  username: String
  reviews: [Review!]!
}

type Product {
  upc: String!
  sku: String!
  vendor: String!
  name: String
  price: Int
  weight: Int
  reviews: [Review!]!
  inStock: Boolean
  warehouse: String
  shippingEstimate: Int
  deliveryDays: Int
}

type Review {
  id: ID!
  body: String
  stars: Int!
  author: User
  product: Product
}
"""


def _user(user: dict[str, Any] | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "__typename": "User",
        **user,
        "reviews": lambda _info: [_review(r) for r in data.reviews_of_user(user["id"])],
    }


def _product(product: dict[str, Any] | None) -> dict[str, Any] | None:
    if product is None:
        return None
    return {
        "__typename": "Product",
        **product,
        "reviews": lambda _info: [_review(r) for r in data.reviews_of_product(product["upc"])],
        "inStock": data.INVENTORY[product["upc"]]["inStock"],
        "warehouse": lambda _info: data.warehouse(product["upc"]),
        "shippingEstimate": data.shipping_estimate(product["price"], product["weight"]),
        "deliveryDays": data.DELIVERY_DAYS.get((product["sku"], product["vendor"])),
    }


def _review(review: dict[str, Any]) -> dict[str, Any]:
    return {
        **review,
        "author": lambda _info: _user(data.USERS[review["authorId"]]),
        "product": lambda _info: _product(data.PRODUCTS[review["upc"]]),
    }


def monolith_app() -> GraphQLApp:
    root = {
        "me": lambda _info: _user(data.USERS["1"]),
        "user": lambda _info, id: _user(data.USERS.get(id)),
        "users": lambda _info: [_user(u) for u in data.USERS.values()],
        "topProducts": lambda _info, first=5: [_product(p) for p in list(data.PRODUCTS.values())[:first]],
        "product": lambda _info, upc: _product(data.PRODUCTS.get(upc)),
        "search": lambda _info, text: [
            _product(r) if r["__typename"] == "Product" else _user(data.USERS[r["id"]]) for r in data.search(text)
        ],
        "reviews": lambda _info: [_review(r) for r in data.REVIEWS],
    }
    return GraphQLApp(build_schema(MONOLITH_SDL), root)
