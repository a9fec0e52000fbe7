"""Loom's own HTTP/1.1 client: keep-alive connections as asyncio protocols, responses parsed by llhttp (httptools).

Why a third client: on the gateway's hot path a py-spy profile of ``make bench`` put ~38% of the gateway's CPU in
aiohttp's request machinery (``ClientSession._request``, its timeout handles, header and payload objects, the
stream reader) for requests that are always the same shape: a small POST of JSON bytes to one of a few upstreams,
answered with a body read whole. This client does only that work: the request is one ``bytes`` written to a pooled
connection, the answer is parsed in C as it arrives, and one timer bounds the whole exchange.

What it does not do, on purpose: follow redirects (an upstream's 3xx is its answer, as for the other clients),
cookies, proxies, HTTP/2. It sends no ``Accept-Encoding`` (upstreams answer identity) and still decodes gzip and
deflate if an upstream compresses anyway.
"""

from __future__ import annotations

import asyncio
import functools
import re
import ssl
import zlib
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any, cast
from urllib.parse import urlsplit

import httptools

from stitcher.transport._base import UpstreamError, UpstreamResponse, _repeatable, _too_large, _Unanswered, log

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_UNSAFE_VALUE = re.compile(r"[\r\n\x00]")
# The response fields the client itself reads (the rest is decoded only if a caller asks).
_FRAMING_FIELDS = frozenset({b"content-length", b"transfer-encoding", b"content-encoding"})
# Framing headers are the client's to write; a caller's copy would contradict them (request smuggling).
_FRAMING = frozenset({"host", "content-length", "transfer-encoding", "connection"})


class _Headers(Mapping[str, str]):
    """A response's headers: case-insensitive names, repeated fields joined with ``", "`` (RFC 9110 5.3). Decoded
    on first use: the executor reads the status and the body of almost every answer, not its headers."""

    __slots__ = ("_decoded", "_raw")

    def __init__(self, raw: list[tuple[bytes, bytes]], decoded: dict[str, str] | None = None) -> None:
        self._raw = raw
        self._decoded = decoded

    @property
    def _fields(self) -> dict[str, str]:
        fields = self._decoded
        if fields is None:
            fields = self._decoded = {}
            for name, value in self._raw:
                key = name.decode("latin-1").lower()
                text = value.decode("latin-1")
                known = fields.get(key)
                fields[key] = text if known is None else f"{known}, {text}"
        return fields

    def __getitem__(self, name: str) -> str:
        return self._fields[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._fields

    def __repr__(self) -> str:
        return f"_Headers({self._fields!r})"


class _Target:
    """What one URL means to the client, computed once per URL (``Http11Transport`` keeps them)."""

    __slots__ = ("host", "host_header", "key", "port", "request_target", "tls")

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL with a host")
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        self.host_header = parts.netloc.rpartition("@")[2]
        path = parts.path or "/"
        self.request_target = f"{path}?{parts.query}" if parts.query else path
        self.key = (parts.scheme, self.host, self.port)


class _Connection(asyncio.Protocol):
    """One keep-alive connection. At most one exchange at a time: ``begin`` arms it, the parser's callbacks fill
    it, and ``waiter`` gets the answer or the error. The parser's callbacks are named by httptools."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.used = 0  # exchanges begun on this connection; > 1 means it came from the pool
        self.idle_since = 0.0
        self.waiter: asyncio.Future[UpstreamResponse] | None = None
        self._reset()

    def _reset(self) -> None:
        self._method = "GET"
        self._url = ""
        self._max_bytes: int | None = None
        self._raw: list[tuple[bytes, bytes]] = []
        self._framing: dict[bytes, bytes] = {}  # content-length, transfer-encoding, content-encoding (lower-case)
        self._chunks: list[bytes] = []
        self._size = 0
        self._answered = False  # a byte of the answer arrived
        self._headers_done = False
        self._delimited = False  # by content-length or chunked; otherwise the body ends when the connection does
        self._error: UpstreamError | None = None
        self.keep_alive = False

    # --- the exchange -------------------------------------------------------------------------------------------

    def begin(self, method: str, url: str, data: bytes, max_bytes: int | None) -> asyncio.Future[UpstreamResponse]:
        self._reset()
        self._method, self._url, self._max_bytes = method, url, max_bytes
        self.used += 1
        self.waiter = self._loop.create_future()
        assert self.transport is not None
        self.transport.write(data)
        return self.waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()  # never reused: whatever is still in flight is discarded

    def _settle(self, result: UpstreamResponse | UpstreamError) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if isinstance(result, UpstreamError):
            waiter.set_exception(result)
        else:
            waiter.set_result(result)

    def fail(self, error: UpstreamError) -> None:
        self._settle(error)
        self.close()

    def _answer(self) -> UpstreamResponse:
        body = b"".join(self._chunks)
        headers = _Headers(self._raw)
        encoding = self._framing.get(b"content-encoding", b"").strip().lower()
        if encoding in (b"gzip", b"deflate", b"x-gzip"):
            # aiohttp and httpx decode these too; upstreams rarely compress without Accept-Encoding.
            try:
                body = zlib.decompress(body, 47)  # 32 + 15: gzip or zlib header, detected
            except zlib.error as exc:
                raise self._protocol(f"its {encoding.decode()} body does not decode ({exc})") from exc
            fields = dict(headers)
            del fields["content-encoding"]
            fields.pop("content-length", None)
            headers = _Headers([], fields)
        return UpstreamResponse(self._parser.get_status_code(), headers, body)

    def _protocol(self, what: str) -> UpstreamError:
        return UpstreamError(f"{self._method} {self._url}: {what}", kind="protocol", url=self._url)

    # --- asyncio.Protocol ---------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's TCPTransport does not subclass it

    def data_received(self, data: bytes) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():  # bytes nobody asked for: the connection cannot be trusted again
            self.close()
            return
        self._answered = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            error = self._error or self._protocol(f"the upstream did not answer in HTTP/1.1 ({exc})")
            error.__cause__ = exc
            self.fail(error)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if self._headers_done and not self._delimited:
            self.keep_alive = False
            try:
                self._settle(self._answer())
            except UpstreamError as undecodable:
                self._settle(undecodable)
            return
        cause = exc or ConnectionResetError("the upstream closed the connection")
        error: UpstreamError
        if self._answered:
            error = self._protocol(f"the upstream closed the connection mid-response ({cause})")
        elif self.used > 1:  # a pooled connection the upstream had closed: safe requests are sent once more
            error = _Unanswered(
                f"{self._method} {self._url}: the upstream closed the connection without answering ({cause})",
                kind="protocol",
                url=self._url,
            )
        else:
            error = self._protocol(f"the upstream closed the connection without answering ({cause})")
        error.__cause__ = cause
        self._settle(error)

    # --- httptools callbacks ------------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._raw = []
        self._framing = {}
        self._chunks = []
        self._size = 0
        self._headers_done = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self._raw.append((name, value))
        key = name.lower()
        if key in _FRAMING_FIELDS:
            known = self._framing.get(key)
            self._framing[key] = value if known is None else known + b", " + value

    def on_headers_complete(self) -> None:
        self._headers_done = True
        framing = self._framing
        raw_length = framing.get(b"content-length")
        length = None if raw_length is None else raw_length.decode("latin-1").strip()
        self._delimited = length is not None or b"chunked" in framing.get(b"transfer-encoding", b"").lower()
        limit = self._max_bytes
        if limit is not None and length is not None and length.isdigit() and int(length) > limit:
            self._error = _too_large(self._method, self._url, limit)
            raise self._error  # stops the parser: the body is never read, the connection is dropped
        if self._method == "HEAD":  # no body follows, whatever the length says; llhttp cannot be told so
            self._settle(self._answer())
            self.keep_alive = False
            self.close()

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        limit = self._max_bytes
        if limit is not None and self._size > limit:
            self._error = _too_large(self._method, self._url, limit)
            raise self._error
        self._chunks.append(body)

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # an interim answer (100 Continue, 103 Early Hints): the real one follows
            return
        self.keep_alive = self._parser.should_keep_alive()
        try:
            self._settle(self._answer())
        except UpstreamError as error:
            self._error = error
            raise


class Http11Transport:
    """The :class:`~stitcher.transport.Transport` contract on Loom's own HTTP/1.1 client.

    Keep-alive connections are pooled per scheme, host and port (most recently used first, so the idle ones expire
    at the far end); there is no bound on connections in use, like aiohttp's ``limit=0``, and at most
    ``max_idle_per_host`` are kept idle. ``connect_timeout`` bounds connection set-up, the per-request ``timeout``
    the whole exchange (one timer). A connection is reused only after a complete, keep-alive answer; a timeout, an
    error, a cap or a cancelled caller closes it.
    """

    def __init__(
        self, *, max_idle_per_host: int = 256, connect_timeout: float = 3.0, keepalive_timeout: float = 30.0
    ) -> None:
        self._max_idle = max_idle_per_host
        self._connect_timeout = connect_timeout
        self._keepalive = keepalive_timeout
        self._pools: dict[tuple[str, str, int, str | None], deque[_Connection]] = {}
        self._busy: set[_Connection] = set()
        self._targets: dict[str, _Target] = {}
        self._tls: ssl.SSLContext | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    async def create(
        cls, *, max_idle_per_host: int = 256, connect_timeout: float = 3.0, keepalive_timeout: float = 30.0
    ) -> Http11Transport:
        transport = cls(
            max_idle_per_host=max_idle_per_host, connect_timeout=connect_timeout, keepalive_timeout=keepalive_timeout
        )
        await transport.start()
        return transport

    async def start(self) -> None:
        """Bind to the running loop (the app's lifespan) and load the system's CA certificates once."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._tls = ssl.create_default_context()

    @property
    def connections(self) -> int:
        """Open connections, idle and busy (tests read it to prove that none leaks)."""
        idle = sum(1 for pool in self._pools.values() for c in pool if not c.closed)
        return idle + len(self._busy)

    @property
    def started(self) -> bool:
        return self._loop is not None

    def _target(self, url: str) -> _Target:
        target = self._targets.get(url)
        if target is None:
            target = _Target(url)
            if len(self._targets) >= 10_000:  # REST URLs carry ids; keep the cache bounded
                self._targets.clear()
            self._targets[url] = target
        return target

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float,  # noqa: ASYNC109 - enforced as one timer over the whole exchange
        max_bytes: int | None = None,
        tls_server_name: str | None = None,
    ) -> UpstreamResponse:
        if self._loop is None:
            raise RuntimeError("Http11Transport.start() was not awaited: create the transport in the app's lifespan")
        try:
            target = self._target(url)
        except ValueError as exc:
            raise UpstreamError(f"{method} {url}: {exc}", kind="protocol", url=url) from exc
        data = _request_bytes(method, target, headers, body, url)
        loop = self._loop
        deadline = loop.time() + timeout
        try:
            return await self._exchange(method, url, target, data, deadline, timeout, max_bytes, tls_server_name)
        except _Unanswered:  # the contract's one retry (see _once_more_if_unanswered), inline on the hot path
            if not _repeatable(method, headers) or loop.time() >= deadline:
                raise
            log.debug("%s: the upstream closed a pooled connection unanswered; sending once more", method)
            return await self._exchange(method, url, target, data, deadline, timeout, max_bytes, tls_server_name)

    async def _exchange(
        self,
        method: str,
        url: str,
        target: _Target,
        data: bytes,
        deadline: float,
        timeout: float,  # noqa: ASYNC109 - the whole request's, for the message; ``deadline`` is when it ends
        max_bytes: int | None,
        tls_server_name: str | None,
    ) -> UpstreamResponse:
        loop = self._loop
        assert loop is not None
        key = (*target.key, tls_server_name)
        connection = self._idle(key, loop.time())
        if connection is None:
            connection = await self._connect(method, url, target, tls_server_name, deadline - loop.time())
        waiter = connection.begin(method, url, data, max_bytes)
        self._busy.add(connection)
        timer = loop.call_at(deadline, _expire, connection, method, url, timeout)
        try:
            response = await waiter
        except _Unanswered:
            # The upstream closed a pooled connection (restart, idle timeout): the others pooled with it are likely
            # closed too, so the one retry goes out on a new connection.
            connection.close()
            self._drop_idle(key)
            raise
        except BaseException:
            connection.close()  # a timeout, an error or a cancelled caller: the exchange cannot be resumed
            raise
        finally:
            timer.cancel()
            self._busy.discard(connection)
            connection.waiter = None
        if connection.keep_alive and not connection.closed:
            self._release(key, connection, loop.time())
        else:
            connection.close()
        return response

    def _idle(self, key: tuple[str, str, int, str | None], now: float) -> _Connection | None:
        pool = self._pools.get(key)
        while pool:
            connection = pool.pop()
            if not connection.closed and now - connection.idle_since < self._keepalive:
                return connection
            connection.close()
        return None

    def _drop_idle(self, key: tuple[str, str, int, str | None]) -> None:
        for connection in self._pools.pop(key, ()):
            connection.close()

    def _release(self, key: tuple[str, str, int, str | None], connection: _Connection, now: float) -> None:
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = deque()
        if len(pool) >= self._max_idle:
            connection.close()
            return
        connection.idle_since = now
        pool.append(connection)

    async def _connect(
        self,
        method: str,
        url: str,
        target: _Target,
        tls_server_name: str | None,
        timeout: float,  # noqa: ASYNC109
    ) -> _Connection:
        loop = self._loop
        assert loop is not None
        tls: dict[str, Any] = (
            {"ssl": self._tls, "server_hostname": tls_server_name or target.host} if target.tls else {}
        )
        seconds = min(self._connect_timeout, timeout)
        try:
            async with asyncio.timeout(seconds):
                _, connection = await loop.create_connection(lambda: _Connection(loop), target.host, target.port, **tls)
        except TimeoutError as exc:
            raise UpstreamError(
                f"{method} {url}: cannot connect within {seconds:g} s", kind="connection", url=url
            ) from exc
        except OSError as exc:  # refused, unreachable, unresolvable, TLS (ssl.SSLError is an OSError)
            raise UpstreamError(f"{method} {url}: cannot connect ({exc})", kind="connection", url=url) from exc
        return connection

    async def aclose(self) -> None:
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            for connection in pool:
                connection.close()
        for connection in list(self._busy):
            connection.fail(UpstreamError("the gateway is closing its upstream connections", kind="connection", url=""))
        self._busy.clear()


def _expire(connection: _Connection, method: str, url: str, timeout: float) -> None:
    error = UpstreamError(f"{method} {url} timed out after {timeout:g} s", kind="timeout", url=url)
    error.__cause__ = TimeoutError()
    connection.fail(error)


def _request_bytes(
    method: str, target: _Target, headers: Mapping[str, str] | None, body: bytes | None, url: str
) -> bytes:
    try:
        fields, host = _fields(tuple(headers.items()) if headers else ())
    except _NotHttp as exc:
        raise UpstreamError(
            f"{method} {url}: the header {exc.args[0]!r} is not a valid HTTP field (a name of token characters, a "
            "value without CR, LF or NUL)",
            kind="protocol",
            url=url,
            reason="was not called: a header of the request is not valid HTTP",
        ) from None
    host = host or target.host_header
    start = f"{method} {target.request_target} HTTP/1.1\r\n{fields}host: {host}\r\n"
    if _UNSAFE_VALUE.search(host) is not None or _UNSAFE_VALUE.search(target.request_target) is not None:
        raise UpstreamError(f"{method} {url}: the URL or Host is not valid HTTP", kind="protocol", url=url)
    if body is not None:
        return _encoded(f"{start}content-length: {len(body)}\r\n\r\n") + body
    return _encoded(f"{start}content-length: 0\r\n\r\n" if method in ("POST", "PUT", "PATCH") else f"{start}\r\n")


class _NotHttp(ValueError):
    """A header field that cannot be sent as HTTP/1.1 (its name is the argument)."""


@functools.lru_cache(maxsize=256)
def _fields(items: tuple[tuple[str, str], ...]) -> tuple[str, str | None]:
    """The header block of ``items`` (checked, framing left out) and the guard's pinned Host if any. Cached: the
    executor sends the same header set on every fetch of a request. A request's own ``x-request-id`` makes the set
    new once per request, so each field's line is cached too (:func:`_field_line`) and only that one is checked."""
    host = None
    lines = []
    for item in items:
        line = _field_line(item)
        if line is None:
            if item[0].lower() == "host":  # the guard pins the URL to an address and keeps the name here
                host = item[1]
            continue
        lines.append(line)
    return "".join(lines), host


@functools.lru_cache(maxsize=1024)
def _field_line(item: tuple[str, str]) -> str | None:
    """One checked header line, or None for a framing field (the client's own); :class:`_NotHttp` if not HTTP."""
    name, value = item
    if name.lower() in _FRAMING:
        return None
    if _TOKEN.fullmatch(name) is None or _UNSAFE_VALUE.search(value) is not None:
        raise _NotHttp(name)
    return f"{name}: {value}\r\n"


def _encoded(text: str) -> bytes:
    try:
        return text.encode("latin-1")  # what HTTP/1.1 fields are; a client's header arrives decoded as latin-1
    except UnicodeEncodeError:
        return text.encode()
