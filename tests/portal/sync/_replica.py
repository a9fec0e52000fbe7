"""Stand-ins for service and gateway replicas behind a real Envoy: real HTTP servers (uvicorn, on free loopback
ports) that answer ``/healthz`` and ``/readyz``, echo which replica answered (a GraphQL POST gets
``{"data": {"whoami": {"replica": NAME}}}``, the answer to ``{ whoami { replica } }``), and can be faulted:
stopped, made to answer 503 while their health stays green, or made to hang."""

from __future__ import annotations

import asyncio
import json
import threading
from contextlib import ExitStack
from typing import Any, Literal

from tests._serving import serving

Mode = Literal["ok", "fail", "hang"]
HEALTH_PATHS = ("/healthz", "/readyz")


class Replica:
    """An ASGI app named ``name``; ``mode`` says how it answers everything but its health paths."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.mode: Mode = "ok"
        self.served = 0  # requests answered other than health checks
        self.last_headers: dict[str, str] = {}
        self._released = threading.Event()

    def hang(self) -> None:
        self._released.clear()
        self.mode = "hang"

    def recover(self) -> None:
        self.mode = "ok"
        self._released.set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        path = scope["path"]
        if path in HEALTH_PATHS:
            await _answer(send, 200, {"replica": self.name, "healthy": True})
            return
        if self.mode == "hang":
            await asyncio.to_thread(self._released.wait)  # until recover(); the server's loop stays free
        if self.mode == "fail":
            await _answer(send, 503, {"replica": self.name, "error": "failing on purpose"})
            return
        self.served += 1
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.last_headers = headers
        if scope["method"] == "POST":
            await _drain(receive)
            await _answer(send, 200, {"data": {"whoami": {"replica": self.name}}})
            return
        await _answer(send, 200, {"replica": self.name, "path": path, "host": headers.get("host")})


async def _drain(receive: Any) -> None:
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)


async def _answer(send: Any, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


class RunningReplica:
    """A replica served on a free port until ``stop()`` (or the end of the test)."""

    def __init__(self, name: str, *, port: int = 0) -> None:
        """``port``: serve on this one (a replica brought back where it was), else a free one."""
        self.app = Replica(name)
        self._stack = ExitStack()
        self.url: str = self._stack.enter_context(serving(self.app, f"replica {name}", port=port, lifespan="off"))

    @property
    def name(self) -> str:
        return self.app.name

    @property
    def served(self) -> int:
        return self.app.served

    def stop(self) -> None:
        self.app.recover()  # a hanging request must not hold the server's shutdown
        self._stack.close()
