"""A REST upstream that answers what the test scripts: ``answers[(method, path)] = (status, body, content type)``.

It records every request as it arrived on the wire (``raw_path`` and the raw query string, so a test can see what
was percent-encoded, the body and headers). Served on loopback by :func:`tests._serving.serving`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from tests.stitcher.upstreams.app import Receive, Scope, Send, read_body, respond


@dataclass(slots=True)
class Received:
    method: str
    path: str  # decoded, as routed
    raw_path: str  # as sent, percent-encoding kept
    query: str  # raw query string
    headers: dict[str, str]
    body: bytes


@dataclass(slots=True)
class ScriptedRestApp:
    answers: dict[tuple[str, str], tuple[int, bytes, str]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list, repr=False)
    fallback: tuple[int, bytes, str] | None = None  # the answer to anything not scripted (else 404)

    def answer(self, method: str, path: str, value: Any, status: int = 200) -> None:
        """Answer ``method path`` with ``value`` as JSON (``...`` for an empty body)."""
        body = b"" if value is ... else orjson.dumps(value)
        self.answers[(method, path)] = (status, body, "application/json")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.received.append(
            Received(
                scope["method"],
                scope["path"],
                scope["raw_path"].decode("latin-1"),
                scope["query_string"].decode("latin-1"),
                headers,
                body,
            )
        )
        found = self.answers.get((scope["method"], scope["path"]), self.fallback)
        if found is None:
            await respond(send, 404, orjson.dumps({"message": f"nothing scripted for {scope['path']}"}))
            return
        status, payload, media = found
        if status == 204:
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await respond(send, status, payload, [(b"content-type", media.encode())])
