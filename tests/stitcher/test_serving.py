"""stitcher.serving: the header deadline, the connection cap and trusted proxies, and responses written in one piece,
on a real uvicorn server with raw sockets. Every wait is for the server to do something (answer, close); the
timeouts configured are small so that the server acts quickly, and the sockets' own timeouts are only a safety net
against a hung test."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from stitcher._connection import hardened_protocol
from stitcher.serving import ConnectionLimits, uvicorn_config

SAFETY = 30.0  # seconds a socket waits before the test fails as hung; never reached when the server behaves


async def _healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "client": request.client.host if request.client else None})


APP = Starlette(routes=[Route("/healthz", _healthz)])


@contextmanager
def server(limits: ConnectionLimits, app: Any = APP, http: Any = None, **config: Any) -> Iterator[tuple[str, int]]:
    """A real uvicorn server on a free loopback port, with ``limits`` (or the protocol class ``http``), in a thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    started = threading.Event()

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            started.set()

    if http is None:
        instance = Server(uvicorn_config(app, limits, log_level="warning", lifespan="off", **config))
    else:
        instance = Server(uvicorn.Config(app, http=http, log_level="warning", lifespan="off", **config))
    thread = threading.Thread(target=instance.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        assert started.wait(SAFETY), "the server did not start"
        yield sock.getsockname()
    finally:
        instance.should_exit = True
        thread.join(SAFETY)
        sock.close()


def connect(address: tuple[str, int]) -> socket.socket:
    conn = socket.create_connection(address, timeout=SAFETY)
    return conn


def request(path: str = "/healthz", **headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "host: test", *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(conn: socket.socket) -> bytes:
    """One whole response (the app's answers have a content-length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, f"the server closed the connection instead of answering: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


def read_until_closed(conn: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (fails on the safety timeout)."""
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    return data


PARSERS = pytest.mark.parametrize("parser", ["httptools", "h11"])


@PARSERS
def test_a_connection_that_sends_half_a_header_is_closed(parser: str) -> None:
    with server(ConnectionLimits(header_timeout_seconds=0.2, keep_alive_seconds=60), parser=parser) as address:
        slow = connect(address)
        slow.sendall(b"GET /healthz HTTP/1.1\r\nhost: test\r\nx-slow: 1")  # and never the rest
        silent = connect(address)  # connects and sends nothing at all
        answers = read_until_closed(slow), read_until_closed(silent)
        slow.close()
        silent.close()
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout"), answer
        assert answer.endswith(b"the request headers did not arrive in time\n")


@PARSERS
def test_the_next_request_on_a_kept_alive_connection_has_a_deadline_too(parser: str) -> None:
    """Slowloris after one good request: uvicorn's keep-alive timer stops at the first byte of the next request."""
    with server(ConnectionLimits(header_timeout_seconds=0.5, keep_alive_seconds=60), parser=parser) as address:
        conn = connect(address)
        conn.sendall(request())
        first = read_response(conn)
        conn.sendall(b"GET /healthz HTTP/1.1\r\nhost: te")
        rest = read_until_closed(conn)
        conn.close()
    assert first.startswith(b"HTTP/1.1 200"), first
    assert rest.startswith(b"HTTP/1.1 408"), rest


async def _slow(request: Request) -> JSONResponse:
    await asyncio.sleep(float(request.query_params["seconds"]))  # the server's own wait: the client waits for it
    return JSONResponse({"status": "ok"})


@PARSERS
def test_the_deadline_is_for_the_headers_only(parser: str) -> None:
    """A request whose headers are in is not timed out while the app works on it, nor is the request after it."""
    app = Starlette(routes=[Route("/healthz", _healthz), Route("/slow", _slow)])
    with server(ConnectionLimits(header_timeout_seconds=0.2, keep_alive_seconds=60), app=app, parser=parser) as address:
        conn = connect(address)
        conn.sendall(request("/slow?seconds=0.6"))
        slow = read_response(conn)
        conn.sendall(request("/slow?seconds=0.6"))  # over the header deadline since the connection opened, twice
        again = read_response(conn)
        conn.close()
    assert slow.startswith(b"HTTP/1.1 200"), slow
    assert again.startswith(b"HTTP/1.1 200"), again


@PARSERS
def test_connections_over_the_cap_are_refused_while_open_ones_are_served(parser: str) -> None:
    limits = ConnectionLimits(header_timeout_seconds=60, keep_alive_seconds=60, max_connections=2)
    with server(limits, parser=parser) as address:
        checker, other = connect(address), connect(address)
        for conn in (checker, other):  # both are open and counted once they have been answered
            conn.sendall(request())
            assert read_response(conn).startswith(b"HTTP/1.1 200")
        refused = [connect(address) for _ in range(3)]
        answers = [read_until_closed(conn) for conn in refused]
        checker.sendall(request())  # the health checker's kept-alive connection still answers
        health = read_response(checker)
        other.close()
        # Once a connection is gone its place is free again (wait for the server to notice the close).
        while True:
            late = connect(address)
            late.sendall(request())
            answer = late.recv(65536)  # the status line is in the first chunk
            late.close()
            if answer.startswith(b"HTTP/1.1 200"):
                break
            assert answer.startswith(b"HTTP/1.1 503"), answer
        checker.close()
        for conn in refused:
            conn.close()
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 503 Service Unavailable"), answer
        assert b"too many open connections" in answer
    assert health.startswith(b"HTTP/1.1 200"), health


@pytest.mark.parametrize(("trusted", "seen"), [((), "127.0.0.1"), (("127.0.0.1/32",), "203.0.113.9")])
def test_forwarded_headers_count_only_from_trusted_proxies(trusted: tuple[str, ...], seen: str) -> None:
    with server(ConnectionLimits(), trusted_proxies=trusted) as address:
        conn = connect(address)
        conn.sendall(request(x_forwarded_for="203.0.113.9"))
        answer = read_response(conn)
        conn.close()
    assert f'"client":"{seen}"'.encode() in answer, answer


def test_limits_must_make_sense() -> None:
    with pytest.raises(ValueError, match="positive"):
        ConnectionLimits(header_timeout_seconds=0)
    with pytest.raises(ValueError, match="at least 1"):
        ConnectionLimits(max_connections=0)


# Responses written in one piece (stitcher._connection._OneWrite): what a client receives must not change.


async def _stream() -> AsyncIterator[bytes]:
    for part in (b"one ", b"two ", b"three"):
        await asyncio.sleep(0)  # each chunk after a turn of the loop, as a real stream's would be
        yield part


async def _chunked(scope: Scope, receive: Receive, send: Send) -> None:
    """No content-length: uvicorn frames the one body message in chunked encoding."""
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"framed by uvicorn"})


async def _early(scope: Scope, receive: Receive, send: Send) -> None:
    """Starts the response before the request body is in, and echoes the body once it is."""
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    await send({"type": "http.response.body", "body": body})


async def _echo(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse((await Request(scope, receive).body()).decode())(scope, receive, send)


async def _broken(scope: Scope, receive: Receive, send: Send) -> None:
    """Starts a response and fails before its body: uvicorn closes the connection after the headers."""
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]})
    raise RuntimeError("the body never comes")


LARGE = b"x" * 100_000
RESPONSES: dict[str, Callable[[], Response]] = {
    "/small": lambda: PlainTextResponse("hello"),
    "/json": lambda: JSONResponse({"data": {"hello": "world"}}),
    "/empty": lambda: Response(status_code=204),
    "/not-modified": lambda: Response(status_code=304, headers={"etag": '"1"'}),
    "/close": lambda: PlainTextResponse("bye", headers={"connection": "close"}),
    "/large": lambda: Response(LARGE, media_type="application/octet-stream"),
    "/stream": lambda: StreamingResponse(_stream(), media_type="text/plain"),
}
RAW = {"/chunked": _chunked, "/early": _early, "/echo": _echo, "/broken": _broken}
# Requests whose response body comes in one message (POSTs send a body).
ONE_MESSAGE = [
    ("GET", "/small"),
    ("GET", "/json"),
    ("HEAD", "/small"),
    ("GET", "/empty"),
    ("GET", "/not-modified"),
    ("GET", "/chunked"),
    ("HEAD", "/chunked"),
    ("POST", "/echo"),
]


async def _echo_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("echo: " + await websocket.receive_text())
    await websocket.close()


async def one_write_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        await WebSocketRoute("/socket", _echo_socket)(scope, receive, send)
        return
    path = scope["path"]
    if path in RAW:
        await RAW[path](scope, receive, send)
    else:
        await RESPONSES[path]()(scope, receive, send)


@dataclass
class Answer:
    status: int
    headers: dict[bytes, bytes]
    body: bytes
    raw: bytes  # every byte of the response as it came


class Responses:
    """Reads the responses to the requests sent on one connection, one after the other (a pipeline's too)."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.buffer = b""
        self.taken = b""

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.conn.recv(65536)
            assert chunk, f"the server closed the connection mid-response: {self.taken + self.buffer!r}"
            self.buffer += chunk
        part, self.buffer = self.buffer[:size], self.buffer[size:]
        self.taken += part
        return part

    def _take_through(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            chunk = self.conn.recv(65536)
            assert chunk, f"the server closed the connection mid-response: {self.taken + self.buffer!r}"
            self.buffer += chunk
        return self._take(self.buffer.index(marker) + len(marker))

    def head(self) -> tuple[int, dict[bytes, bytes]]:
        self.taken = b""
        lines = self._take_through(b"\r\n\r\n").split(b"\r\n")[:-2]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            assert name.lower() not in headers, f"{name!r} twice in {lines!r}"
            headers[name.lower()] = value.strip()
        return int(lines[0].split(b" ")[1]), headers

    def read(self, method: str = "GET") -> Answer:
        status, headers = self.head()
        return self.rest(status, headers, method)

    def rest(self, status: int, headers: dict[bytes, bytes], method: str = "GET") -> Answer:
        body = b""
        if method == "HEAD" or status in (204, 304):
            pass
        elif b"content-length" in headers:
            body = self._take(int(headers[b"content-length"]))
        else:
            assert headers[b"transfer-encoding"] == b"chunked", headers
            while size := int(self._take_through(b"\r\n")[:-2], 16):
                body += self._take(size)
                assert self._take(2) == b"\r\n"
            assert self._take(2) == b"\r\n"  # no trailers
        return Answer(status, headers, body, self.taken)


def http(method: str, path: str, body: bytes = b"", **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "host: test", *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items())]
    if body:
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@PARSERS
def test_every_kind_of_response_arrives_whole_on_one_kept_alive_connection(parser: str) -> None:
    """Small, JSON, 204, 304, chunked by the server, large and streamed responses, and HEAD, one after the other."""
    limits = ConnectionLimits(header_timeout_seconds=60, keep_alive_seconds=60)
    with server(limits, app=one_write_app, parser=parser) as address, connect(address) as conn:
        responses = Responses(conn)
        answers = {}
        for method, path in [*ONE_MESSAGE, ("GET", "/large"), ("GET", "/stream"), ("GET", "/small")]:
            conn.sendall(http(method, path, b"posted" if method == "POST" else b""))
            answers[method, path] = responses.read(method)
        conn.sendall(http("GET", "/small"))  # still open
        assert responses.read().body == b"hello"
    small = answers["GET", "/small"]
    assert small.raw.startswith(b"HTTP/1.1 200 OK\r\n")
    assert (small.status, small.body, small.headers[b"content-length"]) == (200, b"hello", b"5")
    assert b"connection" not in small.headers
    assert answers["GET", "/json"].body == b'{"data":{"hello":"world"}}'
    head = answers["HEAD", "/small"]
    assert (head.status, head.body, head.headers[b"content-length"]) == (200, b"", b"5")
    assert head.raw.endswith(b"\r\n\r\n")
    assert (answers["GET", "/empty"].status, answers["GET", "/empty"].body) == (204, b"")
    assert b"transfer-encoding" not in answers["GET", "/empty"].headers
    not_modified = answers["GET", "/not-modified"]
    assert (not_modified.status, not_modified.headers[b"etag"], not_modified.body) == (304, b'"1"', b"")
    assert answers["GET", "/chunked"].body == b"framed by uvicorn"
    assert answers["GET", "/chunked"].raw.endswith(b"\r\n11\r\nframed by uvicorn\r\n0\r\n\r\n")
    assert answers["HEAD", "/chunked"].body == b""
    assert answers["POST", "/echo"].body == b"posted"
    assert answers["GET", "/large"].body == LARGE
    assert answers["GET", "/stream"].body == b"one two three"
    assert answers["GET", "/stream"].headers[b"transfer-encoding"] == b"chunked"


@PARSERS
def test_pipelined_requests_are_answered_in_order(parser: str) -> None:
    limits = ConnectionLimits(header_timeout_seconds=60, keep_alive_seconds=60)
    pipeline = [("GET", "/small"), ("HEAD", "/json"), ("GET", "/empty"), ("GET", "/stream"), ("GET", "/json")]
    with server(limits, app=one_write_app, parser=parser) as address, connect(address) as conn:
        conn.sendall(b"".join(http(method, path) for method, path in pipeline) + http("POST", "/echo", b"last"))
        responses = Responses(conn)
        answers = [responses.read(method) for method, _ in pipeline] + [responses.read()]
    assert [(a.status, a.body) for a in answers] == [
        (200, b"hello"),
        (200, b""),
        (204, b""),
        (200, b"one two three"),
        (200, b'{"data":{"hello":"world"}}'),
        (200, b"last"),
    ]


@PARSERS
def test_connection_close_and_http_1_0_close_after_the_whole_response(parser: str) -> None:
    limits = ConnectionLimits(header_timeout_seconds=60, keep_alive_seconds=60)
    with server(limits, app=one_write_app, parser=parser) as address:
        with connect(address) as conn:  # the app says so
            conn.sendall(http("GET", "/close"))
            by_app = read_until_closed(conn)
        with connect(address) as conn:  # the client says so, on a HEAD (whose body writes nothing)
            conn.sendall(http("HEAD", "/small", connection="close"))
            by_client = read_until_closed(conn)
        with connect(address) as conn:
            conn.sendall(b"GET /small HTTP/1.0\r\n\r\n")
            old = read_until_closed(conn)
    assert by_app.startswith(b"HTTP/1.1 200 OK\r\n") and by_app.endswith(b"\r\n\r\nbye"), by_app
    assert by_client.startswith(b"HTTP/1.1 200 OK\r\n") and by_client.lower().endswith(b"connection: close\r\n\r\n")
    assert old.startswith(b"HTTP/1.1 200 OK\r\n") and old.lower().endswith(b"connection: close\r\n\r\nhello"), old


@PARSERS
def test_a_malformed_request_after_a_good_one_gets_a_400_and_the_connection_closes(parser: str) -> None:
    limits = ConnectionLimits(header_timeout_seconds=60, keep_alive_seconds=60)
    with server(limits, app=one_write_app, parser=parser) as address, connect(address) as conn:
        conn.sendall(http("GET", "/small"))
        good = Responses(conn).read()
        conn.sendall(b"GET /small HTTP/1.1\r\nhost: test\r\nbad header\r\n\r\n")
        bad = read_until_closed(conn)
    assert good.body == b"hello"
    assert bad.startswith(b"HTTP/1.1 400 "), bad


@PARSERS
def test_headers_sent_before_the_body_is_ready_reach_the_client_without_it(parser: str) -> None:
    """The app starts its response, then waits for the rest of the request body, which this client sends only once
    it has the response's headers: headers held back for the body would deadlock (the socket's timeout fails it)."""
    limits = ConnectionLimits(header_timeout_seconds=60, keep_alive_seconds=60)
    with server(limits, app=one_write_app, parser=parser) as address, connect(address) as conn:
        conn.sendall(http("POST", "/early", b"half, then the rest")[: -len(b"then the rest")])
        responses = Responses(conn)
        status, headers = responses.head()
        conn.sendall(b"then the rest")
        answer = responses.rest(status, headers)
    assert (answer.status, answer.body) == (200, b"half, then the rest")


@PARSERS
def test_expect_100_continue_comes_before_the_response(parser: str) -> None:
    limits = ConnectionLimits(header_timeout_seconds=60, keep_alive_seconds=60)
    with server(limits, app=one_write_app, parser=parser) as address, connect(address) as conn:
        conn.sendall(http("POST", "/echo", expect="100-continue", content_length="4"))
        responses = Responses(conn)
        assert responses.head()[0] == 100
        conn.sendall(b"body")
        answer = responses.read()
    assert (answer.status, answer.body) == (200, b"body")


def test_a_kept_alive_connection_upgrades_to_a_websocket() -> None:
    """After a plain request, the same connection is handed to uvicorn's WebSocket protocol (httptools only: h11's
    protocol upgrades as before), which writes its handshake and frames itself."""
    limits = ConnectionLimits(header_timeout_seconds=60, keep_alive_seconds=60)
    with server(limits, app=one_write_app, parser="httptools") as address, connect(address) as conn:
        responses = Responses(conn)
        conn.sendall(http("GET", "/small"))
        assert responses.read().body == b"hello"
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        conn.sendall(
            http(
                "GET",
                "/socket",
                upgrade="websocket",
                connection="Upgrade",
                sec_websocket_key=key,
                sec_websocket_version="13",
            )
        )
        status, headers = responses.head()
        assert (status, headers[b"sec-websocket-accept"]) == (101, b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")  # RFC 6455's
        mask, text = b"\x01\x02\x03\x04", b"hi"
        conn.sendall(b"\x81" + bytes([0x80 | len(text)]) + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(text)))
        frame = responses._take(2)
        assert frame[0] == 0x81, frame  # a final text frame, unmasked from the server
        assert responses._take(frame[1]) == b"echo: hi"


@PARSERS
def test_an_app_that_fails_after_its_headers_sends_them_and_closes(parser: str) -> None:
    limits = ConnectionLimits(header_timeout_seconds=60, keep_alive_seconds=60)
    with server(limits, app=one_write_app, parser=parser) as address, connect(address) as conn:
        conn.sendall(http("GET", "/broken"))
        answer = read_until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"content-length: 10\r\n\r\n"), answer


class _Recorder:
    """The server's real transport, recording what the protocol writes to it: a write is a syscall (uvloop writes
    at once when nothing is queued). Only the recording is ours; every call reaches the real transport."""

    def __init__(self, transport: asyncio.Transport, writes: list[bytes]) -> None:
        self.transport = transport
        self.writes = writes

    def write(self, data: bytes) -> None:
        if data:  # an empty write sends nothing
            self.writes.append(bytes(data))
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


@contextmanager
def recorded_server() -> Iterator[tuple[tuple[str, int], list[bytes]]]:
    """A server with the hardened httptools protocol whose writes are recorded (all connections in one list)."""
    writes: list[bytes] = []
    hardened: Any = hardened_protocol(ConnectionLimits(header_timeout_seconds=60, keep_alive_seconds=60), "httptools")

    class Recorded(hardened):  # type: ignore[misc] # a class made at run time
        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(_Recorder(transport, writes))

    with server(ConnectionLimits(), app=one_write_app, http=Recorded) as address:
        yield address, writes


def test_a_response_whose_body_comes_in_one_message_is_one_write() -> None:
    with recorded_server() as (address, writes), connect(address) as conn:
        responses = Responses(conn)
        counts = {}
        for method, path in ONE_MESSAGE:
            before = len(writes)
            conn.sendall(http(method, path, b"posted" if method == "POST" else b""))
            answer = responses.read(method)
            counts[method, path] = len(writes) - before
            assert writes[before:] == [answer.raw]  # all of it, in that one write
        before = len(writes)
        conn.sendall(http("GET", "/small") + http("GET", "/json") + http("HEAD", "/json"))
        pipelined = [responses.read(), responses.read(), responses.read("HEAD")]
        assert writes[before:] == [answer.raw for answer in pipelined]
    assert set(counts.values()) == {1}, counts


def test_large_streamed_and_continued_responses_keep_their_writes() -> None:
    """Over 32 KiB the body is not copied to join its headers; a stream's later chunks, and a response after a
    ``100 Continue``, are written as uvicorn writes them."""
    with recorded_server() as (address, writes), connect(address) as conn:
        responses = Responses(conn)
        conn.sendall(http("GET", "/large"))
        large = responses.read()
        assert writes == [large.raw[: -len(LARGE)], LARGE]
        del writes[:]
        conn.sendall(http("GET", "/stream"))
        stream = responses.read()
        assert b"".join(writes) == stream.raw
        assert writes[-1] == b"0\r\n\r\n"  # the stream's end, on its own as uvicorn writes it
        del writes[:]
        conn.sendall(http("POST", "/echo", expect="100-continue", content_length="4"))
        assert responses.head()[0] == 100
        conn.sendall(b"body")
        continued = responses.read()
        assert writes == [b"HTTP/1.1 100 Continue\r\n\r\n", continued.raw[:-4], b"body"]
