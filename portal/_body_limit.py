"""Request-body caps for routes that read a whole body themselves (``/login``, ``/oauth/token``).

A body declared larger than the cap (``Content-Length``) is answered 413 before the route runs; one that streams
past it (chunked, or lying about its length) stops being read at the cap and is answered 413 as well (the route's
read raises :class:`BodyTooLarge`, an ``HTTPException`` the app's handler turns into its JSON error). Nothing of an
oversized body is kept in memory beyond the cap.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.errors import ErrorCode

__all__ = ["BodyLimit", "BodyTooLarge"]


class BodyTooLarge(HTTPException):
    def __init__(self, path: str, limit: int) -> None:
        super().__init__(413, f"the request body to {path} is over {limit} bytes; send only the fields it takes")


class BodyLimit:
    """Caps the bodies of the paths in ``limits`` (path -> bytes); other paths pass untouched."""

    def __init__(self, app: ASGIApp, *, limits: Mapping[str, int]) -> None:
        self.app = app
        self.limits = dict(limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limits.get(scope.get("path", "")) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        declared = Headers(scope=scope).get("content-length", "")
        if declared.strip().isdigit() and int(declared) > limit:
            error = BodyTooLarge(path, limit)
            body = {"error": {"code": ErrorCode.INVALID.value, "message": error.detail}}
            await JSONResponse(body, status_code=413, headers={"connection": "close"})(scope, receive, send)
            return
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(path, limit)
            return message

        await self.app(scope, bounded, send)
