"""Uvicorn's HTTP/1.1 protocols with a request-header deadline and a connection cap (see :mod:`stitcher.serving`).

Both of uvicorn's parsers are covered: httptools (what ``http="auto"`` picks when it is installed) and h11. With
httptools, a response whose body comes in one message also goes out in one write (see :class:`_OneWrite`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from stitcher.serving import ConnectionLimits

__all__ = ["hardened_protocol"]

_log = logging.getLogger("loom.serving")


def _plain(status: str, text: str, *headers: str) -> bytes:
    """A whole HTTP/1.1 answer that closes the connection (written before or instead of any request)."""
    body = text.encode()
    head = [f"HTTP/1.1 {status}", "content-type: text/plain; charset=utf-8", f"content-length: {len(body)}"]
    return "\r\n".join([*head, *headers, "connection: close", "", ""]).encode() + body


_TIMEOUT = _plain("408 Request Timeout", "the request headers did not arrive in time\n")
_FULL = _plain("503 Service Unavailable", "too many open connections: retry in a little while\n", "retry-after: 1")


class _Deadline:
    """The header deadline of one connection: armed when a request may start, disarmed when its headers are in."""

    def __init__(self, loop: asyncio.AbstractEventLoop, seconds: float) -> None:
        self.loop = loop
        self.seconds = seconds
        self.timer: asyncio.TimerHandle | None = None
        self.transport: asyncio.Transport | None = None

    def arm(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        if self.timer is None:
            self.timer = self.loop.call_later(self.seconds, self._expired)

    def disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _expired(self) -> None:
        self.timer = None
        transport = self.transport
        if transport is not None and not transport.is_closing():
            _log.info("closing a connection whose request headers took over %.1f s", self.seconds)
            transport.write(_TIMEOUT)
            transport.close()


# A larger body goes out after its headers, as uvicorn writes it. On loopback, joining saved ~1.5 µs of CPU per
# response up to 32 KiB and cost ~5 µs at 64 KiB (the copy, and a write past the socket's send size).
_JOIN_LIMIT = 32 * 1024


class _OneWrite:
    """The transport uvicorn's HTTP protocol and its response cycles write to on one connection: the first write of
    a response (its status line and headers) is held and joined to the next one (the body, or its first chunk), so
    that a response whose body comes in one message costs one ``write``, one syscall, instead of uvicorn's two.

    Nothing waits on it: what is held goes out at the end of the event loop's iteration (a streamed response whose
    first chunk is not ready yet, a ``100 Continue``), when the response completes (a HEAD, whose body writes
    nothing) or before the transport closes, whichever comes first. Everything else passes straight through."""

    __slots__ = ("armed", "flush_soon", "held", "loop", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self.loop = loop
        self.armed = True  # the next write starts a response: hold it
        self.held: bytes | None = None
        self.flush_soon = self.flush  # bound once: it is scheduled once per response

    def write(self, data: bytes) -> None:
        held = self.held
        if held is not None:
            self.held = None
            if len(data) <= _JOIN_LIMIT:
                self.transport.write(held + data)
                return
            self.transport.write(held)
        elif self.armed:
            self.armed = False
            self.held = data
            self.loop.call_soon(self.flush_soon)
            return
        self.transport.write(data)

    def flush(self) -> None:
        held = self.held
        if held is not None:
            self.held = None
            if not self.transport.is_closing():  # gone meanwhile (the peer left): nothing reads it
                self.transport.write(held)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def __getattr__(self, name: str) -> Any:  # anything else is the transport's own (get_extra_info...)
        return getattr(self.transport, name)


def _refuse(transport: asyncio.Transport, limits: ConnectionLimits) -> None:
    _log.warning("refusing a connection: %d are open (the configured maximum)", limits.max_connections)
    transport.write(_FULL)
    transport.close()


def hardened_protocol(
    limits: ConnectionLimits, parser: Literal["auto", "httptools", "h11"] = "auto"
) -> type[asyncio.Protocol]:
    """The HTTP protocol class uvicorn should use (``uvicorn.Config(http=...)``) to enforce ``limits``."""
    if parser == "auto":
        try:
            import httptools  # noqa: F401 - only whether it is there
        except ImportError:  # pragma: no cover - uvicorn[standard] installs it
            parser = "h11"
        else:
            parser = "httptools"
    return _h11_protocol(limits) if parser == "h11" else _httptools_protocol(limits)


def _httptools_protocol(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class HardenedHttpToolsProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.deadline = _Deadline(self.loop, limits.header_timeout_seconds)
            self.refused = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            if len(self.connections) >= limits.max_connections:
                self.refused = True
                _refuse(transport, limits)
                return
            super().connection_made(transport)
            self.deadline.arm(transport)
            # The cycles get it from here (the flow control keeps the real transport: it pauses and resumes reading).
            self.writer = _OneWrite(transport, self.loop)
            self.transport = self.writer  # type: ignore[assignment] # what uvicorn uses of a transport

        def connection_lost(self, exc: Exception | None) -> None:
            self.deadline.disarm()
            if not self.refused:
                super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if not self.refused:
                super().data_received(data)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self.deadline.arm(self.transport)  # the next request on a kept-alive connection has a deadline too

        def on_headers_complete(self) -> None:
            self.deadline.disarm()
            super().on_headers_complete()

        def on_response_complete(self) -> None:  # only ever on a connection that was not refused
            writer = self.writer
            if writer.held is not None:
                writer.flush()  # a HEAD's headers: its body wrote nothing
            writer.armed = True  # uvicorn starts the next cycle (a pipelined one) only once this one completes
            super().on_response_complete()

        def handle_websocket_upgrade(self) -> None:
            self.writer.flush()
            self.transport = self.writer.transport  # the WebSocket protocol gets the real one
            super().handle_websocket_upgrade()

    return HardenedHttpToolsProtocol


def _h11_protocol(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HardenedH11Protocol(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.deadline = _Deadline(self.loop, limits.header_timeout_seconds)
            self.refused = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            if len(self.connections) >= limits.max_connections:
                self.refused = True
                _refuse(transport, limits)
                return
            super().connection_made(transport)
            self.deadline.arm(transport)

        def connection_lost(self, exc: Exception | None) -> None:
            self.deadline.disarm()
            if not self.refused:
                super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self.refused:
                return
            super().data_received(data)
            # h11 leaves IDLE once a request's headers are parsed; until then the request is still arriving.
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.deadline.arm(self.transport)
            else:
                self.deadline.disarm()

    return HardenedH11Protocol
