"""stitcher.serving: the header deadline, the connection cap and trusted proxies, on a real uvicorn server with raw
sockets. Every wait is for the server to do something (answer, close); the timeouts configured are small so that
the server acts quickly, and the sockets' own timeouts are only a safety net against a hung test."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from stitcher.serving import ConnectionLimits, uvicorn_config

SAFETY = 30.0  # seconds a socket waits before the test fails as hung; never reached when the server behaves


async def _healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "client": request.client.host if request.client else None})


APP = Starlette(routes=[Route("/healthz", _healthz)])


@contextmanager
def server(limits: ConnectionLimits, **config: Any) -> Iterator[tuple[str, int]]:
    """A real uvicorn server on a free loopback port, with ``limits``, in a thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    started = threading.Event()

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            started.set()

    instance = Server(uvicorn_config(APP, limits, log_level="warning", lifespan="off", **config))
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
