"""The admin API's schema and its ASGI app, mounted by the portal at ``/api/graphql``."""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException  # what Strawberry raises for a request it cannot read
from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from portal.api.context import Context, new_request_id
from portal.api.errors import LoomSchema, format_error
from portal.api.mutations import Mutation
from portal.api.queries import Query
from portal.errors import ErrorCode, Unauthenticated
from portal.settings import Settings
from stitcher.graphiql import ASSETS_DIR, ASSETS_PATH, graphiql_html

__all__ = ["PATH", "AdminGraphQL", "graphql_app", "routes", "schema"]

PATH = "/api/graphql"

schema = LoomSchema(query=Query, mutation=Mutation)


_POST_JSON = 'POST it as application/json: {"query": "...", "variables": {...}}'
# Strawberry's plain-text reasons for a request it cannot read, said as what to send instead.
_HTTP_REASONS = {
    "Unsupported content type": f"the admin API reads JSON only; {_POST_JSON}",
    "Unable to parse request body as JSON": f"the request body is not JSON; {_POST_JSON}",
    **{
        f"{kind} are not allowed when using GET": f"the admin API takes no {kind} by GET (the session cookie would "
        f"make them forgeable cross-site); {_POST_JSON}"
        for kind in ("queries", "mutations")
    },
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
        try:
            response = await self.run(Request(scope, receive=receive))
        except HTTPException as exc:
            code = ErrorCode.NOT_FOUND if exc.status_code == 404 else ErrorCode.INVALID
            message = _HTTP_REASONS.get(exc.reason, exc.reason)
            response = JSONResponse(
                {"errors": [{"message": message, "extensions": {"code": code.value}}]}, status_code=exc.status_code
            )
        await response(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        from portal.authentication import request_actor
        from portal.authorization import Actor

        assert isinstance(request, Request), "the admin API serves no websockets"
        engine: Engine = self._engine if self._engine is not None else request.app.state.engine
        settings: Settings = self._settings if self._settings is not None else request.app.state.settings
        auth_error: Unauthenticated | None = None
        try:
            actor = await request_actor(request)
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
        data: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            request_id: str | None = getattr(request.state, "loom_request_id", None)
            data["errors"] = [format_error(error, request_id) for error in result.errors]
        if result.extensions:
            data["extensions"] = result.extensions
        return data


def graphql_app(*, engine: Engine | None = None, settings: Settings | None = None) -> AdminGraphQL:
    """The admin API as an ASGI app (its GraphiQL page only in development). Queries are POSTed: a GET could be
    triggered cross-site with the session cookie."""
    return AdminGraphQL(engine=engine, settings=settings, graphql_ide="graphiql", allow_queries_via_get=False)


def routes(*, engine: Engine | None = None, settings: Settings | None = None) -> list[BaseRoute]:
    """The routes to mount in the portal's Starlette app."""
    return [
        Route(PATH, graphql_app(engine=engine, settings=settings), methods=["GET", "POST"]),
        # GraphiQL's scripts; the embedded gateway mounts the same directory, whichever answers first serves them
        Mount(ASSETS_PATH, app=StaticFiles(directory=ASSETS_DIR), name="admin-graphiql-assets"),
    ]
