"""Upstreams that misbehave on purpose: one hangs, one answers garbage, one answers HTTP 500.

All three stand for the same Federation subgraph (``FLAKY_SDL``), so a test composes it once and points it at
whichever fault it needs.
"""

from __future__ import annotations

import asyncio

from tests.stitcher.upstreams.app import Receive, Scope, Send, read_body, respond

FLAKY_SDL = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

type Query {
  status: String
}

type Product @key(fields: "upc") {
  upc: String!
  rating: Float
  ratingCount: Int!
}
"""


class FaultApp:
    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await read_body(receive)
        self.requests += 1
        if self.mode == "hang":
            await asyncio.sleep(30)
            await respond(send, 200, b'{"data": null}')
        elif self.mode == "garbage":
            await respond(send, 200, b"<html>definitely not JSON", [(b"content-type", b"text/html")])
        else:
            await respond(send, 500, b"Internal Server Error", [(b"content-type", b"text/plain")])
