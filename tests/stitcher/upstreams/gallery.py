"""Six small GraphQL services of an art marketplace, written by hand for this repository, with the conflicts a
stitched gateway over separately built services meets (the kinds Artsy's gateway resolves with renames; none of
Artsy's schemas or code is used): every service has its own ``status`` root field; ``Money``, ``Status``, ``State``,
``Me`` and ``Image`` mean different things in different services; ``Artist`` is shared but ``editorial`` types its
``birthday`` as a year (Int) where ``catalog`` has a date (String); ``PageInfo`` and ``Money`` are alike where they
are shared; ``editorial`` has a debugging type that is not for clients; ``auctions`` adds ``lotLabel`` to the
catalogue's ``Artwork`` through a batch root field meant for the gateway only.

``catalog`` resolves ``Artist`` and ``Artwork`` by id (the stubs other services return get their fields there);
``auctions`` resolves ``Artwork.lotLabel`` for a batch of ids.
"""

from __future__ import annotations

from typing import Any

from graphql import build_schema

from tests.stitcher.upstreams.app import GraphQLApp

CATALOG_SDL = """
type Query {
  artwork(id: ID!): Artwork
  artworks(first: Int = 10): ArtworkConnection!
  artist(id: ID!): Artist
  me: Me
  status: Status!
}
type Artwork { id: ID! title: String! artist: Artist! price: Money image: Image }
type ArtworkConnection { edges: [Artwork!]! pageInfo: PageInfo! }
type PageInfo { hasNextPage: Boolean! endCursor: String }
type Artist { id: ID! name: String! birthday: String }
type Money { amount: Float! currency: String! }
type Image { url: String! width: Int }
type Me { id: ID! name: String! }
type Status { ok: Boolean! }
"""

COMMERCE_SDL = """
type Query {
  orders(first: Int = 10): OrderConnection!
  order(id: ID!): Order
  me: Me
  status: Status!
}
enum State { PENDING PAID REFUNDED }
type Order { id: ID! state: State! total: Money! artwork: Artwork }
type Artwork { id: ID! }
type OrderConnection { edges: [Order!]! pageInfo: PageInfo! }
type PageInfo { hasNextPage: Boolean! endCursor: String }
type Money { cents: Int! currency: String! }
type Me { id: ID! email: String }
type Status { healthy: Int! }
"""

AUCTIONS_SDL = """
type Query {
  sales: [Sale!]!
  artworksByIds(ids: [ID!]!): [Artwork]!
  status: Status!
}
type Sale { id: ID! name: String! lots: [Lot!]! }
type Lot { id: ID! artwork: Artwork! currentBid: Money }
type Artwork { id: ID! lotLabel: String }
type Money { amount: Float! currency: String! }
type Status { ok: Boolean! }
"""

CONSIGNMENTS_SDL = """
type Query { submissions: [Submission!]! status: Status! }
enum State { DRAFT SUBMITTED APPROVED }
type Submission { id: ID! title: String! state: State! artist: Artist images: [Image!]! }
type Artist { id: ID! }
type Image { url: String! width: Int! height: Int! }
type Status { ok: Boolean! }
"""

COLLECTIONS_SDL = """
type Query { collections: [Collection!]! status: Status! }
type Collection { slug: ID! title: String! artworks: [Artwork!]! headerImage: Image }
type Artwork { id: ID! }
type Image { url: String! width: Int }
type Status { ok: Boolean! }
"""

EDITORIAL_SDL = """
type Query { articles: [Article!]! status: Status! debug: Debug }
type Article { id: ID! title: String! artists: [Artist!]! }
type Artist { id: ID! name: String! birthday: Int }
type Debug { build: String! }
type Status { ok: Boolean! }
"""

SDL = {
    "catalog": CATALOG_SDL,
    "commerce": COMMERCE_SDL,
    "auctions": AUCTIONS_SDL,
    "consignments": CONSIGNMENTS_SDL,
    "collections": COLLECTIONS_SDL,
    "editorial": EDITORIAL_SDL,
}

ARTISTS: dict[str, dict[str, Any]] = {
    "a1": {"id": "a1", "name": "Hilma af Klint", "birthday": "1862-10-26"},
    "a2": {"id": "a2", "name": "Agnes Martin", "birthday": "1912-03-22"},
}
ARTWORKS: dict[str, dict[str, Any]] = {
    "w1": {"id": "w1", "title": "The Ten Largest", "artist": "a1", "price": 1200.0, "lot": "Lot 7"},
    "w2": {"id": "w2", "title": "Friendship", "artist": "a2", "price": None, "lot": None},
}


def _artwork(artwork_id: str) -> dict[str, Any] | None:
    found = ARTWORKS.get(artwork_id)
    if found is None:
        return None
    price = {"amount": found["price"], "currency": "EUR"} if found["price"] is not None else None
    return {
        "id": found["id"],
        "title": found["title"],
        "artist": ARTISTS[found["artist"]],
        "price": price,
        "image": {"url": f"https://img.test/{found['id']}.jpg", "width": 800},
    }


def catalog_app() -> GraphQLApp:
    root = {
        "artwork": lambda _info, id: _artwork(id),
        "artworks": lambda _info, first: {
            "edges": [_artwork(i) for i in list(ARTWORKS)[:first]],
            "pageInfo": {"hasNextPage": first < len(ARTWORKS), "endCursor": None},
        },
        "artist": lambda _info, id: ARTISTS.get(id),
        "me": lambda _info: {"id": "u1", "name": "Ada"},
        "status": lambda _info: {"ok": True},
    }
    return GraphQLApp(build_schema(CATALOG_SDL), root, cache=False)


def commerce_app() -> GraphQLApp:
    orders: list[dict[str, Any]] = [
        {"id": "o1", "state": "PAID", "total": {"cents": 120000, "currency": "EUR"}, "artwork": {"id": "w1"}},
        {"id": "o2", "state": "PENDING", "total": {"cents": 5000, "currency": "USD"}, "artwork": None},
    ]
    root = {
        "orders": lambda _info, first: {"edges": orders[:first], "pageInfo": {"hasNextPage": False}},
        "order": lambda _info, id: next((o for o in orders if o["id"] == id), None),
        "me": lambda _info: {"id": "u1", "email": "ada@example.test"},
        "status": lambda _info: {"healthy": 2},
    }
    return GraphQLApp(build_schema(COMMERCE_SDL), root, cache=False)


def auctions_app() -> GraphQLApp:
    def lot_labels(ids: list[str]) -> list[dict[str, Any] | None]:
        return [{"id": i, "lotLabel": ARTWORKS[i]["lot"]} if i in ARTWORKS else None for i in ids]

    sales = [
        {
            "id": "s1",
            "name": "Spring Evening Sale",
            "lots": [
                {
                    "id": "l7",
                    "artwork": {"id": "w1", "lotLabel": "Lot 7"},
                    "currentBid": {"amount": 900.0, "currency": "EUR"},
                }
            ],
        }
    ]
    root = {
        "sales": lambda _info: sales,
        "artworksByIds": lambda _info, ids: lot_labels(ids),
        "status": lambda _info: {"ok": False},
    }
    return GraphQLApp(build_schema(AUCTIONS_SDL), root, cache=False)


def consignments_app() -> GraphQLApp:
    submission = {
        "id": "c1",
        "title": "Untitled (Grid)",
        "state": "SUBMITTED",
        "artist": {"id": "a2"},
        "images": [{"url": "https://img.test/c1.jpg", "width": 640, "height": 480}],
    }
    root = {"submissions": lambda _info: [submission], "status": lambda _info: {"ok": False}}
    return GraphQLApp(build_schema(CONSIGNMENTS_SDL), root, cache=False)


def collections_app() -> GraphQLApp:
    collection = {
        "slug": "abstraction",
        "title": "Early Abstraction",
        "artworks": [{"id": "w1"}, {"id": "w2"}],
        "headerImage": {"url": "https://img.test/abstraction.jpg", "width": 1600},
    }
    root = {"collections": lambda _info: [collection], "status": lambda _info: {"ok": False}}
    return GraphQLApp(build_schema(COLLECTIONS_SDL), root, cache=False)


def editorial_app() -> GraphQLApp:
    article = {"id": "e1", "title": "Painting the Unseen", "artists": [{**ARTISTS["a1"], "birthday": 1862}]}
    root = {
        "articles": lambda _info: [article],
        "status": lambda _info: {"ok": False},
        "debug": lambda _info: {"build": "dev"},
    }
    return GraphQLApp(build_schema(EDITORIAL_SDL), root, cache=False)


APPS = {
    "catalog": catalog_app,
    "commerce": commerce_app,
    "auctions": auctions_app,
    "consignments": consignments_app,
    "collections": collections_app,
    "editorial": editorial_app,
}
