"""A catalogue of media whose ratings live in an ``@interfaceObject`` subgraph, plus the monolith serving both.

``media`` defines ``interface Media @key(fields: "id")`` with Book and Movie; ``ratings`` knows nothing of Book or
Movie: it declares ``type Media @key(fields: "id") @interfaceObject``, adds ``reviewCount`` and ``stars`` to every
implementation, and returns ``Media`` itself from ``topRated`` (objects typed only ``Media``). Apollo's semantics:
the gateway asks ``ratings`` for ``_entities`` with ``{"__typename": "Media", "id": ...}`` and merges the answers into
the Book and Movie objects; for ``topRated`` it first asks ``media`` for each object's concrete ``__typename``.
"""

from __future__ import annotations

from typing import Any

from graphql import build_schema

from tests.stitcher.upstreams.app import GraphQLApp
from tests.stitcher.upstreams.federation import executable_schema

_LINK = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", '
    'import: ["@key", "@shareable", "@interfaceObject"])\n'
)

MEDIA_SDL = (
    _LINK
    + """
type Query {
  media: [Media!]!
  book(id: ID!): Book
}

interface Media @key(fields: "id") {
  id: ID!
  title: String!
}

type Book implements Media @key(fields: "id") {
  id: ID!
  title: String!
  pages: Int
}

type Movie implements Media @key(fields: "id") {
  id: ID!
  title: String!
  minutes: Int
}
"""
)

RATINGS_SDL = (
    _LINK
    + """
type Query {
  topRated(first: Int = 2): [Media!]!
}

type Media @key(fields: "id") @interfaceObject {
  id: ID!
  reviewCount: Int!
  stars: [Int!]!
  "Rated alike: the next media in the catalogue (interface objects inside an entity answer)."
  similar: [Media!]!
}
"""
)

MEDIA: list[dict[str, Any]] = [
    {"__typename": "Book", "id": "b1", "title": "Dune", "pages": 412},
    {"__typename": "Movie", "id": "m1", "title": "Alien", "minutes": 117},
    {"__typename": "Book", "id": "b2", "title": "Emma", "pages": 474},
    {"__typename": "Movie", "id": "m2", "title": "Heat", "minutes": 170},
]

STARS: dict[str, list[int]] = {"b1": [5, 4, 5], "m1": [4], "b2": [3, 2]}  # m2 has no ratings


def _similar(media_id: str) -> str:
    ids: list[str] = [m["id"] for m in MEDIA]
    return ids[(ids.index(media_id) + 1) % len(ids)]


MONOLITH_SDL = """
type Query {
  media: [Media!]!
  book(id: ID!): Book
  topRated(first: Int = 2): [Media!]!
}

interface Media {
  id: ID!
  title: String!
  reviewCount: Int!
  stars: [Int!]!
  similar: [Media!]!
}

type Book implements Media {
  id: ID!
  title: String!
  pages: Int
  reviewCount: Int!
  stars: [Int!]!
  similar: [Media!]!
}

type Movie implements Media {
  id: ID!
  title: String!
  minutes: Int
  reviewCount: Int!
  stars: [Int!]!
  similar: [Media!]!
}
"""

_INTERFACE_OBJECT = "directive @interfaceObject on OBJECT\n"


def _top_rated(first: int) -> list[str]:
    """Ids of the best rated media (mean stars, then id), as ``ratings`` alone can compute them."""
    rated = sorted(STARS, key=lambda media_id: (-sum(STARS[media_id]) / len(STARS[media_id]), media_id))
    return rated[:first]


def _book(media_id: str) -> dict[str, Any] | None:
    return next((m for m in MEDIA if m["id"] == media_id and m["__typename"] == "Book"), None)


def media_app() -> GraphQLApp:
    def resolve(rep: dict[str, Any]) -> Any:
        return next((m for m in MEDIA if m["id"] == rep.get("id")), None)

    root = {
        "media": lambda _info: MEDIA,
        "book": lambda _info, id: _book(id),
        "_entities": lambda _info, representations: [resolve(rep) for rep in representations],
        "_service": lambda _info: {"sdl": MEDIA_SDL},
    }
    return GraphQLApp(executable_schema(MEDIA_SDL + _INTERFACE_OBJECT, ["Book", "Movie"]), root)


def ratings_app() -> GraphQLApp:
    """Answers only representations typed ``Media``: it cannot know Book or Movie (as an Apollo subgraph)."""

    def resolve(rep: dict[str, Any]) -> Any:
        if rep.get("__typename") != "Media":
            raise ValueError(f"ratings resolves Media representations only, got {rep.get('__typename')!r}")
        stars = STARS.get(rep["id"], [])
        similar = {"__typename": "Media", "id": _similar(rep["id"])}
        return {
            "__typename": "Media",
            "id": rep["id"],
            "reviewCount": len(stars),
            "stars": stars,
            "similar": lambda _info: [resolve(similar)],
        }

    root = {
        "topRated": lambda _info, first: [resolve({"__typename": "Media", "id": i}) for i in _top_rated(first)],
        "_entities": lambda _info, representations: [resolve(rep) for rep in representations],
        "_service": lambda _info: {"sdl": RATINGS_SDL},
    }
    return GraphQLApp(executable_schema(RATINGS_SDL + _INTERFACE_OBJECT, ["Media"]), root, cache=False)


def _rated(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    stars = STARS.get(item["id"], [])
    similar = _BY_ID[_similar(item["id"])]
    return {**item, "reviewCount": len(stars), "stars": stars, "similar": lambda _info: [_rated(similar)]}


_BY_ID = {m["id"]: m for m in MEDIA}


def monolith_app() -> GraphQLApp:
    by_id = _BY_ID
    root = {
        "media": lambda _info: [_rated(m) for m in MEDIA],
        "book": lambda _info, id: _rated(_book(id)),
        "topRated": lambda _info, first: [_rated(by_id[i]) for i in _top_rated(first)],
    }
    return GraphQLApp(build_schema(MONOLITH_SDL), root)
