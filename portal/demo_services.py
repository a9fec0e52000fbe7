"""The demo's upstream services for the library example (``portal/examples/library``), as lean raw ASGI apps.

* ``members``: an Apollo Federation v2 subgraph (``members.graphql``; ``_service`` and ``_entities`` included).
* ``loans``: a plain GraphQL service (``loans.graphql``).
* ``catalog``: a REST service implementing ``catalog.openapi.yaml`` (``/books``, ``/books/{isbn}``, ``/holds``).

They serve the schema files of the example itself, so the demo and the resources it applies cannot drift apart.
The data is in memory and joins: every loan's ``memberId`` is a member's ``id`` and every loan's ``isbn`` is a
catalog book's ``isbn``. Due dates are relative to the day the app was built, so some loans are always overdue.
Every app answers ``GET /healthz`` (the example's health check path); GraphQL is served by POST on any other path.

``loans`` knows a loan's borrower only by id (``Loan.member: Member`` with ``id``); the product resolves the rest of
the ``Member`` from the ``members`` subgraph, so a query for ``overdueLoans { member { displayName } }`` is a join
across two services.

``python -m portal.demo_services SERVICE (--fd FD | --port PORT) [--host HOST]`` serves one of them as a process of
its own (what ``loom up`` runs, one per service and cluster): on a listening socket it inherited (``--fd``, so the
port ``loom up`` reserved cannot be taken in between) or on a port it binds. It exits on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import re
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import orjson
import uvicorn
from graphql import GraphQLSchema, build_schema, execute_sync, parse, validate
from graphql.error import GraphQLError

__all__ = [
    "BOOKS",
    "DEMO_SERVICES",
    "LIBRARY_EXAMPLE",
    "LOANS",
    "MEMBERS",
    "catalog_app",
    "graphql_app",
    "loans_app",
    "main",
    "members_app",
]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LIBRARY_EXAMPLE = Path(__file__).parent / "examples" / "library"
"""The library example's resources and schema files, shipped in the package (a copy of the design's example)."""

MEMBERS: tuple[Mapping[str, Any], ...] = (
    {"id": "m1", "displayName": "Ada Lovelace", "joinedYear": 2019, "tier": "PATRON"},
    {"id": "m2", "displayName": "Grace Hopper", "joinedYear": 2021, "tier": "PLUS"},
    {"id": "m3", "displayName": "Alan Turing", "joinedYear": 2023, "tier": "BASIC"},
    {"id": "m4", "displayName": "Katherine Johnson", "joinedYear": None, "tier": "BASIC"},
)

BOOKS: tuple[Mapping[str, Any], ...] = (
    {
        "isbn": "9780441172719",
        "title": "Dune",
        "authors": ["Frank Herbert"],
        "subject": "science-fiction",
        "format": {"kind": "print", "pages": 412},
        "published": "1965-08-01",
    },
    {
        "isbn": "9780553293357",
        "title": "Foundation",
        "authors": ["Isaac Asimov"],
        "subject": "science-fiction",
        "format": {"kind": "ebook", "sizeKb": 1840},
        "published": "1951-06-01",
    },
    {
        "isbn": "9780262046305",
        "title": "Introduction to Algorithms",
        "authors": ["Thomas H. Cormen", "Charles E. Leiserson", "Ronald L. Rivest", "Clifford Stein"],
        "subject": "computing",
        "format": {"kind": "print", "pages": 1312},
        "published": "2022-04-05",
    },
    {
        "isbn": "9780131103627",
        "title": "The C Programming Language",
        "authors": ["Brian W. Kernighan", "Dennis M. Ritchie"],
        "subject": "computing",
        "format": {"kind": "print", "pages": 272},
        "published": "1988-03-22",
    },
    {
        "isbn": "9781593279288",
        "title": "Python Crash Course",
        "authors": ["Eric Matthes"],
        "subject": "computing",
        "format": {"kind": "ebook", "sizeKb": 9120},
        "published": None,
    },
)

# (id, memberId, isbn, due in days from "today" (negative: overdue unless returned), returned)
LOANS: tuple[tuple[str, str, str, int, bool], ...] = (
    ("l1", "m1", "9780441172719", 14, False),
    ("l2", "m1", "9780131103627", -3, False),
    ("l3", "m2", "9780262046305", -10, False),
    ("l4", "m2", "9780553293357", -30, True),
    ("l5", "m3", "9781593279288", 7, False),
)


# --- raw ASGI plumbing -------------------------------------------------------------------------------------------

_JSON = b"application/json"
_MAX_BODY = 1 << 20


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    body: Any


async def _read_body(receive: Receive) -> bytes | None:
    """The request body, or None when it is larger than the demo accepts."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > _MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send_json(send: Send, response: _Response) -> None:
    body = orjson.dumps(response.body)
    headers = [(b"content-type", _JSON), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


Handler = Callable[[str, str, Mapping[str, list[str]], bytes], _Response]


def _asgi(name: str, handle: Handler) -> ASGIApp:
    """An ASGI app around a synchronous handler ``(method, path, query, body) -> response`` plus ``/healthz``."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        if path == "/healthz":
            await _send_json(send, _Response(200, {"status": "ok", "service": name}))
            return
        body = await _read_body(receive)
        if body is None:
            await _send_json(send, _Response(413, {"title": f"request body over {_MAX_BODY} bytes", "status": 413}))
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        await _send_json(send, handle(method, path, query, body))

    return app


# --- GraphQL services ----------------------------------------------------------------------------------------------


def _graphql_handler(schema: GraphQLSchema, root: Mapping[str, Any]) -> Handler:
    """GraphQL over HTTP: POST ``{"query", "variables", "operationName"}`` as JSON on any path."""

    def handle(method: str, path: str, query: Mapping[str, list[str]], body: bytes) -> _Response:
        if method != "POST":
            return _Response(405, {"errors": [{"message": f"{method} {path}: send GraphQL requests by POST"}]})
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return _Response(400, {"errors": [{"message": f"the request body is not JSON: {exc}"}]})
        if not isinstance(request, dict) or not isinstance(request.get("query"), str):
            return _Response(400, {"errors": [{"message": 'the request body needs a "query" string'}]})
        try:
            document = parse(request["query"])
        except GraphQLError as exc:
            return _Response(400, {"errors": [exc.formatted]})
        errors = validate(schema, document)
        if errors:
            return _Response(400, {"errors": [error.formatted for error in errors]})
        variables = request.get("variables")
        result = execute_sync(
            schema,
            document,
            root_value=root,
            variable_values=variables if isinstance(variables, dict) else None,
            operation_name=request.get("operationName"),
        )
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [error.formatted for error in result.errors]
        return _Response(200, payload)

    return handle


def graphql_app(name: str, sdl: str, root: Mapping[str, Any]) -> ASGIApp:
    """A plain GraphQL service over ``sdl`` whose root fields ``root`` resolves (``(info, **arguments) -> value``),
    plus ``/healthz``: a small upstream for a test or a demo."""
    return _asgi(name, _graphql_handler(build_schema(sdl), root))


# What a Federation v2 subgraph adds to its own SDL (the parts graphql-core needs to execute it).
_FEDERATION_MACHINERY = """
scalar _Any
scalar FieldSet
scalar link__Import
directive @link(url: String!, import: [link__Import]) repeatable on SCHEMA
directive @key(fields: FieldSet!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
directive @shareable repeatable on OBJECT | FIELD_DEFINITION
type _Service { sdl: String }
union _Entity = Member
extend type Query { _entities(representations: [_Any!]!): [_Entity]! _service: _Service! }
"""


def _member(member_id: object) -> dict[str, Any] | None:
    found = next((m for m in MEMBERS if m["id"] == member_id), None)
    return None if found is None else {"__typename": "Member", **found}


def members_app() -> ASGIApp:
    """The ``members`` Federation v2 subgraph: ``member``, ``members`` and ``Member`` entities by ``id``."""
    sdl = (LIBRARY_EXAMPLE / "members.graphql").read_text()
    schema = build_schema(sdl + _FEDERATION_MACHINERY)

    def entities(_info: Any, representations: list[Any]) -> list[Any]:
        return [
            _member(rep.get("id")) if isinstance(rep, dict) and rep.get("__typename") == "Member" else None
            for rep in representations
        ]

    root = {
        "member": lambda _info, id: _member(id),
        "members": lambda _info, first=20: [_member(m["id"]) for m in MEMBERS[: max(first, 0)]],
        "_entities": entities,
        "_service": lambda _info: {"sdl": sdl},
    }
    return _asgi("members", _graphql_handler(schema, root))


def loans_app(*, today: date | None = None) -> ASGIApp:
    """The ``loans`` plain GraphQL service. Due dates count from ``today`` (default: the day it is built)."""
    schema = build_schema((LIBRARY_EXAMPLE / "loans.graphql").read_text())
    start = today or date.today()
    loans = [
        {
            "id": id_,
            "memberId": member,
            "member": {"id": member},  # the rest of the Member comes from the members service (a stitched join)
            "isbn": isbn,
            "dueOn": (start + timedelta(days=due)).isoformat(),
            "returned": r,
        }
        for id_, member, isbn, due, r in LOANS
    ]
    root = {
        "loan": lambda _info, id: next((loan for loan in loans if loan["id"] == id), None),
        "loansByMemberIds": lambda _info, memberIds: [
            [loan for loan in loans if loan["memberId"] == member] for member in memberIds
        ],
        # ISO dates compare as text.
        "overdueLoans": lambda _info: [
            loan for loan in loans if not loan["returned"] and str(loan["dueOn"]) < start.isoformat()
        ],
    }
    return _asgi("loans", _graphql_handler(schema, root))


# --- the catalog REST service -----------------------------------------------------------------------------------

_BOOK = re.compile(r"^/books/(?P<isbn>[^/]+)$")


def _problem(status: int, title: str) -> _Response:
    return _Response(status, {"title": title, "status": status})


def _book(book: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in book.items() if key != "subject"}


def catalog_app() -> ASGIApp:
    """The ``catalog`` REST service of ``catalog.openapi.yaml``. Holds are kept in memory, per app."""
    holds: list[dict[str, Any]] = []

    def list_books(query: Mapping[str, list[str]]) -> _Response:
        subject = query.get("subject", [None])[0]
        raw_limit = query.get("limit", ["20"])[0]
        try:
            limit = int(raw_limit)
        except ValueError:
            return _problem(400, f"limit must be an integer, not {raw_limit!r}")
        if not 0 <= limit <= 100:
            return _problem(400, f"limit must be between 0 and 100, not {limit}")
        books = [_book(b) for b in BOOKS if subject is None or b["subject"] == subject]
        return _Response(200, books[:limit])

    def place_hold(body: bytes) -> _Response:
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _problem(400, "the request body must be a JSON object with isbn and memberId")
        if not isinstance(request, dict) or not all(isinstance(request.get(k), str) for k in ("isbn", "memberId")):
            return _problem(400, "isbn and memberId are required strings")
        if not any(b["isbn"] == request["isbn"] for b in BOOKS):
            return _problem(404, f"no book with isbn {request['isbn']}")
        position = 1 + sum(1 for hold in holds if hold["isbn"] == request["isbn"])
        hold = {"id": f"h{len(holds) + 1}", "isbn": request["isbn"], "memberId": request["memberId"]}
        hold["position"] = position
        holds.append(hold)
        return _Response(201, hold)

    def handle(method: str, path: str, query: Mapping[str, list[str]], body: bytes) -> _Response:
        if path == "/books":
            return list_books(query) if method in ("GET", "HEAD") else _problem(405, f"{method} {path} is not allowed")
        if path == "/holds":
            return place_hold(body) if method == "POST" else _problem(405, f"{method} {path} is not allowed")
        if (match := _BOOK.match(path)) is not None:
            if method not in ("GET", "HEAD"):
                return _problem(405, f"{method} {path} is not allowed")
            book = next((b for b in BOOKS if b["isbn"] == match["isbn"]), None)
            return _problem(404, f"no book with isbn {match['isbn']}") if book is None else _Response(200, _book(book))
        return _problem(404, f"no route {path}")

    return _asgi("catalog", handle)


DEMO_SERVICES: Mapping[str, Callable[[], ASGIApp]] = {
    "members": members_app,
    "loans": loans_app,
    "catalog": catalog_app,
}
"""The demo app of each service of the library example, by the Service resource's name."""


def _socket(args: argparse.Namespace) -> socket.socket:
    if args.fd is not None:
        sock = socket.socket(fileno=args.fd)  # the family and type are read from the descriptor
    else:
        sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((args.host, args.port))
        sock.listen(128)
    sock.setblocking(False)
    return sock


def main(argv: list[str] | None = None) -> int:
    """Serve one demo service until SIGTERM or SIGINT (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m portal.demo_services", description="serve one demo service")
    parser.add_argument("service", choices=sorted(DEMO_SERVICES))
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--fd", type=int, default=None, help="an inherited listening socket")
    where.add_argument("--port", type=int, default=None)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    try:
        sock = _socket(args)
    except OSError as exc:
        print(f"demo {args.service}: cannot listen: {exc}", file=sys.stderr)
        return 1
    config = uvicorn.Config(
        DEMO_SERVICES[args.service](),
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=1,
        server_header=False,
    )
    server = uvicorn.Server(config)
    # Uvicorn re-raises SIGTERM after its graceful shutdown under the handler that was there before it ran: a no-op
    # one there makes a clean stop exit 0 rather than die by the signal.
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: None)
    try:
        server.run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)
        sock.close()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
