"""The shop as plain GraphQL services (no Federation) joined by merge configuration, as GraphQL Tools stitching
does: accounts resolves a User one key per call (``user(id:)``), products and reviews resolve entities batched
(``productsByUpcs(upcs:)``, ``reviewedProducts(upcs:)``, ``reviewers(ids:)``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import build_schema

from stitcher.sources import EntityConfig
from tests.stitcher.upstreams import data
from tests.stitcher.upstreams.app import GraphQLApp

ACCOUNTS_SDL = """
type Query {
  me: User
  user(id: ID!): User
  users: [User!]!
}

type User {
  id: ID!
  name: String
  username: String
}
"""

PRODUCTS_SDL = """
type Query {
  topProducts(first: Int = 5): [Product!]!
  product(upc: String!): Product
  productsByUpcs(upcs: [String!]!): [Product]!
}

type Product {
  upc: String!
  sku: String!
  vendor: String!
  name: String
  price: Int
  weight: Int
}
"""

REVIEWS_SDL = """
type Query {
  reviews: [Review!]!
  reviewedProducts(upcs: [String!]!): [Product]!
  reviewers(ids: [ID!]!): [User]!
}

type Review {
  id: ID!
  body: String
  stars: Int!
  author: User
  product: Product
}

type User {
  id: ID!
  reviews: [Review!]!
}

type Product {
  upc: String!
  reviews: [Review!]!
}
"""

ENTITIES: dict[str, dict[str, EntityConfig]] = {
    "accounts": {"User": EntityConfig(key="id", operation="user")},
    "products": {"Product": EntityConfig(key="upc", operation="productsByUpcs")},
    "reviews": {
        "Product": EntityConfig(key="upc", operation="reviewedProducts"),
        "User": EntityConfig(key="id", operation="reviewers"),
    },
}


def accounts_app() -> GraphQLApp:
    root = {
        "me": lambda _info: data.USERS["1"],
        "user": lambda _info, id: data.USERS.get(id),
        "users": lambda _info: list(data.USERS.values()),
    }
    return GraphQLApp(build_schema(ACCOUNTS_SDL), root)


def products_app() -> GraphQLApp:
    root = {
        "topProducts": lambda _info, first=5: list(data.PRODUCTS.values())[:first],
        "product": lambda _info, upc: data.PRODUCTS.get(upc),
        "productsByUpcs": lambda _info, upcs: [data.PRODUCTS.get(upc) for upc in upcs],
    }
    return GraphQLApp(build_schema(PRODUCTS_SDL), root)


def _review(review: dict[str, Any]) -> dict[str, Any]:
    return {**review, "author": {"id": review["authorId"]}, "product": {"upc": review["upc"]}}


def reviews_app() -> GraphQLApp:
    root = {
        "reviews": lambda _info: [_review(r) for r in data.REVIEWS],
        "reviewedProducts": lambda _info, upcs: [
            {"upc": upc, "reviews": [_review(r) for r in data.reviews_of_product(upc)]} for upc in upcs
        ],
        "reviewers": lambda _info, ids: [
            {"id": id_, "reviews": [_review(r) for r in data.reviews_of_user(id_)]} for id_ in ids
        ],
    }
    return GraphQLApp(build_schema(REVIEWS_SDL), root)


SERVICES: dict[str, tuple[str, Callable[[], GraphQLApp]]] = {
    "accounts": (ACCOUNTS_SDL, accounts_app),
    "products": (PRODUCTS_SDL, products_app),
    "reviews": (REVIEWS_SDL, reviews_app),
}
