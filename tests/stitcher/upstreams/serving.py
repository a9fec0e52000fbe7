"""Serve ASGI upstreams with uvicorn on loopback, on free ports, from a background thread (tests) or a process
(``python -m tests.stitcher.upstreams``, used by the benchmark)."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any, Self

import uvicorn


class UpstreamServers:
    """Start several ASGI apps, each on its own free 127.0.0.1 port, in one event loop in one thread."""

    def __init__(self, apps: dict[str, Any]) -> None:
        self.apps = apps
        self.urls: dict[str, str] = {}
        self.servers: dict[str, uvicorn.Server] = {}
        self._sockets: dict[str, socket.socket] = {}
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    def __enter__(self) -> Self:
        for name, app in self.apps.items():
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            self._sockets[name] = sock
            self.urls[name] = f"http://127.0.0.1:{sock.getsockname()[1]}"
            config = uvicorn.Config(
                app, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=1
            )
            self.servers[name] = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="upstreams", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("upstream servers did not start within 10 s")
        return self

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        tasks = [
            asyncio.create_task(server.serve(sockets=[self._sockets[name]])) for name, server in self.servers.items()
        ]
        while not all(server.started for server in self.servers.values()):  # noqa: ASYNC110 - uvicorn has no event
            await asyncio.sleep(0.01)
        self._started.set()
        await asyncio.gather(*tasks)

    def connections(self, name: str) -> int:
        """Open server-side connections of one upstream (to prove the gateway leaks none)."""
        return len(self.servers[name].server_state.connections)

    def __exit__(self, *_exc: object) -> None:
        for server in self.servers.values():
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        for sock in self._sockets.values():
            sock.close()
