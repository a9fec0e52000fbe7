"""The shop's data, shared by every upstream variant and the monolith (so their answers can be compared)."""

from __future__ import annotations

from typing import Any

USERS: dict[str, dict[str, Any]] = {
    "1": {"id": "1", "name": "Ada Lovelace", "username": "@ada"},
    "2": {"id": "2", "name": "Alan Turing", "username": "@complete"},
    "3": {"id": "3", "name": "Grace Hopper", "username": "@grace"},
    "4": {"id": "4", "name": "Edsger Dijkstra", "username": "@ewd"},
}

PRODUCTS: dict[str, dict[str, Any]] = {
    "1": {"upc": "1", "sku": "TBL-1", "vendor": "acme", "name": "Table", "price": 899, "weight": 100},
    "2": {"upc": "2", "sku": "CCH-1", "vendor": "acme", "name": "Couch", "price": 1299, "weight": 1000},
    "3": {"upc": "3", "sku": "CHR-1", "vendor": "globex", "name": "Chair", "price": 54, "weight": 50},
    "4": {"upc": "4", "sku": "LMP-1", "vendor": "globex", "name": "Lamp", "price": 35, "weight": 5},
    "5": {"upc": "5", "sku": "RUG-1", "vendor": "initech", "name": "Rug", "price": 120, "weight": 20},
}

REVIEWS: list[dict[str, Any]] = [
    {"id": "1", "authorId": "1", "upc": "1", "body": "Love it!", "stars": 5},
    {"id": "2", "authorId": "1", "upc": "2", "body": "Too expensive.", "stars": 2},
    {"id": "3", "authorId": "2", "upc": "3", "body": "Could be better.", "stars": 3},
    {"id": "4", "authorId": "2", "upc": "1", "body": "Prefer something else.", "stars": 1},
    {"id": "5", "authorId": "3", "upc": "4", "body": "Bright.", "stars": 4},
    {"id": "6", "authorId": "3", "upc": "1", "body": "Solid wood.", "stars": 5},
]

INVENTORY: dict[str, dict[str, Any]] = {
    "1": {"upc": "1", "inStock": True},
    "2": {"upc": "2", "inStock": False},
    "3": {"upc": "3", "inStock": True},
    "4": {"upc": "4", "inStock": True},
    "5": {"upc": "5", "inStock": False},
}

WAREHOUSES: dict[str, str] = {"1": "north", "3": "south", "4": "north", "5": "east"}

DELIVERY_DAYS: dict[tuple[str, str], int] = {("TBL-1", "acme"): 3, ("CCH-1", "acme"): 14, ("CHR-1", "globex"): 2}


def shipping_estimate(price: int | None, weight: int | None) -> int:
    if price is None or weight is None:
        raise ValueError("shippingEstimate needs price and weight")
    return 0 if price > 1000 else weight // 2


def warehouse(upc: str) -> str:
    """Product 2 has no warehouse: its upstream answers a GraphQL error for this field (tests error paths)."""
    if upc not in WAREHOUSES:
        raise ValueError(f"no warehouse stocks product {upc}")
    return WAREHOUSES[upc]


def reviews_of_product(upc: str) -> list[dict[str, Any]]:
    return [r for r in REVIEWS if r["upc"] == upc]


def reviews_of_user(user_id: str) -> list[dict[str, Any]]:
    return [r for r in REVIEWS if r["authorId"] == user_id]


def search(text: str) -> list[dict[str, Any]]:
    """Products and users whose name contains ``text`` (case-insensitive), products first."""
    needle = text.lower()
    found: list[dict[str, Any]] = [
        {"__typename": "Product", **p} for p in PRODUCTS.values() if needle in p["name"].lower()
    ]
    found += [{"__typename": "User", **u} for u in USERS.values() if needle in u["name"].lower()]
    return found
