"""A value-type field that only a subgraph without a key for the value type resolves: Genre has no key in
``shelving`` and ``genres``, which share ``Book.genre``, so its fields there are fetched by asking that subgraph
for the enclosing Book (``_entities { ... on Book { genre { blurb } } }``), whose key the subgraph returning the
book gives (``id`` is @external in both). ``label`` needs Genre's key ``code`` from ``labels``, and ``code`` itself
comes from ``genres`` the same way, before the fetch that plans ``label``."""

from __future__ import annotations

from typing import Any

from stitcher.transport import AiohttpTransport
from tests.stitcher.federation.kit import Gateway, Subgraph, gateway_fixture

GENRES = {"b1": "poetry", "b2": "maps"}


def _book(rep: dict[str, Any], genre: dict[str, Any]) -> dict[str, Any]:
    return {"id": rep["id"], "genre": genre}


SUBGRAPHS = (
    Subgraph(
        "catalog",
        'type Query { book(id: ID!): Book }\ntype Book @key(fields: "id") { id: ID! title: String }',
        ["Book"],
        {"book": lambda id: {"id": id, "title": f"Title {id}"}},
        lambda rep: {"id": rep["id"], "title": f"Title {rep['id']}"},
    ),
    Subgraph(
        "shelving",
        'type Book @key(fields: "id") { id: ID! @external genre: Genre @shareable }\n'
        "type Genre @shareable { blurb: String }",
        ["Book"],
        resolve=lambda rep: _book(rep, {"blurb": f"About {GENRES[rep['id']]}"}),
    ),
    Subgraph(
        "genres",
        'type Book @key(fields: "id") { id: ID! @external genre: Genre @shareable }\n'
        "type Genre @shareable { code: ID }",
        ["Book"],
        resolve=lambda rep: _book(rep, {"code": GENRES[rep["id"]]}),
    ),
    Subgraph(
        "labels",
        'type Genre @key(fields: "code") { code: ID label: String }',
        ["Genre"],
        resolve=lambda rep: {"code": rep["code"], "label": rep["code"].upper()},
    ),
)
SUPERGRAPH = """
type Query @join__type(graph: CATALOG) @join__type(graph: SHELVING) @join__type(graph: GENRES)
  @join__type(graph: LABELS) {
  book(id: ID!): Book @join__field(graph: CATALOG)
}
type Book @join__type(graph: CATALOG, key: "id") @join__type(graph: SHELVING, key: "id")
  @join__type(graph: GENRES, key: "id") {
  id: ID! @join__field(graph: CATALOG) @join__field(graph: SHELVING, external: true)
    @join__field(graph: GENRES, external: true)
  title: String @join__field(graph: CATALOG)
  genre: Genre @join__field(graph: SHELVING) @join__field(graph: GENRES)
}
type Genre @join__type(graph: SHELVING) @join__type(graph: GENRES) @join__type(graph: LABELS, key: "code") {
  blurb: String @join__field(graph: SHELVING)
  code: ID @join__field(graph: GENRES) @join__field(graph: LABELS)
  label: String @join__field(graph: LABELS)
}
"""
gateway = gateway_fixture(*SUBGRAPHS, supergraph=SUPERGRAPH)


async def test_a_value_type_field_comes_through_the_enclosing_entity(
    gateway: Gateway, transport: AiohttpTransport
) -> None:
    await gateway.check(
        transport,
        '{ book(id: "b1") { title genre { blurb code } } }',
        {"book": {"title": "Title b1", "genre": {"blurb": "About poetry", "code": "poetry"}}},
    )


async def test_a_key_of_a_value_type_comes_through_the_enclosing_entity_first(
    gateway: Gateway, transport: AiohttpTransport
) -> None:
    await gateway.check(
        transport,
        '{ book(id: "b2") { genre { label blurb } } }',
        {"book": {"genre": {"label": "MAPS", "blurb": "About maps"}}},
    )
    await gateway.check(
        transport,
        '{ book(id: "b1") { id genre { code label } } }',
        {"book": {"id": "b1", "genre": {"code": "poetry", "label": "POETRY"}}},
    )
