"""A product's links (:class:`stitcher.sources.Link`) composed and executed against real upstreams: a GraphQL type
linked to a REST operation's result (one call per key, or one batched call), and the problems of links that do not
fit, each naming the link's field."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

import httpx
import pytest
from graphql import GraphQLInterfaceType, GraphQLObjectType, build_schema

from stitcher.app import create_gateway_app
from stitcher.composition import compose
from stitcher.errors import CompositionError, SchemaError
from stitcher.ir import SourceKind, Supergraph
from stitcher.options import GatewayOptions
from stitcher.sources import Link, SourceSpec, Stitching, Transforms
from stitcher.supergraph import load_supergraph, print_supergraph_sdl
from tests._serving import serving
from tests.stitcher.upstreams.app import GraphQLApp, JsonRestApp
from tests.stitcher.upstreams.federation import entity_resolvers, executable_schema

LOANS_SDL = """
type Query { loans: [Loan!]!  loansOfBook(isbn: String!): [Loan!]!  loanCount(isbn: String!, minPages: Int!): Int! }
type Loan { id: ID! isbn: String! wishlist: [String!]! }
"""

BOOKS_OPENAPI = """
openapi: 3.0.3
info: {title: Books, version: "1.0"}
paths:
  /books:
    get:
      operationId: booksByIsbns
      parameters:
        - name: isbns
          in: query
          required: true
          style: form
          explode: false
          schema: {type: array, items: {type: string}}
      responses:
        "200":
          description: the books, in the order asked (null for an unknown one)
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/Book"}}
  /books/{isbn}:
    get:
      operationId: getBook
      parameters:
        - {name: isbn, in: path, required: true, schema: {type: string}}
      responses:
        "200":
          description: one book
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Book"}
components:
  schemas:
    Book:
      type: object
      required: [isbn, title]
      properties:
        isbn: {type: string}
        title: {type: string}
        pages: {type: integer}
"""

BOOKS = {
    "111": {"isbn": "111", "title": "Dune", "pages": 412},
    "222": {"isbn": "222", "title": "Emma", "pages": 474},
}
LOANS = [
    {"id": "l1", "isbn": "111", "wishlist": ["222"]},
    {"id": "l2", "isbn": "222", "wishlist": []},
    {"id": "l3", "isbn": "111", "wishlist": ["111", "222"]},
]


class BooksApp(JsonRestApp):
    def answer(self, path: str, query: str) -> Any:
        if path == "/books":
            asked = parse_qs(query).get("isbns", [""])[0]
            return [BOOKS.get(isbn) for isbn in asked.split(",") if isbn]
        return BOOKS.get(path.removeprefix("/books/"))


def _count(isbn: str, pages: int) -> int:
    if pages > 450:
        raise ValueError(f"no count for books of {pages} pages")
    return sum(loan["isbn"] == isbn for loan in LOANS)


@dataclass
class Upstreams:
    books: BooksApp
    loans: str
    books_url: str


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    books = BooksApp()
    root = {
        "loans": lambda _info: LOANS,
        "loansOfBook": lambda _info, isbn: [loan for loan in LOANS if loan["isbn"] == isbn],
        "loanCount": lambda _info, isbn, minPages: _count(isbn, minPages),
    }
    loans = GraphQLApp(build_schema(LOANS_SDL), root, cache=False)
    with serving(books, "books") as books_url, serving(loans, "loans") as loans_url:
        yield Upstreams(books, f"{loans_url}/graphql", books_url)


def specs(up: Upstreams | None = None, loans: Transforms | None = None) -> list[SourceSpec]:
    return [
        SourceSpec(
            "loans",
            SourceKind.GRAPHQL,
            LOANS_SDL,
            url=up.loans if up else "http://loans.test",
            transforms=loans or Transforms(),
        ),
        SourceSpec("books", SourceKind.OPENAPI, BOOKS_OPENAPI, url=up.books_url if up else "http://books.test"),
    ]


BOOK = Link("Loan", "book", "books", "getBook", {"isbn": "isbn"}, returns="Book")
BATCHED = Link("Loan", "volume", "books", "booksByIsbns", {"isbns": "isbn"})


@contextlib.asynccontextmanager
async def gateway(
    up: Upstreams, *links: Link, supergraph: Supergraph | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    served = supergraph or compose(specs(up), Stitching(links=links))
    app = create_gateway_app(supergraph=served, options=GatewayOptions(freeze_gc=False))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client,
    ):
        yield client


async def test_a_graphql_type_linked_to_a_rest_operation(upstreams: Upstreams) -> None:
    async with gateway(upstreams, BOOK, BATCHED) as client:
        before = len(upstreams.books.paths)
        single = await client.post("/graphql", json={"query": "{ loans { id book { title pages } } }"})
        singles = upstreams.books.paths[before:]
        before = len(upstreams.books.paths)
        batched = await client.post("/graphql", json={"query": "{ loans { id volume { title } } }"})
        batches = upstreams.books.paths[before:]
    assert single.json() == {
        "data": {
            "loans": [
                {"id": "l1", "book": {"title": "Dune", "pages": 412}},
                {"id": "l2", "book": {"title": "Emma", "pages": 474}},
                {"id": "l3", "book": {"title": "Dune", "pages": 412}},
            ]
        }
    }
    assert sorted(singles) == ["/books/111", "/books/222"]  # one request per distinct key
    assert batched.json()["data"]["loans"][2] == {"id": "l3", "volume": {"title": "Dune"}}
    assert [v["volume"]["title"] for v in batched.json()["data"]["loans"]] == ["Dune", "Emma", "Dune"]
    assert [unquote(path) for path in batches] == ["/books?isbns=111,222"]  # every key in one request


def test_the_link_field_is_in_the_product_schema() -> None:
    supergraph = compose(specs(), Stitching(links=(BOOK, BATCHED)))
    loan = supergraph.schema.get_type("Loan")
    assert isinstance(loan, GraphQLObjectType)
    assert str(loan.fields["book"].type) == "Book" and str(loan.fields["volume"].type) == "Book"
    query = supergraph.schema.query_type
    assert query is not None and "getBook" in query.fields  # the operation stays where books serves it
    assert [j.graph for j in supergraph.fields[("Loan", "book")]] == ["books (link Loan.book)"]


@pytest.mark.parametrize(
    ("link", "problem"),
    [
        (
            Link("Loan", "isbn", "books", "getBook", {"isbn": "isbn"}),
            'links[0].field: Loan.isbn exists already (in service "loans"); choose a free name for the link',
        ),
        (
            Link("Loan", "book", "books", "booksByIsbns", {"isbns": "isbn"}, returns="Author"),
            "links[0].returns: Query.booksByIsbns of service 'books' returns Book ([Book!]), not Author",
        ),
        (
            Link("Book", "loans", "loans", "loans", {"x": "isbn"}),
            "links[0].arguments.x: Query.loans of service 'loans' has no argument x (arguments: none)",
        ),
        (
            Link("Loan", "book", "books", "getBook", {"isbn": "isbn", "id": "id"}),
            "links[0].arguments.id: Query.getBook of service 'books' has no argument id (arguments: isbn)",
        ),
    ],
)
def test_a_link_that_does_not_fit_is_named(link: Link, problem: str) -> None:
    with pytest.raises(CompositionError) as info:
        compose(specs(), Stitching(links=(link,)))
    assert info.value.conflicts == [problem]


async def test_the_supergraph_carries_rest_bindings_and_links_to_the_gateway(upstreams: Upstreams) -> None:
    """What ``loom compose --supergraph`` prints and ``loom gateway --supergraph`` serves: the REST operations and
    the links survive (they are no join information: the SDL carries the sources, @loom__source)."""
    sdl = print_supergraph_sdl(compose(specs(upstreams), Stitching(links=(BOOK,))))
    assert '@link(url: "https://specs.loom.dev/loom/v0.1")' in sdl and "@loom__stitching(" in sdl
    assert sdl.count('@loom__source(protocol: "') == 2  # loans and books; the link's own graph is composed again
    loaded = load_supergraph(sdl)
    assert loaded.subgraphs["books"].kind is SourceKind.OPENAPI and loaded.subgraphs["books"].rest is not None
    async with gateway(upstreams, supergraph=loaded) as client:
        answer = await client.post(
            "/graphql", json={"query": '{ getBook(isbn: "222") { title } loans { book { pages } } }'}
        )
    assert answer.json() == {
        "data": {
            "getBook": {"title": "Emma"},
            "loans": [{"book": {"pages": 412}}, {"book": {"pages": 474}}, {"book": {"pages": 412}}],
        }
    }


def test_a_supergraph_whose_schema_was_edited_is_refused() -> None:
    sdl = print_supergraph_sdl(compose(specs(), Stitching(links=(BOOK,))))
    edited = sdl.replace(
        "  id: ID! @join__field(graph: LOANS)\n", "  id: ID! @join__field(graph: LOANS)\n  extra: Int\n", 1
    )
    assert edited != sdl
    with pytest.raises(SchemaError, match=r"not what the sources it carries .* compose into: was it edited"):
        load_supergraph(edited)


def test_a_supergraph_reformatted_by_hand_is_checked_and_served() -> None:
    """Loading takes the composition of the carried sources at once when it prints as the SDL; a supergraph that
    differs only in layout goes through the full check (its own schema built and compared) and is served."""
    sdl = print_supergraph_sdl(compose(specs(), Stitching(links=(BOOK,))))
    reformatted = sdl.replace("\n\n", "\n\n# a comment a person added\n\n", 3)
    assert reformatted != sdl
    loaded = load_supergraph(reformatted)
    assert print_supergraph_sdl(loaded) == sdl
    assert "book" in loaded.schema.get_type("Loan").fields  # type: ignore[union-attr]


def test_a_supergraph_served_elsewhere_uses_the_urls_it_says() -> None:
    sdl = print_supergraph_sdl(compose(specs(), Stitching(links=(BOOK,))))
    moved = load_supergraph(sdl.replace("http://books.test", "http://books.internal:8080"))
    assert moved.subgraphs["books"].url == "http://books.internal:8080"
    assert moved.subgraphs["books (link Loan.book)"].url == "http://books.internal:8080"


async def test_a_rest_type_linked_to_a_renamed_graphql_operation_one_to_many(upstreams: Upstreams) -> None:
    """The other way round: the REST source's Book gets the loans of each book from the GraphQL service, whose root
    fields the product renames (the link names the product's field, the upstream gets its own)."""
    renamed = Transforms(root_field_patterns={"(.*)": "lending_\\1"})
    link = Link("Book", "loans", "loans", "lending_loansOfBook", {"isbn": "isbn"})
    supergraph = compose(specs(upstreams, loans=renamed), Stitching(links=(link,)))
    book = supergraph.schema.get_type("Book")
    assert isinstance(book, GraphQLObjectType) and str(book.fields["loans"].type) == "[Loan!]"
    async with gateway(upstreams, supergraph=supergraph) as client:
        answer = await client.post("/graphql", json={"query": '{ getBook(isbn: "111") { title loans { id } } }'})
    assert answer.json() == {"data": {"getBook": {"title": "Dune", "loans": [{"id": "l1"}, {"id": "l3"}]}}}


async def test_a_link_with_two_arguments_to_a_scalar(upstreams: Upstreams) -> None:
    """Each argument from its own field (one call per object), and a result that is no object; an upstream error
    points at the link field of the object it was for."""
    link = Link("Book", "loanCount", "loans", "loanCount", {"isbn": "isbn", "minPages": "pages"})
    async with gateway(upstreams, link) as client:
        answer = await client.post(
            "/graphql",
            json={"query": '{ a: getBook(isbn: "111") { loanCount } b: getBook(isbn: "222") { loanCount } }'},
        )
    assert answer.json() == {
        "data": {"a": {"loanCount": 2}, "b": {"loanCount": None}},
        "errors": [
            {
                "message": "no count for books of 474 pages",
                "path": ["b", "loanCount"],
                "locations": [{"line": 1, "column": 67}],  # the client's second loanCount
            }
        ],
    }


async def test_a_list_field_to_a_list_argument_is_one_to_many_without_batching(upstreams: Upstreams) -> None:
    link = Link("Loan", "wishes", "books", "booksByIsbns", {"isbns": "wishlist"})
    supergraph = compose(specs(upstreams), Stitching(links=(link,)))
    loan = supergraph.schema.get_type("Loan")
    assert isinstance(loan, GraphQLObjectType) and str(loan.fields["wishes"].type) == "[Book!]"
    async with gateway(upstreams, supergraph=supergraph) as client:
        before = len(upstreams.books.paths)
        answer = await client.post("/graphql", json={"query": "{ loans { id wishes { title } } }"})
        sent = sorted(unquote(path) for path in upstreams.books.paths[before:])
    assert answer.json() == {
        "data": {
            "loans": [
                {"id": "l1", "wishes": [{"title": "Emma"}]},
                {"id": "l2", "wishes": []},
                {"id": "l3", "wishes": [{"title": "Dune"}, {"title": "Emma"}]},
            ]
        }
    }
    assert len(sent) == 3 and "/books?isbns=111,222" in sent and "/books?isbns=222" in sent  # one call per loan


USERS_SDL = """
type Query { user(id: ID!): User  users(ids: [ID!]!): [User]! }
type User { id: ID! name: String! managerId: ID }
"""
USERS: dict[str, dict[str, Any]] = {
    "1": {"id": "1", "name": "Ada", "managerId": None},
    "2": {"id": "2", "name": "Bob", "managerId": "1"},
    "3": {"id": "3", "name": "Cy", "managerId": "2"},
    "4": {"id": "4", "name": "Di", "managerId": "2"},
}
MANAGER = Link("User", "manager", "users", "user", {"id": "managerId"}, returns="User")
BOSS = Link("User", "boss", "users", "users", {"ids": "managerId"})  # batched: one call per level


@contextlib.contextmanager
def users_service() -> Iterator[tuple[GraphQLApp, SourceSpec]]:
    root = {
        "user": lambda _info, id: USERS.get(id),
        "users": lambda _info, ids: [USERS.get(i) for i in ids],
    }
    app = GraphQLApp(build_schema(USERS_SDL), root, cache=False)
    with serving(app, "users") as url:
        yield app, SourceSpec("users", SourceKind.GRAPHQL, USERS_SDL, url=f"{url}/graphql")


async def _served(supergraph: Supergraph, query: str) -> Any:
    app = create_gateway_app(supergraph=supergraph, options=GatewayOptions(freeze_gc=False))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client,
    ):
        return (await client.post("/graphql", json={"query": query})).json()


async def _check_self_links(composed: Supergraph, app: GraphQLApp, desk: str = "") -> None:
    """``User.manager`` and ``User.boss`` served from ``composed`` and from its printed and loaded supergraph: each
    level is one more call to ``app``, batched for ``users(ids:)``; ``desk`` is selected on each manager when given."""
    user = composed.schema.get_type("User")
    assert isinstance(user, GraphQLObjectType) and str(user.fields["manager"].type) == "User"
    for supergraph in (composed, load_supergraph(print_supergraph_sdl(composed))):
        before = app.requests
        chain = await _served(
            supergraph, f'{{ user(id: "3") {{ name manager {{ name {desk} manager {{ name manager {{ id }} }} }} }} }}'
        )
        bob: dict[str, Any] = {"name": "Bob", "desk": "D2"} if desk else {"name": "Bob"}
        assert chain == {
            "data": {"user": {"name": "Cy", "manager": {**bob, "manager": {"name": "Ada", "manager": None}}}}
        }
        assert app.requests - before == 3  # the user, then one call per manager (Ada has none: no call)
        before = app.requests
        batched = await _served(
            supergraph, f'{{ users(ids: ["3", "4", "1"]) {{ name boss {{ name {desk} boss {{ name }} }} }} }}'
        )
        assert batched == {
            "data": {
                "users": [
                    {"name": "Cy", "boss": {**bob, "boss": {"name": "Ada"}}},
                    {"name": "Di", "boss": {**bob, "boss": {"name": "Ada"}}},
                    {"name": "Ada", "boss": None},
                ]
            }
        }
        assert app.requests - before == 3  # the users, their bosses in one call, the bosses' bosses in one


async def test_a_type_linked_to_itself_through_its_own_service() -> None:
    """``User.manager`` is ``user(id: <the user's managerId>)`` of the users service, which returns User itself."""
    with users_service() as (app, spec):
        await _check_self_links(compose([spec], Stitching(links=(MANAGER, BOSS))), app)


FEDERATED_USERS_SDL = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])\n'
    + USERS_SDL.replace("type User {", 'type User @key(fields: "id") {')
)
DESKS_SDL = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])\n'
    'type User @key(fields: "id") { id: ID! desk: String! }\n'
)


def _typed(user: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if user is None else {"__typename": "User", **user}


async def test_a_self_link_onto_a_federation_subgraph_is_served() -> None:
    """The same self-links onto a Federation subgraph, whose ``User`` entity another subgraph extends with ``desk``:
    the linked managers get their desks through ``_entities`` as any other User does."""
    users_root = {
        "user": lambda _info, id: _typed(USERS.get(id)),
        "users": lambda _info, ids: [_typed(USERS.get(i)) for i in ids],
        **entity_resolvers(lambda rep: _typed(USERS.get(rep["id"])), FEDERATED_USERS_SDL),
    }
    desks_root = entity_resolvers(
        lambda rep: {"__typename": "User", "id": rep["id"], "desk": f"D{rep['id']}"}, DESKS_SDL
    )
    users = GraphQLApp(executable_schema(FEDERATED_USERS_SDL, ["User"]), users_root, cache=False)
    desks = GraphQLApp(executable_schema(DESKS_SDL, ["User"]), desks_root, cache=False)
    with serving(users, "users") as users_url, serving(desks, "desks") as desks_url:
        specs_ = [
            SourceSpec("users", SourceKind.FEDERATION, FEDERATED_USERS_SDL, url=f"{users_url}/graphql"),
            SourceSpec("desks", SourceKind.FEDERATION, DESKS_SDL, url=f"{desks_url}/graphql"),
        ]
        await _check_self_links(compose(specs_, Stitching(links=(MANAGER, BOSS))), users, desk="desk")


LIBRARY_SDL = """
type Query { items: [Item!]!  item(id: ID!): Item }
interface Item { id: ID! ownerId: ID! }
type Book implements Item { id: ID! ownerId: ID! title: String! }
type Disc implements Item { id: ID! ownerId: ID! minutes: Int! }
"""
ITEMS: list[dict[str, Any]] = [
    {"__typename": "Book", "id": "b1", "ownerId": "2", "title": "Dune"},
    {"__typename": "Disc", "id": "d1", "ownerId": "3", "minutes": 90},
    {"__typename": "Book", "id": "b2", "ownerId": "9", "title": "Emma"},
]


async def test_a_link_on_an_interface_is_a_field_of_every_implementation() -> None:
    """``Item.owner`` from the users service: the interface and both implementations get the field; a query on the
    interface is planned per concrete type (one call per distinct owner, or one batched call)."""
    owner = Link("Item", "owner", "users", "user", {"id": "ownerId"}, returns="User")
    holders = Link("Item", "holder", "users", "users", {"ids": "ownerId"})
    library = GraphQLApp(
        build_schema(LIBRARY_SDL),
        {"items": lambda _info: ITEMS, "item": lambda _info, id: next((i for i in ITEMS if i["id"] == id), None)},
        cache=False,
    )
    with users_service() as (users, spec), serving(library, "library") as url:
        specs_ = [SourceSpec("library", SourceKind.GRAPHQL, LIBRARY_SDL, url=f"{url}/graphql"), spec]
        composed = compose(specs_, Stitching(links=(owner, holders)))
        for type_name in ("Item", "Book", "Disc"):
            named = composed.schema.get_type(type_name)
            assert isinstance(named, GraphQLObjectType | GraphQLInterfaceType)
            assert str(named.fields["owner"].type) == "User" and str(named.fields["holder"].type) == "User"
        query = "{ items { id owner { name } ... on Book { title holder { id } } } }"
        for supergraph in (composed, load_supergraph(print_supergraph_sdl(composed))):
            before = users.requests
            answer = await _served(supergraph, query)
            assert answer == {
                "data": {
                    "items": [
                        {"id": "b1", "owner": {"name": "Bob"}, "title": "Dune", "holder": {"id": "2"}},
                        {"id": "d1", "owner": {"name": "Cy"}},
                        {"id": "b2", "owner": None, "title": "Emma", "holder": None},
                    ]
                }
            }
            # Per concrete type: the books' owners in one request, their holders in one batched call, the disc's owner.
            calls = sorted(str(body["variables"]["_k0"]) for body in users.bodies[before:])
            assert calls == ["2", "3", "['2', '9']"] and users.requests - before == 3
            one = await _served(supergraph, '{ item(id: "d1") { ... on Disc { minutes } owner { id } } }')
            assert one == {"data": {"item": {"minutes": 90, "owner": {"id": "3"}}}}


def test_a_link_on_an_interface_that_does_not_fit_is_named() -> None:
    with users_service() as (_, spec):
        library = SourceSpec("library", SourceKind.GRAPHQL, LIBRARY_SDL, url="http://library.test")
        taken = Link("Item", "ownerId", "users", "user", {"id": "ownerId"})
        with pytest.raises(CompositionError) as info:
            compose([library, spec], Stitching(links=(taken,)))
        assert info.value.conflicts == [
            'links[0].field: Item.ownerId exists already (in service "library"); choose a free name for the link'
        ]
        missing = Link("Item", "owner", "users", "user", {"id": "title"})
        with pytest.raises(CompositionError) as info:
            compose([library, spec], Stitching(links=(missing,)))
        assert info.value.conflicts == ["links[0].arguments.id: Disc has no field title"]
        itself = Link("Item", "next", "library", "item", {"id": "ownerId"})
        with pytest.raises(CompositionError) as info:
            compose([library, spec], Stitching(links=(itself,)))
        assert info.value.conflicts == [
            "links[0].type: Query.item of service 'library' returns Item objects itself (through Item); a link on an "
            "interface cannot return it: link each implementation instead"
        ]
