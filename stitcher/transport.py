"""Upstream HTTP for the executor: one small interface, and two clients that serve it.

The issue's skeleton measurement put an ``aiohttp.ClientSession`` at 3x Hive Gateway's RPS and an
``httpx.AsyncClient`` at 0.5x (its connection pool dominated the profile). Both sit behind :class:`Transport` so the
choice stays a measurement anyone can repeat: ``loom gateway`` picks one with ``LOOM_GATEWAY_UPSTREAM_CLIENT``
(``aiohttp``, the default, or ``httpx``), and ``bench/run.py`` runs both side by side (``loom`` and ``loom-httpx``;
the numbers are in ``bench/README.md``). The control plane keeps httpx.

Both transports are app-scoped: create them in the app's lifespan (``await XTransport.create()`` or ``XTransport()``
then ``await start()``), never at import time, and ``await aclose()`` them on shutdown. Each keeps keep-alive pools
per upstream host and applies an explicit connect timeout plus the total timeout the executor passes per request.
Client errors are translated into :class:`UpstreamError` (``kind`` is ``"timeout"``, ``"connection"`` or
``"protocol"``), chained with ``from exc``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import aiohttp
import httpx

from stitcher.errors import StitcherError

__all__ = [
    "UPSTREAM_CLIENTS",
    "AiohttpTransport",
    "HttpxTransport",
    "Transport",
    "UpstreamError",
    "UpstreamResponse",
]

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


class HttpxTransport:
    """The same contract on one ``httpx.AsyncClient``, kept so that the client choice can be measured again.

    httpx pools per host as well; ``max_connections`` bounds all connections (``None``: unbounded, like aiohttp's
    ``limit=0``), ``max_keepalive_connections`` the idle ones kept for reuse. httpx's timeouts apply per read or
    write, so the per-request ``timeout`` is enforced as a total deadline around the whole exchange.
    """

    def __init__(
        self,
        *,
        max_connections: int | None = None,
        max_keepalive_connections: int = 256,
        connect_timeout: float = 3.0,
        keepalive_timeout: float = 30.0,
    ) -> None:
        self._limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
            keepalive_expiry=keepalive_timeout,
        )
        self._connect_timeout = connect_timeout
        self._client: httpx.AsyncClient | None = None
        self._timeouts: dict[float, httpx.Timeout] = {}

    @classmethod
    async def create(
        cls,
        *,
        max_connections: int | None = None,
        max_keepalive_connections: int = 256,
        connect_timeout: float = 3.0,
        keepalive_timeout: float = 30.0,
    ) -> HttpxTransport:
        transport = cls(
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
            connect_timeout=connect_timeout,
            keepalive_timeout=keepalive_timeout,
        )
        await transport.start()
        return transport

    async def start(self) -> None:
        """Create the client; call it inside a running event loop (the app's lifespan)."""
        if self._client is not None:
            return
        # trust_env=False: no proxy or netrc from the environment, as aiohttp's session (upstreams are addressed
        # directly). Redirects are not followed: an upstream's 3xx is its answer.
        self._client = httpx.AsyncClient(
            limits=self._limits, timeout=self._timeout(30.0), follow_redirects=False, trust_env=False
        )

    @property
    def client(self) -> httpx.AsyncClient | None:
        """The client, ``None`` once closed (tests read it to prove that no connection leaks)."""
        return self._client

    def _timeout(self, total: float) -> httpx.Timeout:
        timeout = self._timeouts.get(total)
        if timeout is None:
            timeout = httpx.Timeout(total, connect=min(self._connect_timeout, total))
            self._timeouts[total] = timeout
        return timeout

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float,  # noqa: ASYNC109 - enforced below as one deadline over the whole exchange
    ) -> UpstreamResponse:
        client = self._client
        if client is None:
            raise RuntimeError("HttpxTransport.start() was not awaited: create the transport in the app's lifespan")
        try:
            async with asyncio.timeout(timeout):
                response = await client.request(
                    method, url, headers=headers, content=body, timeout=self._timeout(timeout)
                )
            return UpstreamResponse(response.status_code, response.headers, response.content)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise UpstreamError(f"{method} {url} timed out after {timeout:g} s", kind="timeout", url=url) from exc
        except httpx.RemoteProtocolError as exc:
            raise UpstreamError(
                f"{method} {url}: the upstream broke the HTTP exchange ({exc})", kind="protocol", url=url
            ) from exc
        except httpx.ConnectError as exc:
            raise UpstreamError(f"{method} {url}: cannot connect ({exc})", kind="connection", url=url) from exc
        except httpx.NetworkError as exc:
            raise UpstreamError(f"{method} {url}: the connection failed ({exc})", kind="connection", url=url) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise UpstreamError(
                f"{method} {url}: invalid HTTP request or response ({exc})", kind="protocol", url=url
            ) from exc

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


UPSTREAM_CLIENTS: Mapping[str, Callable[[], Awaitable[Transport]]] = {
    "aiohttp": AiohttpTransport.create,
    "httpx": HttpxTransport.create,
}
"""The upstream clients ``loom gateway`` can use (``LOOM_GATEWAY_UPSTREAM_CLIENT``), each as a lifespan factory."""
