"""The request context: request id in and out, one structured access-log line, request metrics."""

from __future__ import annotations

import logging
import os
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stitcher.app.runtime import SINGLE

if TYPE_CHECKING:
    from stitcher.app.gateway import Gateway

access_log = logging.getLogger("stitcher.gateway.access")
_request_id: ContextVar[str | None] = ContextVar("loom_request_id", default=None)


def request_id() -> str | None:
    """The id of the request being served (from ``x-request-id``, or generated); for log records."""
    return _request_id.get()


class _RequestContext:
    """Pure ASGI middleware: request id in and out, one structured access-log line, request metrics."""

    def __init__(self, app: ASGIApp, gateway: Gateway, graphql_route: Route) -> None:
        self.app = app
        self.gateway = gateway
        self.graphql_route = graphql_route

    def _graphql_post(self, scope: Scope) -> str | None:
        """The product a POST to a GraphQL endpoint is for (``SINGLE`` at ``/graphql``), else None: the router
        matches it as it would (``/products/{product}/graphql``, a product name without ``/``)."""
        if scope["method"] != "POST":
            return None
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):  # mounted (the portal's embedded gateway): match below the mount
            path = path[len(root) :]
        if self.gateway.single:
            return SINGLE if path == "/graphql" else None
        if path.startswith("/products/") and path.endswith("/graphql"):
            product = path[10:-8]
            if product and "/" not in product:
                return product
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = ""
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                rid = value.decode("latin-1")
                break
        if not rid or len(rid) > 128 or not rid.isprintable():
            rid = os.urandom(8).hex()
        token = _request_id.set(rid)
        info: dict[str, Any] = {"product": None, "kind": "other"}
        scope["loom"] = info
        status = 500
        started = time.perf_counter()
        rid_header = (b"x-request-id", rid.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), rid_header]
            await send(message)

        try:
            product = self._graphql_post(scope)
            if product is None:
                await self.app(scope, receive, send_with_id)
            else:  # the hot path, straight to its endpoint: no router match, no per-request exception wrapper
                # What the router would have set: the portal's metrics label requests by the route's template.
                scope["route"] = self.graphql_route
                scope["endpoint"] = self.gateway.graphql
                scope["path_params"] = {"product": product} if product else {}
                response = await self.gateway.graphql(Request(scope, receive))
                await response(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            product = info["product"]
            if product is not None:
                self.gateway.metrics.observe_request(product, info["kind"], status, elapsed)
            if self.gateway.options.access_log and access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "request",
                    extra={
                        "request_id": rid,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                        "product": product,
                    },
                )
            _request_id.reset(token)
