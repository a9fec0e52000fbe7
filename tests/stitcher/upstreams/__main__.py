"""Serve upstreams as one process: ``python -m tests.stitcher.upstreams accounts=4001 products=4002 ...``."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import uvicorn

from tests.stitcher.upstreams.federation import SUBGRAPHS
from tests.stitcher.upstreams.monolith import monolith_app


def _app(name: str) -> Any:
    if name == "monolith":
        return monolith_app()
    return SUBGRAPHS[name][1]()


async def _main(pairs: list[str]) -> None:
    servers = []
    for pair in pairs:
        name, _, port = pair.partition("=")
        config = uvicorn.Config(_app(name), host="127.0.0.1", port=int(port), log_level="warning", access_log=False)
        servers.append(uvicorn.Server(config))
    await asyncio.gather(*(server.serve() for server in servers))


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1:]))
