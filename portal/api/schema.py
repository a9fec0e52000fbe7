"""The admin API's schema and its ASGI app, mounted by the portal at ``/api/graphql``."""

from __future__ import annotations

import json
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException  # what Strawberry raises for a request it cannot read
from sqlalchemy.engine import Engine
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult

from portal.api.context import Context, new_request_id
from portal.api.errors import LoomSchema, format_error
from portal.api.mutations import Mutation
from portal.api.queries import Query
from portal.api.validation import OffLoopValidation
from portal.errors import ErrorCode, Unauthenticated
from portal.settings import Settings
from stitcher.app import GRAPHQL_RESPONSE_JSON, negotiate_media_type
from stitcher.graphiql import ASSETS_DIR, ASSETS_PATH, graphiql_html

__all__ = ["MAX_ALIASES", "MAX_DEPTH", "MAX_TOKENS", "PATH", "AdminGraphQL", "graphql_app", "routes", "schema"]

PATH = "/api/graphql"
_JSON = "application/json"

# Limits on one request, checked before anything runs (each resolver is a database transaction). The schema's own
# types nest 4 deep; introspection (GraphiQL's query) nests ofType about 10 deep.
MAX_DEPTH = 15
MAX_ALIASES = 30
MAX_TOKENS = 10_000
BODY_LIMIT_DOCUMENTS = 4
"""The request body may hold this many documents of ``LOOM_AUTH_MAX_DOCUMENT_BYTES`` (``apply`` sends several)."""

schema = LoomSchema(
    query=Query,
    mutation=Mutation,
    extensions=[
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        OffLoopValidation,  # after the limiters: it validates with the rules they add
    ],
)


_POST_JSON = 'POST it as application/json: {"query": "...", "variables": {...}}'
_MUTATION_BY_GET = "mutations are not allowed when using GET"
# Strawberry's plain-text reasons for a request it cannot read, said as what to send instead.
_HTTP_REASONS = {
    "Unsupported content type": f"the admin API reads JSON only; {_POST_JSON}",
    "Unable to parse request body as JSON": f"the request body is not JSON; {_POST_JSON}",
    "No GraphQL query found in the request": f"the request has no 'query'; {_POST_JSON}, or GET a query as ?query=",
    _MUTATION_BY_GET: f"GET runs queries only (a link on another site can send a GET); {_POST_JSON}",
}


class AdminGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI app with Loom's context (engine, settings and actor from ``app.state``) and error codes.

    ``engine`` and ``settings`` default to ``request.app.state.engine`` / ``.settings``, which the portal's lifespan
    sets; tests may pass them directly.
    """

    def __init__(self, *, engine: Engine | None = None, settings: Settings | None = None, **kwargs: Any) -> None:
        super().__init__(schema, **kwargs)
        self._engine = engine
        self._settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strawberry's, with a request it cannot read answered as a GraphQL error with a code (it answers those
        in plain text, e.g. "Unsupported content type")."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        media_type = negotiate_media_type(Headers(scope=scope).get("accept")) or _JSON
        try:
            receive = await self._bounded_body(scope, receive)
            request = Request(scope, receive=receive)
            response = await self.run(request)
        except HTTPException as exc:
            code = ErrorCode.NOT_FOUND if exc.status_code == 404 else ErrorCode.INVALID
            message = _HTTP_REASONS.get(exc.reason, exc.reason)
            # GraphQL over HTTP: a mutation by GET is 405 (Strawberry says 400); the client should POST it
            status, headers = (405, {"allow": "POST"}) if exc.reason == _MUTATION_BY_GET else (exc.status_code, None)
            response = JSONResponse(
                {"errors": [{"message": message, "extensions": {"code": code.value}}]},
                status_code=status,
                headers=headers,
                media_type=media_type,
            )
        else:
            refused: bool | None = getattr(request.state, "loom_refused", None)  # None: not a GraphQL result
            if refused is not None and media_type == GRAPHQL_RESPONSE_JSON:
                # Strawberry answers application/json; under graphql-response+json a request refused before
                # execution is 400 (under application/json it stays 200, as clients of that type expect)
                response.headers["content-type"] = GRAPHQL_RESPONSE_JSON
                if refused:
                    response.status_code = 400
        await response(scope, receive, send)

    async def _bounded_body(self, scope: Scope, receive: Receive) -> Receive:
        """Read the body up to the limit and hand it on (Strawberry reads any body whole into memory); a larger
        one, declared or streamed, is refused with 413 before it is parsed."""
        settings: Settings = self._settings if self._settings is not None else scope["app"].state.settings
        limit = BODY_LIMIT_DOCUMENTS * settings.auth.max_document_bytes
        too_large = HTTPException(
            413,
            f"the request body is over {limit} bytes ({BODY_LIMIT_DOCUMENTS} x LOOM_AUTH_MAX_DOCUMENT_BYTES); "
            "send fewer documents per request",
        )
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let Strawberry see it
                return _replay([message], receive)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                return _replay([{"type": "http.request", "body": b"".join(chunks), "more_body": False}], receive)

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        """Strawberry's, after checking that the client accepts a GraphQL response (406 otherwise); GraphiQL's page
        was answered before this, by its own Accept."""
        if negotiate_media_type(request.headers.get("accept")) is None:
            raise HTTPException(406, f"accept {GRAPHQL_RESPONSE_JSON} or {_JSON} to receive a GraphQL response")
        return await super().parse_http_body(request)

    def decode_json(self, data: str | bytes) -> object:
        """Strawberry's, with a too deeply nested body a 400 (the parser's RecursionError was a bare 500)."""
        try:
            return json.loads(data)
        except RecursionError as exc:
            raise HTTPException(400, f"the request body nests too deeply; {_POST_JSON}") from exc

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        from portal.authentication import request_actor
        from portal.authorization import Actor

        assert isinstance(request, Request), "the admin API serves no websockets"
        engine: Engine = self._engine if self._engine is not None else request.app.state.engine
        settings: Settings = self._settings if self._settings is not None else request.app.state.settings
        auth_error: Unauthenticated | None = None
        # A GET runs queries (GraphQL over HTTP) but is authenticated by its token only, never by the session
        # cookie: a link or an image on another site can send a GET with the cookie, past the cross-site guard,
        # which checks POSTs only. GraphiQL and the portal's pages POST.
        credentials = Request({**request.scope, "session": {}}) if request.method == "GET" else request
        try:
            actor = await request_actor(credentials)
        except Unauthenticated as exc:
            actor, auth_error = Actor.anonymous(), exc
        request_id = new_request_id(request)
        request.state.loom_request_id = request_id  # process_result reports it with internal errors
        return Context(
            request=request,
            engine=engine,
            settings=settings,
            actor=actor,
            request_id=request_id,
            auth_error=auth_error,
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL from the assets vendored in ``stitcher`` (Strawberry's own page loads them from a CDN, which
        leaves it blank on machines without internet). It reuses the session cookie of ``/login``. Development
        mode only: a production portal keeps its surface to the API itself."""
        settings: Settings = self._settings if self._settings is not None else request.app.state.settings
        if settings.mode.value != "development":
            return PlainTextResponse("GraphiQL is available in development mode only; POST queries here", 404)
        return HTMLResponse(graphiql_html(PATH, title="Loom admin API", root_path=request.scope.get("root_path", "")))

    async def process_result(self, request: Request | WebSocket, result: ExecutionResult) -> GraphQLHTTPResponse:
        # Refused before execution (syntax, validation, variables: errors without a path): no data entry (the
        # GraphQL spec), and 400 under graphql-response+json (``__call__``). A field error keeps ``data: null``.
        refused = result.data is None and bool(result.errors) and all(not e.path for e in result.errors or ())
        request.state.loom_refused = refused
        data: GraphQLHTTPResponse = {} if refused else {"data": result.data}
        if result.errors:
            request_id: str | None = getattr(request.state, "loom_request_id", None)
            data["errors"] = [format_error(error, request_id) for error in result.errors]
        if result.extensions:
            data["extensions"] = result.extensions
        return data


def _replay(messages: list[Message], then: Receive) -> Receive:
    """A ``receive`` that hands out ``messages``, then waits on ``then`` (for the client's disconnect)."""
    pending = list(messages)

    async def receive() -> Message:
        return pending.pop(0) if pending else await then()

    return receive


def graphql_app(*, engine: Engine | None = None, settings: Settings | None = None) -> AdminGraphQL:
    """The admin API as an ASGI app (its GraphiQL page only in development). Queries may be sent by GET, with a
    token (a GET ignores the session cookie); mutations are POSTed."""
    return AdminGraphQL(engine=engine, settings=settings, graphql_ide="graphiql", allow_queries_via_get=True)


def routes(*, engine: Engine | None = None, settings: Settings | None = None) -> list[BaseRoute]:
    """The routes to mount in the portal's Starlette app."""
    return [
        Route(PATH, graphql_app(engine=engine, settings=settings), methods=["GET", "POST"]),
        # GraphiQL's scripts; the embedded gateway mounts the same directory, whichever answers first serves them
        Mount(ASSETS_PATH, app=StaticFiles(directory=ASSETS_DIR), name="admin-graphiql-assets"),
    ]
