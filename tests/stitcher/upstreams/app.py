"""A lean GraphQL-over-HTTP upstream: raw ASGI + graphql-core over precomputed data.

Responses are cached by request body (the data never changes), so a repeated request costs a dict lookup: the
benchmark needs upstreams fast enough that the gateway is the bottleneck. ``requests`` counts POSTs so tests can
prove batching; ``bodies`` keeps the decoded requests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from inspect import isawaitable
from typing import Any

import orjson
from graphql import GraphQLSchema, execute, parse, validate

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_HEADERS = [(b"content-type", b"application/json")]


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers or _HEADERS})
    await send({"type": "http.response.body", "body": body})


class JsonRestApp:
    """A small REST upstream over fixed data: ``answer`` gives the JSON body for a path and query string, or None
    for a 404. ``requests`` counts requests and ``paths`` records each path (with its query string) for tests."""

    def __init__(self) -> None:
        self.requests = 0
        self.paths: list[str] = []

    def answer(self, path: str, query: str) -> Any:
        raise NotImplementedError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await read_body(receive)
        self.requests += 1
        path: str = scope["path"]
        query: str = scope["query_string"].decode()
        self.paths.append(f"{path}?{query}" if query else path)
        found = self.answer(path, query)
        if found is None:
            await respond(send, 404, orjson.dumps({"message": f"no product at {path}"}))
        else:
            await respond(send, 200, orjson.dumps(found))


class GraphQLApp:
    def __init__(self, schema: GraphQLSchema, root_value: Any = None, *, cache: bool = True) -> None:
        self.schema = schema
        self.root_value = root_value
        self.cache: dict[bytes, bytes] | None = {} if cache else None
        self.requests = 0
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        self.requests += 1
        request = orjson.loads(body) if body else {}
        self.bodies.append(request)
        self.headers.append({k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]})
        cached = self.cache.get(body) if self.cache is not None else None
        if cached is None:
            cached = await self.run(request)
            if self.cache is not None and len(self.cache) < 10_000:
                self.cache[body] = cached
        await respond(send, 200, cached)

    async def run(self, request: dict[str, Any]) -> bytes:
        try:
            document = parse(request["query"])
        except Exception as exc:  # a syntax error is the client's fault: answer as a GraphQL server does
            return orjson.dumps({"errors": [{"message": str(exc)}]})
        errors = validate(self.schema, document)
        if errors:
            return orjson.dumps({"errors": [e.formatted for e in errors]})
        outcome = execute(self.schema, document, self.root_value, variable_values=request.get("variables"))
        result = await outcome if isawaitable(outcome) else outcome
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [e.formatted for e in result.errors]
        return orjson.dumps(payload)
