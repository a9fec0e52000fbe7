"""``loom gateway``: serve one supergraph, or the portal's published products (wired in ``portal/cli.py``).

``loom gateway --supergraph FILE [--host H --port P]`` serves the Federation v2 supergraph at ``/graphql``.
``loom gateway --portal URL --token TOKEN`` polls ``URL/api/gateway/snapshot`` and serves its products; the last
good snapshot is kept in ``LOOM_GATEWAY_CACHE_DIR`` (default ``LOOM_DATA_DIR/gateway``) and served after a restart
while the portal is down. Rate limits are shared through Redis when ``LOOM_REDIS_URL`` is set. Upstreams are
called with Loom's own HTTP/1.1 client, or aiohttp or httpx when ``LOOM_GATEWAY_UPSTREAM_CLIENT`` says so (to
measure the choice again: see ``stitcher/transport/`` and ``bench/README.md``).

Uvicorn runs programmatically with a short keep-alive and a short graceful-shutdown timeout: on SIGTERM the gateway
stops accepting, closes idle keep-alive connections, lets in-flight requests finish for up to
``LOOM_GATEWAY_SHUTDOWN_GRACE_SECONDS`` and exits. Logs are JSON lines on stderr, each with the request id.
``--workers N`` (``LOOM_GATEWAY_WORKERS``) serves the port from N processes (:mod:`stitcher.workers`): one /metrics
view, and SIGTERM stops them all the same way. Connections are hardened (:mod:`stitcher.serving`): request headers
must arrive within ``LOOM_GATEWAY_HEADER_TIMEOUT_SECONDS``, idle kept-alive ones close after
``LOOM_GATEWAY_KEEP_ALIVE_SECONDS``, at most ``LOOM_GATEWAY_MAX_CONNECTIONS`` are open, and no ``X-Forwarded-*``
header is believed.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from stitcher.errors import StitcherError
from stitcher.serving import ConnectionLimits, uvicorn_config, uvicorn_server
from stitcher.settings import GatewaySettings
from stitcher.workers import parent_sentinel, run_workers

if TYPE_CHECKING:  # the app's modules load lazily: the --workers supervisor serves nothing and stays small
    from starlette.applications import Starlette

__all__ = ["JsonLogFormatter", "ListenError", "gateway_command", "listen", "serve"]

# Attributes every LogRecord has (and uvicorn's ANSI-coloured copy of the message); anything else was passed in
# ``extra`` and goes into the JSON line.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName", "color_message"}


def _no_request() -> str | None:
    return None


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request id (from ``request_id``, the app's
    :func:`stitcher.app.request_id`), and any ``extra`` fields."""

    def __init__(self, request_id: Callable[[], str | None] = _no_request) -> None:
        super().__init__()
        self._request_id = request_id

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = self._request_id()
        if rid is not None:
            line["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def _configure_logging(level: str, request_id: Callable[[], str | None] = _no_request) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter(request_id))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request at INFO: one line per upstream fetch with the httpx client (and per snapshot poll),
    # which the access log and /metrics already cover. They show when the gateway logs at DEBUG.
    logging.getLogger("httpx").setLevel(logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING)


class ListenError(StitcherError):
    """The server's port cannot be bound (busy, or not ours to bind)."""


def listen(host: str, port: int, *, reuse_port: bool = False, backlog: int | None = 2048) -> socket.socket:
    """The server's listening socket, bound before anything else happens: a busy port is one line and a non-zero
    exit, before anything is loaded or printed (uvicorn binds late and logs a trace). ``reuse_port``: several
    workers bind the port, each with its own accept queue (``SO_REUSEPORT``); ``backlog=None`` binds only (the
    supervisor holds the port that way and never accepts)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ListenError(f"cannot serve on {host}:{port} ({exc.strerror}): pass --port with a free port") from exc
    if backlog is not None:
        sock.listen(backlog)
    return sock


def serve(
    app: Starlette,
    host: str,
    port: int,
    *,
    grace_seconds: int = 1,
    limits: ConnectionLimits | None = None,
    sock: socket.socket | None = None,
    on_started: Callable[[], None] | None = None,
    parent_sentinel: int | None = None,
) -> int:
    """Run ``app`` until SIGINT/SIGTERM; 0 after a clean shutdown, 1 when it could not start."""
    sock = sock or listen(host, port)
    config = uvicorn_config(
        app,
        limits or ConnectionLimits(),
        host=host,
        port=port,
        lifespan="on",
        log_config=None,  # our JSON handler on the root logger formats uvicorn's records too
        access_log=False,  # the app writes its own access lines, with the request id
        server_header=False,
        timeout_graceful_shutdown=grace_seconds,
    )

    def started() -> None:
        settle_gc()
        if on_started is not None:
            on_started()

    server = uvicorn_server(config, on_started=started, stop_when_readable=parent_sentinel)
    # Uvicorn re-raises SIGTERM after its graceful shutdown, under the handler that was there before it ran. A
    # no-op handler there makes the clean shutdown exit 0 instead of dying by the signal (SIGINT stays as it is).
    previous = signal.signal(signal.SIGTERM, _ignore_signal)
    try:
        server.run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)
        sock.close()
    return 0 if server.started else 1


# The cyclic collector's young-generation threshold once serving (CPython's default is 700). It counts container
# objects allocated and not yet freed: a 275 KB answer holds tens of thousands of live dicts while it is merged, so
# at 700 the collector walked the growing result again and again (bench merge-500: 26-27 -> 19-23 ms of CPU per
# request at 50,000). Reference counting frees the rest, so memory does not grow with it.
GC_YOUNG_THRESHOLD = 50_000


def settle_gc() -> None:
    """Once serving: what start-up built (the supergraph, its schemas, cached plans) is frozen out of the collector's
    sight, and young collections run at :data:`GC_YOUNG_THRESHOLD`."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def _ignore_signal(signum: int, frame: FrameType | None) -> None:
    return None


def _build_app(args: argparse.Namespace, env: GatewaySettings) -> Starlette:
    """The gateway app that ``args`` (supergraph, portal, token, cluster) and the settings describe."""
    from stitcher.app import create_gateway_app
    from stitcher.snapshot_source import PortalSnapshotSource
    from stitcher.supergraph import load_supergraph

    options = env.options()
    transport_factory = env.transport_factory()
    redis_url = os.environ.get("LOOM_REDIS_URL") or None
    if args.supergraph:
        _check_usage(args, env)
        path = Path(args.supergraph)
        try:
            sdl = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read the supergraph file {path}: {exc.strerror}") from exc
        return create_gateway_app(
            supergraph=load_supergraph(sdl),
            transport_factory=transport_factory,
            redis_url=redis_url,
            options=options,
        )
    token = _check_usage(args, env)
    assert token is not None  # _check_usage refused portal mode without one
    cache_dir = env.cache_dir or Path(os.environ.get("LOOM_DATA_DIR") or ".loom") / "gateway"
    cluster = getattr(args, "cluster", None) or env.cluster
    if cluster:  # one cache per cluster: two gateways on one host must not serve each other's snapshot
        cache_dir = cache_dir / cluster
    source = PortalSnapshotSource(args.portal, token, cache_dir=cache_dir, cluster=cluster)
    return create_gateway_app(source=source, transport_factory=transport_factory, redis_url=redis_url, options=options)


def _check_usage(args: argparse.Namespace, env: GatewaySettings) -> str | None:
    """Usage errors as one line (before anything is started); the portal token in portal mode."""
    if args.supergraph:
        if getattr(args, "cluster", None):
            raise ValueError("--cluster needs --portal: a supergraph file knows no clusters")
        return None
    token: str | None = args.token or env.token
    if not token:
        raise ValueError("--portal needs --token (or LOOM_GATEWAY_TOKEN): the portal's gateway token")
    return token


def _settings() -> GatewaySettings:
    """``LOOM_GATEWAY_*``; a bad value is one line naming the variable (pydantic's first line names only the
    class)."""
    from pydantic import ValidationError

    try:
        return GatewaySettings()
    except ValidationError as exc:
        error = exc.errors()[0]
        name = "LOOM_GATEWAY_" + str(error["loc"][0]).upper() if error["loc"] else "LOOM_GATEWAY_*"
        raise ValueError(f"{name}={error.get('input')!r} is refused: {error['msg']}") from exc


def gateway_command(args: argparse.Namespace) -> int:
    """``loom gateway``: ``args`` has supergraph, portal, token, cluster, host, port and workers."""
    env = _settings()
    workers = getattr(args, "workers", None) or env.workers
    if getattr(args, "workers", None) is not None and args.workers < 1:
        raise ValueError(f"--workers must be at least 1 (got {args.workers})")
    if workers > 1:
        _check_usage(args, env)
        env.transport_factory()  # an unknown upstream client is one line here, not one per worker
        # The supervisor holds the port (bound, never accepting): a busy port is one line before any worker starts.
        holder = listen(args.host, args.port, reuse_port=True, backlog=None)
        args = argparse.Namespace(**{**vars(args), "port": holder.getsockname()[1]})  # --port 0: the one it got
        _configure_logging(env.log_level)
        try:
            return run_workers(workers, _serve_worker, (args,), grace_seconds=env.shutdown_grace_seconds)
        finally:
            holder.close()
    app = _build_app(args, env)
    # Arguments first (a usage error is one plain line), then the port (busy: one line, before any log output).
    sock = listen(args.host, args.port)
    _configure_logging(env.log_level, _app_request_id())
    return serve(
        app,
        args.host,
        args.port,
        grace_seconds=env.shutdown_grace_seconds,
        limits=env.connection_limits(),
        sock=sock,
    )


def _app_request_id() -> Callable[[], str | None]:
    from stitcher.app import request_id  # loaded by _build_app already

    return request_id


def _serve_worker(args: argparse.Namespace, supervisor: Connection) -> None:
    """One worker of ``loom gateway --workers N`` (in its own process): build the app, listen on the shared port,
    tell the supervisor it serves, serve until SIGTERM or until the supervisor is gone."""
    env = _settings()
    try:
        app = _build_app(args, env)
        # Bound only: the server listens once the app has started (asyncio's create_server calls listen()), so no
        # connection waits in the queue of a worker that is still loading (a restarted one, say).
        sock = listen(args.host, args.port, reuse_port=True, backlog=None)
    except Exception as exc:  # the supervisor reports it as the command's one-line error
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        supervisor.send(("error", message))
        sys.exit(1)
    _configure_logging(env.log_level, _app_request_id())
    code = serve(
        app,
        args.host,
        args.port,
        grace_seconds=env.shutdown_grace_seconds,
        limits=env.connection_limits(),
        sock=sock,
        on_started=lambda: supervisor.send("ready"),
        parent_sentinel=parent_sentinel(),
    )
    sys.exit(code)
