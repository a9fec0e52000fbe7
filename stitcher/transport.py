"""Upstream HTTP for the executor: one small interface, and two clients that serve it.

The issue's skeleton measurement put an ``aiohttp.ClientSession`` at 3x Hive Gateway's RPS and an
``httpx.AsyncClient`` at 0.5x (its connection pool dominated the profile). Both sit behind :class:`Transport` so the
choice stays a measurement anyone can repeat: ``loom gateway`` picks one with ``LOOM_GATEWAY_UPSTREAM_CLIENT``
(``aiohttp``, the default, or ``httpx``), and ``bench/run.py`` runs both side by side (``loom`` and ``loom-httpx``;
the numbers are in ``bench/README.md``). The control plane keeps httpx.

Both transports are app-scoped: create them in the app's lifespan (``await XTransport.create()`` or ``XTransport()``
then ``await start()``), never at import time, and ``await aclose()`` them on shutdown. Each keeps keep-alive pools
per upstream host and applies an explicit connect timeout plus the total timeout the executor passes per request.
Client errors are translated into :class:`UpstreamError` (``kind`` is ``"timeout"``, ``"connection"``,
``"protocol"``, ``"too_large"`` or ``"refused"``), chained with ``from exc``. Its message names the URL (for the
gateway's log); its ``reason`` does not (for consumers, who learn the service name and never an internal address).

A response body is read as a stream and abandoned past ``max_bytes`` (the connection is closed, not reused).
:class:`GuardedTransport` wraps either client with what the gateway knows per upstream (from the snapshot): the
egress policy, checked on every request against every address the host resolves to, the request then sent to the
checked address (DNS can change between check and connect), and the response size cap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import aiohttp
import httpx

from stitcher.egress import AsyncResolver, EgressPolicy, EgressRefused, IPAddress, checked_address, resolve, split_url
from stitcher.errors import StitcherError
from stitcher.options import Limits

__all__ = [
    "SAFE_RETRY",
    "UPSTREAM_CLIENTS",
    "AiohttpTransport",
    "GuardedTransport",
    "HttpxTransport",
    "Transport",
    "Upstream",
    "UpstreamError",
    "UpstreamResponse",
]

log = logging.getLogger("stitcher.transport")

UpstreamErrorKind = Literal["timeout", "connection", "protocol", "too_large", "refused"]
DEFAULT_MAX_RESPONSE_BYTES = Limits().max_response_bytes  # the one default, on GatewayOptions


class UpstreamError(StitcherError):
    """An upstream could not be reached, did not answer in time or in HTTP, answered too much, or the egress policy
    refused it. ``kind`` says which. ``str(exc)`` names the URL (log it); ``reason`` says the same without any URL
    or address (tell consumers, with the service name)."""

    def __init__(self, message: str, *, kind: UpstreamErrorKind, url: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.kind: UpstreamErrorKind = kind
        self.url = url
        self.reason = reason or _REASONS[kind]


_REASONS: dict[UpstreamErrorKind, str] = {
    "timeout": "did not answer in time",
    "connection": "cannot be reached",
    "protocol": "broke the HTTP exchange",
    "too_large": "answered more than the gateway accepts",
    "refused": "is outside the cluster's egress policy; the gateway does not connect there",
}


def _too_large(method: str, url: str, max_bytes: int) -> UpstreamError:
    return UpstreamError(
        f"{method} {url}: the response is larger than {max_bytes} bytes",
        kind="too_large",
        url=url,
        reason=f"answered more than the gateway's limit of {max_bytes} bytes (LOOM_GATEWAY_MAX_RESPONSE_BYTES)",
    )


class _Unanswered(UpstreamError):
    """The upstream closed the connection before any byte of an answer: most often a pooled keep-alive connection
    that it closed (its idle timeout, 5 s in uvicorn and Node) just as this request went out on it."""


# The header the executor puts on queries (read-only, so safe to send twice); Envoy's retry policy matches it too.
SAFE_RETRY = ("x-loom-retry", "safe")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def _once_more_if_unanswered(
    exchange: Callable[[float], Awaitable[UpstreamResponse]],
    method: str,
    headers: Mapping[str, str] | None,
    seconds: float,
) -> UpstreamResponse:
    """``exchange(seconds)``, and for a request that is safe to repeat, once more on a new connection when the first
    went unanswered, within what is left of ``seconds``. Never for a mutation: it may have run."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        return await exchange(seconds)
    except _Unanswered:
        safe = method in _SAFE_METHODS or (headers is not None and headers.get(SAFE_RETRY[0]) == SAFE_RETRY[1])
        remaining = deadline - loop.time()
        if not safe or remaining <= 0:
            raise
        log.debug("%s: the upstream closed a pooled connection unanswered; sending once more", method)
        return await exchange(remaining)


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
        max_bytes: int | None = None,
        tls_server_name: str | None = None,
    ) -> UpstreamResponse:
        """``max_bytes``: abandon a response body past it (:class:`UpstreamError`, kind ``too_large``).
        ``tls_server_name``: the name to verify an https upstream's certificate against when ``url`` carries an
        address (the URL was pinned to a checked address)."""
        ...

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
                method, url, headers=headers, data=body, timeout=self._timeout(timeout), allow_redirects=False, **extra
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


@dataclass(frozen=True, slots=True)
class Upstream:
    """What the gateway knows about one upstream base URL: the service's name, the egress policy of the cluster its
    address is in (``None``: not checked — the snapshot named none, e.g. the URL is the cluster's own Envoy) and the
    response size cap."""

    service: str
    egress: EgressPolicy | None = None
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES


class GuardedTransport:
    """A :class:`Transport` that applies each upstream's egress policy and response cap, then calls ``inner``.

    The URL's upstream is found by the longest base URL that prefixes it (:meth:`set_upstreams`, from the snapshot).
    With a policy, the host is resolved, every address checked, and the request sent to the checked address (Host
    header and TLS server name keep the original name). A checked answer is reused for ``dns_ttl_seconds``, so a name
    is not resolved on every request; what is reused was checked under the same policy. A URL no upstream claims gets
    ``default``.
    """

    def __init__(
        self,
        inner: Transport,
        *,
        default: Upstream | None = None,
        dns_ttl_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        resolver: AsyncResolver = resolve,
    ) -> None:
        self.inner = inner
        self._default = default or Upstream(service="")
        self._bases: list[tuple[str, Upstream]] = []
        self._cache: dict[str, Upstream] = {}
        self._dns_ttl = dns_ttl_seconds
        self._clock = clock
        self._resolver = resolver
        self._resolved: dict[tuple[str, int, EgressPolicy], tuple[float, IPAddress]] = {}

    def set_upstreams(self, upstreams: Mapping[str, Upstream]) -> None:
        """``upstreams``: base URL -> what applies to it (over all products being served)."""
        self._bases = sorted(((u.rstrip("/"), up) for u, up in upstreams.items()), key=lambda b: -len(b[0]))
        self._cache = {}
        self._resolved = {}

    def upstream(self, url: str) -> Upstream:
        found = self._cache.get(url)
        if found is None:
            found = next((up for base, up in self._bases if _under(url, base)), self._default)
            if len(self._cache) < 10_000:  # REST URLs carry ids; keep the cache bounded
                self._cache[url] = found
        return found

    async def _address(self, host: str, port: int, policy: EgressPolicy) -> IPAddress:
        key = (host, port, policy)
        now = self._clock()
        hit = self._resolved.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        address = await checked_address(host, port, policy, resolver=self._resolver)
        if len(self._resolved) >= 10_000:
            self._resolved.clear()
        self._resolved[key] = (now + self._dns_ttl, address)
        return address

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float,  # noqa: ASYNC109 - passed through to the inner transport
        max_bytes: int | None = None,
        tls_server_name: str | None = None,
    ) -> UpstreamResponse:
        upstream = self.upstream(url)
        limit = upstream.max_response_bytes if max_bytes is None else min(max_bytes, upstream.max_response_bytes)
        policy = upstream.egress
        if policy is None:
            return await self.inner.request(
                method, url, headers=headers, body=body, timeout=timeout, max_bytes=limit, tls_server_name=None
            )
        try:
            scheme, host, port = split_url(url)
            address = await self._address(host, port, policy)
        except EgressRefused as exc:
            raise UpstreamError(f"{method} {url}: {exc}", kind="refused", url=url) from exc
        parts = urlsplit(url)
        literal = f"[{address}]" if address.version == 6 else str(address)
        pinned = parts._replace(netloc=f"{literal}:{parts.port}" if parts.port else literal).geturl()
        pinned_headers = {**(headers or {}), "host": parts.netloc}
        return await self.inner.request(
            method,
            pinned,
            headers=pinned_headers,
            body=body,
            timeout=timeout,
            max_bytes=limit,
            tls_server_name=host if scheme == "https" else None,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def _under(url: str, base: str) -> bool:
    return url == base or (url.startswith(base) and url[len(base)] in "/?#")


UPSTREAM_CLIENTS: Mapping[str, Callable[[], Awaitable[Transport]]] = {
    "aiohttp": AiohttpTransport.create,
    "httpx": HttpxTransport.create,
}
"""The upstream clients ``loom gateway`` can use (``LOOM_GATEWAY_UPSTREAM_CLIENT``), each as a lifespan factory."""
