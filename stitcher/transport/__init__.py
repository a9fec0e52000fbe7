"""Upstream HTTP for the executor: one small interface, and three clients that serve it.

The issue's skeleton measurement put an ``aiohttp.ClientSession`` at 3x Hive Gateway's RPS and an
``httpx.AsyncClient`` at 0.5x (its connection pool dominated the profile); later profiles put a third of the
gateway's CPU in aiohttp's request machinery, so Loom has its own HTTP/1.1 client (:class:`Http11Transport`:
pooled asyncio protocols, llhttp parsing, one timer per exchange), at a quarter of aiohttp's CPU per request. All
sit behind :class:`Transport` so the choice stays a measurement anyone can repeat: ``loom gateway`` picks one with
``LOOM_GATEWAY_UPSTREAM_CLIENT`` (``http11``, the default, ``aiohttp`` or ``httpx``), and ``bench/run.py`` runs them
side by side (the numbers are in ``bench/README.md``). The control plane keeps httpx.

The transports are app-scoped: create them in the app's lifespan (``await XTransport.create()`` or ``XTransport()``
then ``await start()``), never at import time, and ``await aclose()`` them on shutdown. Each keeps keep-alive pools
per upstream host and applies an explicit connect timeout plus the total timeout the executor passes per request.
Client errors are translated into :class:`UpstreamError` (``kind`` is ``"timeout"``, ``"connection"``,
``"protocol"``, ``"too_large"`` or ``"refused"``), chained with ``from exc``. Its message names the URL (for the
gateway's log); its ``reason`` does not (for consumers, who learn the service name and never an internal address).

A response body is read as a stream and abandoned past ``max_bytes`` (the connection is closed, not reused).
:class:`GuardedTransport` wraps any client with what the gateway knows per upstream (from the snapshot): the
egress policy, checked on every request against every address the host resolves to, the request then sent to the
checked address (DNS can change between check and connect), and the response size cap.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from stitcher.transport._aiohttp import AiohttpTransport
from stitcher.transport._base import SAFE_RETRY, Transport, UpstreamError, UpstreamResponse
from stitcher.transport._guard import GuardedTransport, Upstream
from stitcher.transport._http11 import Http11Transport
from stitcher.transport._httpx import HttpxTransport

__all__ = [
    "SAFE_RETRY",
    "UPSTREAM_CLIENTS",
    "AiohttpTransport",
    "GuardedTransport",
    "Http11Transport",
    "HttpxTransport",
    "Transport",
    "Upstream",
    "UpstreamError",
    "UpstreamResponse",
]

UPSTREAM_CLIENTS: Mapping[str, Callable[[], Awaitable[Transport]]] = {
    "aiohttp": AiohttpTransport.create,
    "httpx": HttpxTransport.create,
    "http11": Http11Transport.create,
}
"""The upstream clients ``loom gateway`` can use (``LOOM_GATEWAY_UPSTREAM_CLIENT``), each as a lifespan factory."""
