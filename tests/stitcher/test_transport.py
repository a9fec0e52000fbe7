"""stitcher.transport: the same contract for every upstream client (AiohttpTransport, HttpxTransport, Loom's own
Http11Transport) against real servers on loopback (a raw asyncio server plays the broken ones: one that never
answers, one that speaks garbage instead of HTTP). Each test runs once per client. At the end, ``loom gateway`` as
a real process proves that ``LOOM_GATEWAY_UPSTREAM_CLIENT`` switches the client its upstream requests are made
with."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from portal.cli import main
from stitcher.composition import compose
from stitcher.egress import EgressPolicy, IPAddress
from stitcher.errors import StitcherError
from stitcher.ir import SourceKind
from stitcher.sources import SourceSpec
from stitcher.supergraph import print_supergraph_sdl
from stitcher.transport import (
    SAFE_RETRY,
    UPSTREAM_CLIENTS,
    AiohttpTransport,
    GuardedTransport,
    Http11Transport,
    HttpxTransport,
    Upstream,
    UpstreamError,
)
from tests.stitcher.gateway_upstreams import BOOKS_SDL, ServerThread, books_app
from tests.stitcher.test_gateway_cli import Gateway
from tests.stitcher.upstreams.app import Receive, Scope, Send, read_body, respond
from tests.stitcher.upstreams.serving import UpstreamServers

AnyTransport = AiohttpTransport | HttpxTransport | Http11Transport
CLIENTS: dict[str, type[AiohttpTransport] | type[HttpxTransport] | type[Http11Transport]] = {
    "aiohttp": AiohttpTransport,
    "httpx": HttpxTransport,
    "http11": Http11Transport,
}


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    body = await read_body(receive)
    headers = [(b"content-type", b"text/plain"), (b"x-method", scope["method"].encode())]
    await respond(send, 201, body + scope.get("headers", [(b"", b"")])[0][0], headers)


async def big(scope: Scope, receive: Receive, send: Send) -> None:
    """1 MiB in 64 KiB chunks, without a content-length (``?length`` sends one): a cap must stop the stream."""
    await read_body(receive)
    headers = [(b"content-type", b"application/octet-stream")]
    if b"length" in scope.get("query_string", b""):
        headers.append((b"content-length", str(1024 * 1024).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for _ in range(16):
        await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def host(scope: Scope, receive: Receive, send: Send) -> None:
    await read_body(receive)
    seen = dict(scope["headers"]).get(b"host", b"")
    await respond(send, 200, seen, [(b"content-type", b"text/plain")])


@pytest.fixture(scope="module")
def servers() -> Iterator[UpstreamServers]:
    with UpstreamServers({"echo": echo, "big": big, "host": host}) as running:
        yield running


@pytest.fixture(params=sorted(CLIENTS))
def client(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
async def transport(client: str) -> AsyncIterator[AnyTransport]:
    transport = await CLIENTS[client].create(connect_timeout=1.0)
    yield transport
    await transport.aclose()


class RawServer:
    """A TCP server on a free port that answers ``reply`` instead of HTTP, or never answers (``None``).

    ``closed`` counts the connections the client has closed: a client that gives up on a broken upstream must drop
    that connection rather than keep it in its pool."""

    def __init__(self, reply: bytes | None) -> None:
        self.reply = reply
        self.writers: list[asyncio.StreamWriter] = []
        self.closed = 0

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/"
        return self

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        await reader.read(1024)
        if self.reply is not None:
            writer.write(self.reply)
            await writer.drain()
        with contextlib.suppress(ConnectionError):
            while await reader.read(1024):  # until the client gives up and closes
                pass
        self.closed += 1

    async def wait_all_closed(self) -> bool:
        for _ in range(100):
            if self.writers and self.closed == len(self.writers):
                return True
            await asyncio.sleep(0.02)
        return False

    async def __aexit__(self, *_: object) -> None:
        self.server.close()
        for writer in self.writers:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        await self.server.wait_closed()


class ForgetfulServer:
    """Answers the first request of each connection with keep-alive, then closes the connection unanswered when the
    next request arrives on it: what an upstream does when its keep-alive timeout ends as a request goes out."""

    OK = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"

    def __init__(self) -> None:
        self.connections = 0
        self.answered = 0
        self.writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> ForgetfulServer:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/"
        return self

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        with contextlib.suppress(ConnectionError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(self.OK)
            await writer.drain()
            self.answered += 1
            await reader.readuntil(b"\r\n\r\n")  # the next request on this connection: never answered
        writer.close()

    async def __aexit__(self, *_: object) -> None:
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()


async def test_a_query_on_a_connection_the_upstream_just_closed_is_sent_once_more(transport: AnyTransport) -> None:
    """Issue 6 (test suite): a property test failed once with 'the upstream closed the connection mid-response' on
    a loaded machine. A pooled connection that the upstream closes as a request goes out gets no answer; a query
    (marked safe to repeat, as the executor marks queries) is sent once more on a new connection."""
    async with ForgetfulServer() as server:
        first = await transport.request("GET", server.url, timeout=2)
        again = await transport.request("POST", server.url, headers=dict([SAFE_RETRY]), body=b"{}", timeout=2)
        assert (first.status, first.body, again.status, again.body) == (200, b"ok", 200, b"ok")
        assert (server.connections, server.answered) == (2, 2)


async def test_a_mutation_on_a_connection_the_upstream_just_closed_is_not_sent_again(transport: AnyTransport) -> None:
    async with ForgetfulServer() as server:
        await transport.request("GET", server.url, timeout=2)
        with pytest.raises(UpstreamError, match="closed the connection without answering") as caught:
            await transport.request("POST", server.url, body=b'{"query": "mutation { pay }"}', timeout=2)
        assert (server.connections, server.answered, caught.value.kind) == (1, 1, "protocol")


def test_every_client_is_selectable_by_name() -> None:
    assert set(UPSTREAM_CLIENTS) == set(CLIENTS)


async def test_request_returns_status_headers_and_body(servers: UpstreamServers, transport: AnyTransport) -> None:
    response = await transport.request(
        "PUT", servers.urls["echo"] + "/x", headers={"content-type": "text/plain"}, body=b"hello", timeout=5
    )
    assert response.status == 201
    assert response.headers["x-method"] == "PUT"
    assert response.headers["X-Method"] == "PUT"  # case-insensitive, as HTTP headers are
    assert response.body.startswith(b"hello")


async def test_keep_alive_uses_one_connection_and_close_releases_it(servers: UpstreamServers, client: str) -> None:
    transport = await UPSTREAM_CLIENTS[client]()
    assert isinstance(transport, CLIENTS[client])
    for _ in range(5):
        await transport.request("POST", servers.urls["echo"], body=b"x", timeout=5)
    assert servers.connections("echo") == 1
    await transport.aclose()
    for _ in range(100):
        if servers.connections("echo") == 0:
            break
        await asyncio.sleep(0.02)
    assert servers.connections("echo") == 0
    if isinstance(transport, Http11Transport):
        assert transport.connections == 0
    else:
        assert (transport.connector if isinstance(transport, AiohttpTransport) else transport.client) is None


async def test_timeout_drops_the_connection(transport: AnyTransport) -> None:
    async with RawServer(None) as server:
        with pytest.raises(UpstreamError, match=r"timed out after 0\.2 s") as caught:
            await transport.request("POST", server.url, body=b"{}", timeout=0.2)
        assert await server.wait_all_closed(), "the timed-out connection was kept open"
    assert caught.value.kind == "timeout"
    assert isinstance(caught.value, StitcherError) and caught.value.__cause__ is not None


async def test_connection_refused(transport: AnyTransport) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused
        with pytest.raises(UpstreamError, match="cannot connect") as caught:
            await transport.request("GET", f"http://127.0.0.1:{port}/", timeout=2)
    assert caught.value.kind == "connection"
    assert caught.value.__cause__ is not None


async def test_garbage_instead_of_http_drops_the_connection(transport: AnyTransport) -> None:
    async with RawServer(b"SSH-2.0-OpenSSH_9.6\r\n\r\n") as server:
        with pytest.raises(UpstreamError) as caught:
            await transport.request("GET", server.url, timeout=2)
        assert await server.wait_all_closed(), "the connection that spoke garbage was kept open"
    assert caught.value.kind == "protocol"
    assert caught.value.__cause__ is not None


@pytest.mark.parametrize("query", ["", "?length"])
async def test_a_response_past_max_bytes_is_abandoned(
    servers: UpstreamServers, transport: AnyTransport, query: str
) -> None:
    url = servers.urls["big"] + "/" + query
    assert len((await transport.request("GET", url, timeout=5, max_bytes=2 * 1024 * 1024)).body) == 1024 * 1024
    with pytest.raises(UpstreamError, match="larger than 100000 bytes") as caught:
        await transport.request("GET", url, timeout=5, max_bytes=100_000)
    assert caught.value.kind == "too_large"
    assert "100000 bytes" in caught.value.reason and "127.0.0.1" not in caught.value.reason


async def test_guard_refuses_what_the_egress_policy_forbids_before_connecting(
    servers: UpstreamServers, transport: AnyTransport
) -> None:
    guarded = GuardedTransport(transport)
    base = servers.urls["host"]
    guarded.set_upstreams({base: Upstream(service="greeter", egress=EgressPolicy())})
    with pytest.raises(UpstreamError, match="loopback") as caught:
        await guarded.request("GET", base + "/x", timeout=5)
    assert caught.value.kind == "refused"
    assert "127.0.0.1" not in caught.value.reason and "egress policy" in caught.value.reason
    assert servers.connections("host") == 0
    # A name is resolved and every address checked: localhost is loopback too.
    port = base.rsplit(":", 1)[1]
    guarded.set_upstreams({f"http://localhost:{port}": Upstream(service="greeter", egress=EgressPolicy())})
    with pytest.raises(UpstreamError, match=r"localhost \(.*\) is a loopback address"):
        await guarded.request("GET", f"http://localhost:{port}/x", timeout=5)


async def test_guard_connects_to_the_checked_address_and_keeps_the_host_name(
    servers: UpstreamServers, transport: AnyTransport
) -> None:
    port = servers.urls["host"].rsplit(":", 1)[1]
    base = f"http://localhost:{port}"
    guarded = GuardedTransport(transport)
    guarded.set_upstreams({base: Upstream(service="greeter", egress=EgressPolicy(allow_loopback=True))})
    response = await guarded.request("GET", base + "/x", timeout=5)
    assert response.status == 200 and response.body == f"localhost:{port}".encode()


async def test_guard_applies_each_upstreams_response_cap(servers: UpstreamServers, transport: AnyTransport) -> None:
    guarded = GuardedTransport(transport, default=Upstream(service="", max_response_bytes=10 * 1024 * 1024))
    guarded.set_upstreams({servers.urls["big"]: Upstream(service="big", max_response_bytes=1000)})
    with pytest.raises(UpstreamError, match="larger than 1000 bytes"):
        await guarded.request("GET", servers.urls["big"] + "/", timeout=5)
    # The echo upstream is claimed by no base URL: the default cap applies.
    assert (await guarded.request("POST", servers.urls["echo"], body=b"hi", timeout=5)).status == 201


async def test_not_started_is_a_clear_error(client: str) -> None:
    transport = CLIENTS[client]()
    with pytest.raises(RuntimeError, match="start\\(\\) was not awaited"):
        await transport.request("GET", "http://127.0.0.1:1/", timeout=1)
    await transport.aclose()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("setting", "user_agent"), [(None, None), ("aiohttp", None), ("httpx", "python-httpx/"), ("http11", None)]
)
def test_loom_gateway_calls_upstreams_with_the_client_the_environment_names(
    setting: str | None, user_agent: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upstream sees which client called it: httpx sends its ``python-httpx/<version>`` User-Agent, the aiohttp
    transport sends none (``skip_auto_headers``), nor does Loom's own. Unset, the gateway uses its own (http11).
    httpx's own INFO line per request stays out of the gateway's logs."""
    calls: list[dict[str, Any]] = []
    with ServerThread(books_app(calls)) as books:
        supergraph = tmp_path / "supergraph.graphql"
        spec = SourceSpec("books", SourceKind.GRAPHQL, BOOKS_SDL, url=f"{books.url}/graphql")
        supergraph.write_text(print_supergraph_sdl(compose([spec])))
        monkeypatch.delenv("LOOM_GATEWAY_UPSTREAM_CLIENT", raising=False)
        env = {"LOOM_GATEWAY_UPSTREAM_CLIENT": setting} if setting else {}
        with Gateway("--supergraph", str(supergraph), env=env) as gateway:
            gateway.wait_ready()
            answer = httpx.post(f"{gateway.url}/graphql", json={"query": "{ book(id: 3) { title } }"})
            assert answer.json() == {"data": {"book": {"title": "Book 3"}}}
            code, logs = gateway.stop()
    assert code == 0
    assert '"logger": "httpx"' not in logs  # no log line per upstream fetch at the default level (INFO)
    assert len(calls) == 1
    sent = calls[0]["headers"].get("user-agent")
    if user_agent is None:
        assert sent is None
    else:
        assert sent is not None and sent.startswith(user_agent)


def test_an_unknown_upstream_client_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOOM_GATEWAY_UPSTREAM_CLIENT", "requests")
    assert main(["gateway", "--supergraph", str(tmp_path / "unread.graphql")]) == 1
    assert capsys.readouterr().err == (
        "loom: error: LOOM_GATEWAY_UPSTREAM_CLIENT='requests' is not an upstream client: "
        "use aiohttp or httpx or http11\n"
    )


async def test_guard_checks_again_when_the_name_resolves_elsewhere(
    servers: UpstreamServers, transport: AnyTransport
) -> None:
    """A name that passed (at apply time, or a moment ago) and now resolves to the metadata address is refused on
    the next connection once its checked answer has expired: the check runs where the gateway connects."""
    port = int(servers.urls["host"].rsplit(":", 1)[1])
    answers: list[IPAddress] = [ipaddress.ip_address("127.0.0.1")]
    now = [0.0]

    async def resolver(host: str, port: int) -> list[IPAddress]:
        assert host == "svc.example"
        return list(answers)

    guarded = GuardedTransport(transport, dns_ttl_seconds=5, clock=lambda: now[0], resolver=resolver)
    base = f"http://svc.example:{port}"
    guarded.set_upstreams({base: Upstream(service="svc", egress=EgressPolicy(allow_loopback=True))})
    first = await guarded.request("GET", base + "/x", timeout=5)
    assert first.body == f"svc.example:{port}".encode()  # sent to the checked address, named as the service
    answers[:] = [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("169.254.169.254")]
    assert (await guarded.request("GET", base + "/x", timeout=5)).status == 200  # the checked answer, still fresh
    now[0] = 6.0
    with pytest.raises(UpstreamError, match=r"svc.example \(169.254.169.254\) is a cloud metadata address") as caught:
        await guarded.request("GET", base + "/x", timeout=5)
    assert caught.value.kind == "refused"
