"""Six separately built services in one product, with the conflicts a stitched gateway over them meets (Artsy's
gateway needed 142 lines of hand-written renames for its six; these six are small, written here, and only of the
same kinds: :mod:`tests.stitcher.upstreams.gallery`). Eight lines in the Product resource (patterns, hiding and one
``prefer``) give the intended schema, and the gateway built from the portal's snapshot answers through the six real
upstreams, joining them where they share a type."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import Engine

from tests.portal.test_product_stitching import applied, ask, gateway, graphql_service, refused, team_resources
from tests.stitcher.upstreams import gallery
from tests.stitcher.upstreams.serving import UpstreamServers

# What the product owner writes: four patterns, some hiding, and which service's Artist wins (eight lines besides
# the list of sources).
PRODUCT = yaml.safe_load(
    r"""
sources:
  - service: catalog
  - service: commerce
    typePatterns: {"(Money|Status|State|Me)": "Commerce\\1"}
    rootFieldPatterns: {"(.*)": "commerce_\\1"}
  - service: auctions
    hide: [Query.status, Query.artworksByIds]
  - service: consignments
    typePatterns: {"(State|Image)": "Submission\\1"}
    hide: [Query.status]
  - service: collections
    hide: [Query.status]
  - service: editorial
    hide: [Query.status, Query.debug, Debug]
prefer: {Artist: catalog}
"""
)

# The catalogue resolves artists and artworks by id; auctions resolves a batch of artworks' lot labels.
ENTITIES = {
    "catalog": {"Artist": {"key": "id", "operation": "artist"}, "Artwork": {"key": "id", "operation": "artwork"}},
    "auctions": {"Artwork": {"key": "id", "operation": "artworksByIds"}},
}


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, str]]:
    with UpstreamServers({name: make() for name, make in gallery.APPS.items()}) as servers:
        yield servers.urls


def resources(urls: dict[str, str], product_spec: dict[str, Any]) -> list[dict[str, Any]]:
    services = {name: graphql_service(sdl, urls[name], ENTITIES.get(name)) for name, sdl in gallery.SDL.items()}
    return team_resources("gallery", services, "gallery", product_spec)


def test_without_the_product_lines_every_kind_of_conflict_is_named(engine: Engine, upstreams: dict[str, str]) -> None:
    bare = {"sources": [{"service": name} for name in gallery.SDL]}
    error = refused(engine, resources(upstreams, bare))
    assert 'Query.status: "Status!" in service "catalog" vs "Status!" in service "commerce": both resolve it' in error
    assert 'Artist.birthday: "String" in service "catalog" vs "Int" in service "editorial" (or let one service' in error
    assert 'Money.cents: cannot be resolved for a Money returned by service "catalog"' in error
    assert 'Image.height: cannot be resolved for a Image returned by service "collections"' in error


QUERIES: list[tuple[str, dict[str, Any]]] = [
    (  # the catalogue's artworks, each with its lot label from auctions (one batched call)
        "{ artworks { edges { title lotLabel artist { name birthday } price { amount currency } } } }",
        {
            "artworks": {
                "edges": [
                    {
                        "title": "The Ten Largest",
                        "lotLabel": "Lot 7",
                        "artist": {"name": "Hilma af Klint", "birthday": "1862-10-26"},
                        "price": {"amount": 1200.0, "currency": "EUR"},
                    },
                    {
                        "title": "Friendship",
                        "lotLabel": None,
                        "artist": {"name": "Agnes Martin", "birthday": "1912-03-22"},
                        "price": None,
                    },
                ]
            }
        },
    ),
    (  # commerce's renamed root fields and types; an order's artwork from the catalogue and auctions
        "{ commerce_orders { edges { state total { cents currency } artwork { title lotLabel } } } "
        "commerce_me { email } commerce_status { healthy } }",
        {
            "commerce_orders": {
                "edges": [
                    {
                        "state": "PAID",
                        "total": {"cents": 120000, "currency": "EUR"},
                        "artwork": {"title": "The Ten Largest", "lotLabel": "Lot 7"},
                    },
                    {"state": "PENDING", "total": {"cents": 5000, "currency": "USD"}, "artwork": None},
                ]
            },
            "commerce_me": {"email": "ada@example.test"},
            "commerce_status": {"healthy": 2},
        },
    ),
    (  # auctions' Money is the catalogue's: one type
        "{ sales { name lots { currentBid { amount currency } artwork { title lotLabel } } } }",
        {
            "sales": [
                {
                    "name": "Spring Evening Sale",
                    "lots": [
                        {
                            "currentBid": {"amount": 900.0, "currency": "EUR"},
                            "artwork": {"title": "The Ten Largest", "lotLabel": "Lot 7"},
                        }
                    ],
                }
            ]
        },
    ),
    (  # consignments' own Image and State, renamed; its artist stub completed by the catalogue
        "{ submissions { title state artist { name birthday } images { url width height } } }",
        {
            "submissions": [
                {
                    "title": "Untitled (Grid)",
                    "state": "SUBMITTED",
                    "artist": {"name": "Agnes Martin", "birthday": "1912-03-22"},
                    "images": [{"url": "https://img.test/c1.jpg", "width": 640, "height": 480}],
                }
            ]
        },
    ),
    (  # collections' Image is the catalogue's
        "{ collections { title headerImage { url width } artworks { title price { amount } } } }",
        {
            "collections": [
                {
                    "title": "Early Abstraction",
                    "headerImage": {"url": "https://img.test/abstraction.jpg", "width": 1600},
                    "artworks": [
                        {"title": "The Ten Largest", "price": {"amount": 1200.0}},
                        {"title": "Friendship", "price": None},
                    ],
                }
            ]
        },
    ),
    (  # editorial's artists get the catalogue's birthday (a date), as ``prefer`` says; the catalogue's status
        "{ articles { title artists { name birthday } } status { ok } me { name } }",
        {
            "articles": [
                {"title": "Painting the Unseen", "artists": [{"name": "Hilma af Klint", "birthday": "1862-10-26"}]}
            ],
            "status": {"ok": True},
            "me": {"name": "Ada"},
        },
    ),
]


async def test_eight_product_lines_compose_the_six_into_the_intended_schema(
    engine: Engine, upstreams: dict[str, str]
) -> None:
    applied(engine, resources(upstreams, PRODUCT))
    async with gateway(engine) as client:
        introspection = (
            "{ __schema { queryType { fields { name } } types { name } } "
            'artist: __type(name: "Artist") { fields { name type { name } } } '
            'image: __type(name: "Image") { fields { name } } }'
        )
        shape = await ask(client, introspection, "gallery")
        answers = [await ask(client, query, "gallery") for query, _ in QUERIES]
    schema = shape["data"]["__schema"]
    assert [f["name"] for f in schema["queryType"]["fields"]] == [
        *("artwork", "artworks", "artist", "me", "status"),
        *("commerce_orders", "commerce_order", "commerce_me", "commerce_status"),
        *("sales", "submissions", "collections", "articles"),
    ]
    types = {t["name"] for t in schema["types"] if not t["name"].startswith("__")}
    assert types == {
        *("Query", "Artwork", "ArtworkConnection", "PageInfo", "Artist", "Money", "Image", "Me", "Status"),
        *("Order", "OrderConnection", "CommerceMoney", "CommerceMe", "CommerceStatus", "CommerceState"),
        *("Sale", "Lot", "Submission", "SubmissionImage", "SubmissionState", "Collection", "Article"),
        *("ID", "String", "Int", "Float", "Boolean"),
    }
    assert {f["name"]: f["type"]["name"] for f in shape["data"]["artist"]["fields"]} == {
        "id": None,
        "name": None,
        "birthday": "String",
    }
    assert [f["name"] for f in shape["data"]["image"]["fields"]] == ["url", "width"]
    for (query, expected), answer in zip(QUERIES, answers, strict=True):
        assert answer == {"data": expected}, query
