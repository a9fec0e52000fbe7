"""stitcher.transport: HTTP/1.1 framing every client must read right (chunked, close-delimited, HEAD, interim 1xx,
gzip), from a raw asyncio server that sends exact bytes; then what only Loom's own client (``Http11Transport``)
decides itself: which request bytes go out, and which connections are reused."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from collections.abc import AsyncIterator

import pytest

from stitcher.transport import SAFE_RETRY, UPSTREAM_CLIENTS, Http11Transport, UpstreamError, UpstreamResponse
from tests.stitcher.test_transport import CLIENTS, AnyTransport


class ScriptedServer:
    """Answers each request head (and its content-length body) with the next of ``replies``; ``close_after`` closes
    the connection after writing a reply; ``forget`` answers only a connection's first request and closes it unanswered
    on the next (an upstream whose keep-alive ended as the request went out). ``requests`` keeps the raw request
    bytes; ``connections`` counts the connections, ``open`` those still open."""

    def __init__(self, *replies: bytes, close_after: bool = False, forget: bool = False) -> None:
        self.replies = list(replies)
        self.close_after = close_after
        self.forget = forget
        self.requests: list[bytes] = []
        self.connections = 0
        self.open = 0
        self.received = asyncio.Event()  # a request arrived
        self.all_closed = asyncio.Event()  # the last open connection was closed

    async def __aenter__(self) -> ScriptedServer:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/"
        return self

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        answered = False
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.lower().split(b"\r\n")
                        if line.startswith(b"content-length:")
                    ),
                    0,
                )
                self.requests.append(head + await reader.readexactly(length))
                self.received.set()
                if self.forget and answered:
                    break
                answered = True
                writer.write(self.replies.pop(0) if len(self.replies) > 1 else self.replies[0])
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self.open -= 1
            if not self.open:
                self.all_closed.set()

    async def __aexit__(self, *_: object) -> None:
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture(params=sorted(CLIENTS))
async def transport(request: pytest.FixtureRequest) -> AsyncIterator[AnyTransport]:
    transport = await CLIENTS[request.param].create(connect_timeout=1.0)
    yield transport
    await transport.aclose()


@pytest.fixture
async def own() -> AsyncIterator[Http11Transport]:
    transport = await Http11Transport.create(connect_timeout=1.0)
    yield transport
    await transport.aclose()


async def ask(transport: AnyTransport, url: str, method: str = "GET") -> UpstreamResponse:
    return await transport.request(method, url, timeout=5)


async def test_a_chunked_answer_is_read_whole(transport: AnyTransport) -> None:
    reply = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    async with ScriptedServer(reply) as server:
        assert (await ask(transport, server.url)).body == b"hello world"
        assert (await ask(transport, server.url)).body == b"hello world"
        assert server.connections == 1  # a chunked answer ends cleanly: the connection is kept


async def test_an_answer_without_a_length_ends_with_the_connection(transport: AnyTransport) -> None:
    async with ScriptedServer(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end", close_after=True
    ) as server:
        assert (await ask(transport, server.url)).body == b"until the end"
        assert (await ask(transport, server.url)).body == b"until the end"
        assert server.connections == 2


async def test_a_head_answer_has_no_body_whatever_its_length_says(transport: AnyTransport) -> None:
    async with ScriptedServer(b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n") as server:
        response = await ask(transport, server.url, "HEAD")
        assert (response.status, response.body, response.headers["content-length"]) == (200, b"", "1234")


async def test_an_interim_answer_is_skipped(transport: AnyTransport) -> None:
    reply = b"HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
    async with ScriptedServer(reply) as server:
        response = await ask(transport, server.url)
        assert (response.status, response.body) == (200, b"ok")


async def test_a_gzip_body_is_decoded(transport: AnyTransport) -> None:
    body = gzip.compress(b'{"data": {"ok": true}}')
    reply = b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    async with ScriptedServer(reply) as server:
        assert (await ask(transport, server.url)).body == b'{"data": {"ok": true}}'


async def test_repeated_fields_are_joined_and_names_are_case_insensitive(own: Http11Transport) -> None:
    reply = b"HTTP/1.1 200 OK\r\nVary: accept\r\nvary: origin\r\nContent-Length: 0\r\n\r\n"
    async with ScriptedServer(reply) as server:
        response = await ask(own, server.url)
        assert response.headers["VARY"] == "accept, origin"
        assert "Content-Length" in response.headers and "x-absent" not in response.headers


async def test_the_request_carries_exactly_its_framing(own: Http11Transport) -> None:
    """Content-Length and Host are the client's own: a caller's copies (from a forwarded request) are dropped, so no
    request can be framed twice (request smuggling); the guard's pinned ``host`` is kept."""
    async with ScriptedServer(b"HTTP/1.1 204 No Content\r\n\r\n") as server:
        headers = {"Content-Length": "999", "Transfer-Encoding": "chunked", "host": "books.internal", "x-a": "1"}
        await own.request("POST", server.url + "path?q=1", headers=headers, body=b"{}", timeout=5)
        await own.request("GET", server.url, timeout=5)
    first, second = server.requests
    assert first == (b"POST /path?q=1 HTTP/1.1\r\nx-a: 1\r\nhost: books.internal\r\ncontent-length: 2\r\n\r\n{}")
    assert second == f"GET / HTTP/1.1\r\nhost: {server.url[7:-1]}\r\n\r\n".encode()


@pytest.mark.parametrize(
    "headers", [{"x-a": "1\r\nx-injected: yes"}, {"x-a\r\nx-injected": "yes"}, {"x a": "1"}, {"x-a": "nul\x00"}]
)
async def test_a_header_that_is_not_http_is_refused_before_connecting(
    own: Http11Transport, headers: dict[str, str]
) -> None:
    async with ScriptedServer(b"HTTP/1.1 204 No Content\r\n\r\n") as server:
        with pytest.raises(UpstreamError, match="is not a valid HTTP field") as caught:
            await own.request("GET", server.url, headers=headers, timeout=5)
    assert (server.connections, caught.value.kind) == (0, "protocol")


async def test_each_request_id_is_checked_and_sent_beside_fields_already_sent(own: Http11Transport) -> None:
    """A request's own ``x-request-id`` makes its header set new while the other fields repeat (their lines cached):
    each request carries its own id, and an id that is not HTTP is refused though the fields beside it were sent."""
    common = {"content-type": "application/json", "x-loom-retry": "safe"}
    async with ScriptedServer(b"HTTP/1.1 204 No Content\r\n\r\n", b"HTTP/1.1 204 No Content\r\n\r\n") as server:
        for rid in ("r-1", "r-2"):
            await own.request("GET", server.url, headers={**common, "x-request-id": rid}, timeout=5)
        with pytest.raises(UpstreamError, match="'x-request-id' is not a valid HTTP field"):
            await own.request("GET", server.url, headers={**common, "x-request-id": "r\r\nx-injected: yes"}, timeout=5)
    fields = "content-type: application/json\r\nx-loom-retry: safe\r\n"
    host = server.url[7:-1]
    assert server.requests == [
        f"GET / HTTP/1.1\r\n{fields}x-request-id: {rid}\r\nhost: {host}\r\n\r\n".encode() for rid in ("r-1", "r-2")
    ]


async def test_a_cancelled_request_closes_its_connection(own: Http11Transport) -> None:
    async with ScriptedServer(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial") as server:
        task = asyncio.create_task(own.request("GET", server.url, timeout=5))
        await server.received.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert own.connections == 0
        await server.all_closed.wait()  # the server saw the connection end


async def test_after_an_unanswered_pooled_request_the_retry_takes_a_new_connection(own: Http11Transport) -> None:
    """Two connections pooled, both about to be closed by the upstream: the query goes out on one and is unanswered;
    its one retry goes out on a new connection, not on the other pooled one (which would fail the same way)."""
    async with ScriptedServer(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", forget=True) as server:
        await asyncio.gather(own.request("GET", server.url, timeout=5), own.request("GET", server.url, timeout=5))
        assert (server.connections, own.connections) == (2, 2)
        response = await own.request("POST", server.url, headers=dict([SAFE_RETRY]), body=b"{}", timeout=5)
        assert (response.status, response.body, server.connections) == (200, b"ok", 3)


def test_the_gateway_calls_upstreams_with_its_own_client_by_default() -> None:
    from stitcher.settings import GatewaySettings

    assert GatewaySettings().transport_factory() is UPSTREAM_CLIENTS["http11"]
