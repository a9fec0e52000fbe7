"""The httpx client, kept so that the client choice can be measured again."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx

from stitcher.transport._base import UpstreamError, UpstreamResponse, _once_more_if_unanswered, _too_large, _Unanswered


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
        max_bytes: int | None = None,
        tls_server_name: str | None = None,
    ) -> UpstreamResponse:
        client = self._client
        if client is None:
            raise RuntimeError("HttpxTransport.start() was not awaited: create the transport in the app's lifespan")
        extensions: dict[str, Any] = {"sni_hostname": tls_server_name} if tls_server_name else {}

        async def exchange(seconds: float) -> UpstreamResponse:
            return await self._exchange(client, method, url, headers, body, seconds, max_bytes, extensions)

        return await _once_more_if_unanswered(exchange, method, headers, timeout)

    async def _exchange(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        timeout: float,  # noqa: ASYNC109 - enforced below as one deadline over the whole exchange
        max_bytes: int | None,
        extensions: dict[str, Any],
    ) -> UpstreamResponse:
        try:
            async with asyncio.timeout(timeout):
                request = client.build_request(
                    method, url, headers=headers, content=body, timeout=self._timeout(timeout), extensions=extensions
                )
                try:
                    response = await client.send(request, stream=True)
                except httpx.RemoteProtocolError as exc:  # before any byte of an answer
                    raise _Unanswered(
                        f"{method} {url}: the upstream closed the connection without answering ({exc})",
                        kind="protocol",
                        url=url,
                    ) from exc
                try:
                    payload = await _read_capped(response, method, url, max_bytes)
                finally:
                    await response.aclose()
            return UpstreamResponse(response.status_code, response.headers, payload)
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


async def _read_capped(response: httpx.Response, method: str, url: str, max_bytes: int | None) -> bytes:
    if max_bytes is None:
        return await response.aread()
    length = response.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise _too_large(method, url, max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(method, url, max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)
