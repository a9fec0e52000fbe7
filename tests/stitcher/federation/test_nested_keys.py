"""A nested key that the subgraph giving it cannot complete: ``ranking`` keys a Shelf by ``books { id isbn }``,
while ``catalog`` (which returns the shelf) knows a Book only by ``id``. The gateway must not ask ``catalog`` for
``isbn`` (its Book has none): it fetches the books' ``isbn`` from ``isbns`` first, then sends the complete key.

Apollo composes these subgraphs (the key is reachable through ``isbns``); our composition refuses them (its
reachability check does not follow entity hops inside a key), so the test loads Apollo's supergraph."""

from __future__ import annotations

from typing import Any

from stitcher.transport import AiohttpTransport
from tests.stitcher.federation.kit import Gateway, Subgraph, gateway_fixture

ISBN = {"b1": "978-1", "b2": "978-2"}


def _ranked(rep: dict[str, Any]) -> dict[str, Any]:
    books = rep["books"]
    assert all(set(book) == {"id", "isbn"} for book in books), books  # exactly the key, no gateway field
    best = max(books, key=lambda book: book["isbn"])
    return {"books": books, "top": best}


SUBGRAPHS = (
    Subgraph(
        "catalog",
        'type Query { shelf: Shelf! }\ntype Shelf @key(fields: "books { id }") { books: [Book!]! }\n'
        'type Book @key(fields: "id") { id: ID! title: String! }',
        ["Shelf", "Book"],
        {"shelf": lambda: {"books": [{"id": "b1", "title": "Dune"}, {"id": "b2", "title": "Emma"}]}},
        lambda rep: {"id": rep["id"], "title": {"b1": "Dune", "b2": "Emma"}[rep["id"]]},
    ),
    Subgraph(
        "isbns",
        'type Book @key(fields: "id") { id: ID! isbn: String! @shareable }',
        ["Book"],
        resolve=lambda rep: {"id": rep["id"], "isbn": ISBN[rep["id"]]},
    ),
    Subgraph(
        "ranking",
        'type Shelf @key(fields: "books { id isbn }") { books: [Book!]! top: Book }\n'
        'type Book @key(fields: "id isbn") { id: ID! isbn: String! }',
        ["Shelf", "Book"],
        resolve=lambda rep: _ranked(rep) if rep["__typename"] == "Shelf" else {"id": rep["id"], "isbn": rep["isbn"]},
    ),
)
SUPERGRAPH = """
type Query @join__type(graph: CATALOG) @join__type(graph: ISBNS) @join__type(graph: RANKING) {
  shelf: Shelf! @join__field(graph: CATALOG)
}
type Shelf @join__type(graph: CATALOG, key: "books { id }") @join__type(graph: RANKING, key: "books { id isbn }") {
  books: [Book!]!
  top: Book @join__field(graph: RANKING)
}
type Book @join__type(graph: CATALOG, key: "id") @join__type(graph: ISBNS, key: "id")
  @join__type(graph: RANKING, key: "id isbn") {
  id: ID!
  title: String! @join__field(graph: CATALOG)
  isbn: String! @join__field(graph: ISBNS) @join__field(graph: RANKING)
}
"""
gateway = gateway_fixture(*SUBGRAPHS, supergraph=SUPERGRAPH)


async def test_a_nested_key_field_the_source_lacks_is_fetched_first(
    gateway: Gateway, transport: AiohttpTransport
) -> None:
    await gateway.check(
        transport,
        "{ shelf { books { id title } top { id isbn title } } }",
        {
            "shelf": {
                "books": [{"id": "b1", "title": "Dune"}, {"id": "b2", "title": "Emma"}],
                "top": {"id": "b2", "isbn": "978-2", "title": "Emma"},
            }
        },
    )
    for body in gateway.requests("catalog"):
        assert "isbn" not in body["query"]
