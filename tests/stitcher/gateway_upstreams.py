"""Real upstreams for the gateway's tests, served by uvicorn in a thread on a free loopback port.

* ``books``: a plain GraphQL service (graphql-core over HTTP) with a query, a list and a mutation.
* ``inventory``: a REST service described by OpenAPI 3.1 (``INVENTORY_OPENAPI``).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn
from graphql import build_schema, graphql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

__all__ = ["BOOKS_SDL", "INVENTORY_OPENAPI", "ServerThread", "books_app", "inventory_app"]

BOOKS_SDL = """
type Query { book(id: ID!): Book  books: [Book!]!  slow(seconds: Float!): String }
type Mutation { addBook(title: String!): Book! }
type Book { id: ID! title: String! }
"""

INVENTORY_OPENAPI = """
openapi: 3.1.0
info: {title: inventory, version: "1"}
paths:
  /stock/{id}:
    get:
      operationId: getStock
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: the stock of one item
          content:
            application/json:
              schema: {type: object, properties: {id: {type: string}, count: {type: integer}}}
        "404":
          description: no such item
"""


class ServerThread:
    """Serves ``app`` with uvicorn on 127.0.0.1 and a port the OS picks; ``with`` starts and stops it."""

    def __init__(self, app: ASGIApp) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the upstream test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()


def books_app(calls: list[dict[str, Any]]) -> Starlette:
    """The books service; every GraphQL request it receives is appended to ``calls``."""
    schema = build_schema(BOOKS_SDL)
    books = {str(i): {"id": str(i), "title": f"Book {i}"} for i in range(1, 6)}

    def add_book(info: Any, title: str) -> dict[str, str]:
        book = {"id": str(len(books) + 1), "title": title}
        books[book["id"]] = book
        return book

    async def slow(info: Any, seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "done"

    root = {
        "book": lambda info, id: books.get(id),
        "books": lambda info: list(books.values()),
        "addBook": add_book,
        "slow": slow,
    }

    async def endpoint(request: Request) -> Response:
        body = await request.json()
        calls.append({"body": body, "headers": dict(request.headers)})
        result = await graphql(
            schema, body["query"], root, variable_values=body.get("variables"), operation_name=body.get("operationName")
        )
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [e.formatted for e in result.errors]
        return JSONResponse(payload)

    return Starlette(routes=[Route("/graphql", endpoint, methods=["POST"])])


def inventory_app(calls: list[dict[str, Any]]) -> Starlette:
    """The inventory REST service; each request is appended to ``calls``."""

    async def stock(request: Request) -> Response:
        raw = request.scope["raw_path"].decode()
        calls.append(
            {"path": request.url.path, "raw_path": raw, "query": request.url.query, "headers": dict(request.headers)}
        )
        item = request.path_params["id"]
        if not item.isdigit():
            return JSONResponse({"message": f"no item {item}"}, 404)
        return JSONResponse({"id": item, "count": int(item) * 10}, headers={"x-upstream": "inventory"})

    async def echo(request: Request) -> Response:
        calls.append({"path": request.url.path, "body": await request.body(), "headers": dict(request.headers)})
        return JSONResponse({"received": (await request.body()).decode()}, 201)

    async def page(request: Request) -> Response:
        # A hostile upstream: a script page that plants a cookie (on the portal's origin under `loom serve`).
        html = "<script>fetch('/api/graphql', {method: 'POST'})</script>"
        return Response(html, media_type="text/html", headers={"set-cookie": "loom_session=planted; Path=/"})

    return Starlette(routes=[Route("/stock/{id}", stock), Route("/echo", echo, methods=["POST"]), Route("/page", page)])
