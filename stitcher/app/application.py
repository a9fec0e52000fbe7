"""The Starlette app around a :class:`Gateway`: routes, lifespan, the request context."""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import AsyncIterator, Callable
from typing import ParamSpec

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from stitcher.app._http import _routing_error
from stitcher.app.context import _RequestContext
from stitcher.app.gateway import Gateway
from stitcher.graphiql import ASSETS_DIR, ASSETS_PATH

_P = ParamSpec("_P")


def _taking_the_arguments_of(
    init: Callable[_P, Gateway],
) -> Callable[[Callable[[Gateway], Starlette]], Callable[_P, Starlette]]:
    """Give an app builder ``init``'s parameters: the gateway's arguments and defaults are declared once, on
    :class:`Gateway`, and type checkers and ``help()`` still see them on the builder."""

    def decorate(build: Callable[[Gateway], Starlette]) -> Callable[_P, Starlette]:
        @functools.wraps(build)
        def create(*args: _P.args, **kwargs: _P.kwargs) -> Starlette:
            return build(init(*args, **kwargs))

        signature = inspect.signature(init)
        create.__signature__ = signature.replace(return_annotation=Starlette)  # type: ignore[attr-defined]
        return create

    return decorate


@_taking_the_arguments_of(Gateway)
def create_gateway_app(gateway: Gateway) -> Starlette:
    """The gateway app, with :class:`Gateway`'s arguments: pass ``supergraph`` (served at ``/graphql``) or
    ``source`` (products of its snapshots)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await gateway.stop()

    graphql_methods = ["GET", "POST"]
    routes = [
        Route("/healthz", gateway.healthz, methods=["GET"]),
        Route("/readyz", gateway.readyz, methods=["GET"]),
        Route("/metrics", gateway.metrics_endpoint, methods=["GET"]),
        Mount(ASSETS_PATH, app=StaticFiles(directory=ASSETS_DIR), name="graphiql"),
    ]
    graphql = Route(
        "/graphql" if gateway.single else "/products/{product}/graphql", gateway.graphql, methods=graphql_methods
    )
    routes.append(graphql)
    if not gateway.single:
        routes += [
            Route("/products/{product}/openapi.json", gateway.openapi, methods=["GET"]),
            Route(
                "/products/{product}/rest/{path:path}",
                gateway.rest,
                methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            ),
        ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: _routing_error})
    app.state.gateway = gateway
    app.add_middleware(_RequestContext, gateway=gateway, graphql_route=graphql)
    return app
