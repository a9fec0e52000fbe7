"""Connection hardening shared by the portal's and the gateway's uvicorn servers.

Uvicorn closes an idle keep-alive connection after ``timeout_keep_alive``, but nothing closes a connection that
never finishes its request headers (slowloris), or one that connects and sends nothing; and its
``limit_concurrency`` answers 503 to *every* new request once the cap is reached, the already connected health
checker included. :func:`uvicorn_config` gives a config whose HTTP protocol:

* closes a connection whose request headers are not complete ``header_timeout_seconds`` after it opened, or after
  the first byte of a following request on a kept-alive connection (with a ``408`` when it can still be told);
* refuses a connection beyond ``max_connections`` open ones (``503``, then closed) before reading anything from
  it, so the connections already open keep being served;
* closes an idle kept-alive connection after ``keep_alive_seconds`` (uvicorn's own timer).

Forwarded headers (``X-Forwarded-For``/``-Proto``) are trusted only from ``trusted_proxies`` (addresses or CIDRs;
none by default): uvicorn's default trusts any loopback peer, so a local process could pick the client address
the portal's login lockout counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["ConnectionLimits", "uvicorn_config", "uvicorn_server"]


@dataclass(frozen=True)
class ConnectionLimits:
    """How long a connection may take and how many may be open (``LOOM_SERVER_*`` / ``LOOM_GATEWAY_*``)."""

    header_timeout_seconds: float = 10.0
    keep_alive_seconds: float = 5.0
    max_connections: int = 1000

    def __post_init__(self) -> None:
        if not self.header_timeout_seconds > 0 or not self.keep_alive_seconds > 0:
            raise ValueError(
                "connection timeouts must be positive seconds: check the *_HEADER_TIMEOUT_SECONDS and "
                "*_KEEP_ALIVE_SECONDS settings"
            )
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1: check the *_MAX_CONNECTIONS setting")


def uvicorn_config(
    app: Any,
    limits: ConnectionLimits,
    *,
    trusted_proxies: Sequence[str] = (),
    parser: Literal["auto", "httptools", "h11"] = "auto",
    **config: Any,
) -> Any:
    """A ``uvicorn.Config`` for ``app`` with ``limits`` enforced and forwarded headers trusted only from
    ``trusted_proxies``; ``config`` passes anything else (host, port, log settings, lifespan...) through.
    ``parser`` picks uvicorn's HTTP parser as its ``http`` option does (``auto``: httptools when installed)."""
    import uvicorn  # lazily: the settings import this module for its defaults and must stay cheap

    from stitcher._connection import hardened_protocol

    return uvicorn.Config(
        app,
        http=hardened_protocol(limits, parser),
        timeout_keep_alive=limits.keep_alive_seconds,  # type: ignore[arg-type] # a float works: it feeds call_later
        limit_concurrency=None,  # the protocol caps connections itself, without refusing the open ones' requests
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=list(trusted_proxies) if trusted_proxies else None,
        **config,
    )


def uvicorn_server(
    config: Any,
    *,
    on_started: Callable[[], None] | None = None,
    on_shutdown: Callable[[], None] | None = None,
    stop_when_readable: int | None = None,
    handle_signals: bool = True,
) -> Any:
    """A ``uvicorn.Server`` for ``config`` that calls ``on_started`` once it serves, ``on_shutdown`` as its graceful
    shutdown begins (before it waits for open requests: e.g. to end held watches), and shuts down gracefully (as on
    SIGTERM) when the file descriptor ``stop_when_readable`` becomes readable: a ``--workers`` worker passes its
    supervisor's process sentinel, so it does not outlive a supervisor that was killed. ``handle_signals=False``
    leaves SIGINT and SIGTERM to the caller (``loom up`` handles them once for everything it runs)."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if handle_signals:
                with super().capture_signals():
                    yield
            else:
                yield

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if not self.started:
                return
            if stop_when_readable is not None:
                asyncio.get_running_loop().add_reader(stop_when_readable, self._stop)
            if on_started is not None:
                on_started()

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            if on_shutdown is not None:
                on_shutdown()
            await super().shutdown(sockets)

        def _stop(self) -> None:
            assert stop_when_readable is not None
            asyncio.get_running_loop().remove_reader(stop_when_readable)
            self.should_exit = True

    return Server(config)
