"""Upstream HTTP for the executor: one small interface, and the aiohttp implementation that serves it.

Measured on this machine, an ``aiohttp.ClientSession`` reached 3x Hive Gateway's RPS where an ``httpx.AsyncClient``
reached 0.5x (its connection pool dominated the profile), so the data plane talks to upstreams through aiohttp; the
control plane keeps httpx.

:class:`AiohttpTransport` is app-scoped: create it in the app's lifespan (``await AiohttpTransport.create()`` or
``AiohttpTransport()`` then ``await start()``), never at import time, and ``await aclose()`` it on shutdown. It keeps
one keep-alive pool per upstream host (aiohttp's connector pools per host) and applies an explicit connect timeout
plus the total timeout the executor passes per request. aiohttp errors are translated into :class:`UpstreamError`
(``kind`` is ``"timeout"``, ``"connection"`` or ``"protocol"``), chained with ``from exc``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import aiohttp

from stitcher.errors import StitcherError

__all__ = ["AiohttpTransport", "Transport", "UpstreamError", "UpstreamResponse"]

UpstreamErrorKind = Literal["timeout", "connection", "protocol"]


class UpstreamError(StitcherError):
    """An upstream could not be reached or did not answer in time or in HTTP. ``kind`` says which."""

    def __init__(self, message: str, *, kind: UpstreamErrorKind, url: str) -> None:
        super().__init__(message)
        self.kind: UpstreamErrorKind = kind
        self.url = url


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


class Transport(Protocol):
    """What the executor needs from upstream HTTP. Tests pass a real transport to real servers on loopback."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float,  # noqa: ASYNC109 - the contract: each fetch carries its own deadline
    ) -> UpstreamResponse: ...

    async def aclose(self) -> None: ...


class AiohttpTransport:
    """The default transport: one ``aiohttp.ClientSession`` with keep-alive pools per upstream.

    ``limit_per_host`` bounds the connections to one upstream (requests beyond it queue in the pool);
    ``connect_timeout`` bounds connection set-up, the per-request ``timeout`` bounds the whole exchange.
    """

    def __init__(
        self,
        *,
        limit: int = 0,
        limit_per_host: int = 256,
        connect_timeout: float = 3.0,
        keepalive_timeout: float = 30.0,
    ) -> None:
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._connect_timeout = connect_timeout
        self._keepalive_timeout = keepalive_timeout
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    @classmethod
    async def create(
        cls, *, limit: int = 0, limit_per_host: int = 256, connect_timeout: float = 3.0, keepalive_timeout: float = 30.0
    ) -> AiohttpTransport:
        transport = cls(
            limit=limit,
            limit_per_host=limit_per_host,
            connect_timeout=connect_timeout,
            keepalive_timeout=keepalive_timeout,
        )
        await transport.start()
        return transport

    async def start(self) -> None:
        """Create the session; call it inside a running event loop (the app's lifespan)."""
        if self._session is not None:
            return
        connector = aiohttp.TCPConnector(
            limit=self._limit,
            limit_per_host=self._limit_per_host,
            keepalive_timeout=self._keepalive_timeout,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            # Upstream JSON is decoded by the executor with orjson; skip aiohttp's cookie handling entirely.
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent",),
        )

    @property
    def connector(self) -> aiohttp.BaseConnector | None:
        """The connection pool (tests read it to prove that no connection leaks)."""
        return self._session.connector if self._session is not None else None

    def _timeout(self, total: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(total)
        if timeout is None:
            timeout = aiohttp.ClientTimeout(total=total, sock_connect=min(self._connect_timeout, total))
            self._timeouts[total] = timeout
        return timeout

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float,  # noqa: ASYNC109 - passed to aiohttp, which enforces it
    ) -> UpstreamResponse:
        session = self._session
        if session is None:
            raise RuntimeError("AiohttpTransport.start() was not awaited: create the transport in the app's lifespan")
        try:
            async with session.request(
                method, url, headers=headers, data=body, timeout=self._timeout(timeout), allow_redirects=False
            ) as response:
                payload = await response.read()
                return UpstreamResponse(response.status, response.headers, payload)
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamError(f"{method} {url} timed out after {timeout:g} s", kind="timeout", url=url) from exc
        except aiohttp.ClientConnectionError as exc:
            if isinstance(exc, aiohttp.ServerDisconnectedError):
                raise UpstreamError(
                    f"{method} {url}: the upstream closed the connection mid-response ({exc})", kind="protocol", url=url
                ) from exc
            raise UpstreamError(f"{method} {url}: cannot connect ({exc})", kind="connection", url=url) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(f"{method} {url}: invalid HTTP response ({exc})", kind="protocol", url=url) from exc

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
