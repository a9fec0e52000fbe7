"""HTTP answers decided before execution: errors, media types, the operation a document runs."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import orjson
from graphql import GraphQLError, OperationDefinitionNode, parse
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
_JSON = "application/json"


class _HttpError(Exception):
    """An answer decided before execution: status, GraphQL-style error message and code, extra headers."""

    def __init__(self, status: int, message: str, code: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = dict(headers or {})


def _error_response(error: _HttpError, media_type: str = _JSON) -> Response:
    body = orjson.dumps({"errors": [{"message": error.message, "extensions": {"code": error.code}}]})
    return Response(body, error.status, headers=error.headers, media_type=media_type)


async def _routing_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405 (no route, or a route without this method) in the gateway's JSON error shape:
    its plain-text "Method Not Allowed" looked like a different server to a GraphQL or REST client."""
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allowed = headers.get("allow") or headers.get("Allow") or ""
        message, code = f"{request.method} is not allowed on {request.url.path}; use {allowed}", "METHOD_NOT_ALLOWED"
    elif exc.status_code == 404:
        served_at = "/graphql" if request.app.state.gateway.single else "/products/<name>/graphql"
        message, code = f"nothing is served at {request.url.path}; GraphQL is at {served_at}", "NOT_FOUND"
    else:
        message, code = str(exc.detail), "BAD_REQUEST"
    return _error_response(_HttpError(exc.status_code, message, code, headers))


@lru_cache(maxsize=256)
def negotiate_media_type(accept: str | None) -> str | None:
    """The response media type for an Accept header (None: 406); the portal's admin API answers by it too."""
    if not accept:
        return _JSON
    best: tuple[float, int, str] | None = None
    for part in accept.split(","):
        media, _, params = part.partition(";")
        media = media.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        if media == GRAPHQL_RESPONSE_JSON:
            candidate = (q, 1, GRAPHQL_RESPONSE_JSON)
        elif media in (_JSON, "application/*", "*/*"):
            candidate = (q, 0, _JSON)
        else:
            continue
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best else None


@lru_cache(maxsize=1024)
def _operation_type(document: str, operation_name: str | None) -> str | None:
    """The type of the operation a GET would run (None when unknown: the executor reports why)."""
    try:
        parsed = parse(document)
    except GraphQLError:
        return None
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    return operations[0].operation.value if len(operations) == 1 else None
