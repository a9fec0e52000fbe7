"""The aiohttp client."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import aiohttp
from yarl import URL

from stitcher.transport._base import UpstreamError, UpstreamResponse, _once_more_if_unanswered, _too_large, _Unanswered


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
        max_bytes: int | None = None,
        tls_server_name: str | None = None,
    ) -> UpstreamResponse:
        session = self._session
        if session is None:
            raise RuntimeError("AiohttpTransport.start() was not awaited: create the transport in the app's lifespan")
        extra: dict[str, Any] = {"server_hostname": tls_server_name} if tls_server_name else {}

        async def exchange(seconds: float) -> UpstreamResponse:
            return await self._exchange(session, method, url, headers, body, seconds, max_bytes, extra)

        return await _once_more_if_unanswered(exchange, method, headers, timeout)

    async def _exchange(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        timeout: float,  # noqa: ASYNC109 - passed to aiohttp, which enforces it
        max_bytes: int | None,
        extra: Mapping[str, Any],
    ) -> UpstreamResponse:
        answered = False
        try:
            async with session.request(
                method,
                _target(url),
                headers=headers,
                data=body,
                timeout=self._timeout(timeout),
                allow_redirects=False,
                **extra,
            ) as response:
                answered = True
                if max_bytes is None:
                    payload = await response.read()
                else:
                    if response.content_length is not None and response.content_length > max_bytes:
                        raise _too_large(method, url, max_bytes)
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.content.iter_any():
                        size += len(chunk)
                        if size > max_bytes:  # leaving the block closes the connection: the rest is never read
                            raise _too_large(method, url, max_bytes)
                        chunks.append(chunk)
                    payload = b"".join(chunks)
                return UpstreamResponse(response.status, response.headers, payload)
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamError(f"{method} {url} timed out after {timeout:g} s", kind="timeout", url=url) from exc
        except aiohttp.ClientConnectionError as exc:
            if isinstance(exc, aiohttp.ServerDisconnectedError):
                if not answered:
                    raise _Unanswered(
                        f"{method} {url}: the upstream closed the connection without answering ({exc})",
                        kind="protocol",
                        url=url,
                    ) from exc
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


_NOT_ENCODED = re.compile(r"[^\x21-\x7e]|[\"<>\\^`{}]|%(?![0-9A-Fa-f]{2})")


def _target(url: str) -> URL | str:
    """An already percent-encoded URL is sent exactly as it is: yarl would otherwise decode ``%2C`` and ``%26`` in
    the path and query, and a REST array item ``b,c`` would reach the upstream as two items. Anything else (a space,
    non-ASCII) is left for yarl to encode."""
    return url if _NOT_ENCODED.search(url) else URL(url, encoded=True)
