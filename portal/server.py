"""``loom serve``: the portal and a gateway for its published products, in one uvicorn process.

An embedded SQLite database is migrated before the server starts; a PostgreSQL database must have been migrated
with ``loom migrate`` (the server says so and exits otherwise). The first start creates the bootstrap admin and,
unless ``LOOM_AUTH_SECRET_KEY`` is set, the installation's secret key (``LOOM_DATA_DIR/secret_key``).

Connections are hardened (:mod:`stitcher.serving`): request headers must arrive within
``LOOM_SERVER_HEADER_TIMEOUT_SECONDS`` (10), idle kept-alive connections close after
``LOOM_SERVER_KEEP_ALIVE_SECONDS`` (5), at most ``LOOM_SERVER_MAX_CONNECTIONS`` (1000) are open, and
``X-Forwarded-*`` headers count only from ``LOOM_SERVER_TRUSTED_PROXIES`` (none by default).
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any, TextIO

from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.routing import Route

from portal import oauth, web
from portal.accounts import ensure_bootstrap_admin
from portal.app import create_app
from portal.changes import ConfigChanges
from portal.db import create_engine_for, prepare_schema, redacted_url, session_scope
from portal.errors import Invalid
from portal.settings import Mode, Settings
from portal.snapshot import LocalSnapshotSource
from portal.sync import runner
from portal.sync.worker import TargetFactory
from stitcher.app import create_gateway_app
from stitcher.cli import listen
from stitcher.graphiql import ASSETS_PATH
from stitcher.serving import uvicorn_config, uvicorn_server

__all__ = ["build_app", "exposure_warning", "prepare", "serve_command", "server_config", "server_settings"]


def server_settings(args: argparse.Namespace, base: Settings | None = None, *, warn: TextIO | None = None) -> Settings:
    """Settings from the environment, with ``--host`` / ``--port`` taking precedence. A development portal about
    to listen beyond loopback is said so on ``warn`` (default stderr)."""
    settings = base or Settings()
    changes = {
        key: value for key, value in (("host", getattr(args, "host", None)), ("port", args.port)) if value is not None
    }
    if "port" in changes and not 0 <= int(changes["port"]) <= 65535:
        raise Invalid(f"--port {changes['port']} is not a TCP port (0-65535)")
    if changes:
        settings = settings.model_copy(update={"server": settings.server.model_copy(update=changes)})
    warning = exposure_warning(settings)
    if warning is not None:
        print(warning, file=warn or sys.stderr, flush=True)
    return settings


def exposure_warning(settings: Settings) -> str | None:
    """What to tell the operator when a development-mode portal listens on a non-loopback address, or None."""
    if settings.mode is not Mode.DEVELOPMENT:
        return None
    host = settings.server.host.strip("[]")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return (
        f"loom: warning: development mode on {settings.server.host}, which other machines may reach: GraphiQL is "
        "open, session cookies are not Secure and OIDC may use plain HTTP; set LOOM_MODE=production (behind TLS) "
        "or listen on 127.0.0.1"
    )


def prepare(settings: Settings, out: TextIO) -> None:
    """Read (or create) the installation's secret key, migrate an embedded SQLite database, check a server one,
    and create the bootstrap admin on first start."""
    settings.resolved_secret_key()  # a key file others may read: one line now, not a failed lifespan later
    if settings.auth.secret_key is None and settings.mode is Mode.PRODUCTION and settings.database.url:
        print(
            f"loom: the secret key is {settings.data_dir.resolve() / 'secret_key'}: every replica on this database "
            "must share that file, or set LOOM_AUTH_SECRET_KEY",
            file=out,
            flush=True,
        )
    engine = create_engine_for(settings)
    try:
        prepare_schema(engine)
        with session_scope(engine) as session:
            ensure_bootstrap_admin(session, settings, out)
    finally:
        engine.dispose()


_GATEWAY_PREFIXES = ("/products", ASSETS_PATH)  # what the embedded gateway serves beside the portal's routes
_GATEWAY_STARTING = "the embedded gateway has not loaded the published products yet"


def build_app(settings: Settings, engine: Engine, *, sync_targets: TargetFactory | None = None) -> Starlette:
    """The app ``loom serve`` runs: the portal, and behind its routes a gateway serving the published products
    (``/products/<name>/...``) from a snapshot read straight from ``engine``; with ``LOOM_SYNC_ENABLED`` (the
    default) the sync worker too, in the same event loop (``sync_targets``: how it reaches clusters; default
    :func:`portal.sync.runner.target_factory`)."""
    changes = ConfigChanges()  # the app starts it; the embedded gateway's source watches it
    source = LocalSnapshotSource(
        engine,
        oauth.issuer(settings),
        changes=changes,
        recheck=settings.gateway.poll_interval_seconds,
        cluster=settings.gateway.cluster,
    )
    gateway = create_gateway_app(
        source=source,
        redis_url=settings.redis.url,
        options=settings.gateway.options(),
        transport_factory=settings.gateway.transport_factory(),
    )
    return create_app(
        settings,
        engine=engine,
        extra_routes=[
            *web.routes(),  # the web UI at "/" and its own paths only (the gateway has no "/")
            # Only the gateway's own paths go to it (a catch-all Mount("") turned a portal path with the wrong
            # method, e.g. GET /logout, into the gateway's 404 instead of the portal's 405).
            *[
                Route(f"{prefix}/{{gateway_path:path}}", gateway, name=f"gateway{prefix}")
                for prefix in _GATEWAY_PREFIXES
            ],
        ],
        contexts=[
            lambda _app: gateway.router.lifespan_context(gateway),  # Starlette runs no mounted lifespan
            *([lambda _app: _sync_worker(settings, engine, changes, sync_targets)] if settings.sync.enabled else []),
        ],
        metrics_registries=[gateway.state.gateway.metrics.registry],
        changes=changes,
        own_header_prefixes=_GATEWAY_PREFIXES,  # the gateway's pages and pass-through follow their own rules
        # not ready until the gateway serves the published products: a load balancer would send them 404s
        readiness=[lambda: None if gateway.state.gateway.served is not None else _GATEWAY_STARTING],
    )


@contextlib.asynccontextmanager
async def _sync_worker(
    settings: Settings, engine: Engine, changes: ConfigChanges, targets: TargetFactory | None
) -> AsyncIterator[None]:
    """The in-process sync worker, woken by every configuration change (a publish reaches the clusters at once,
    not at the next pass)."""
    async with runner.in_process(settings, engine, targets=targets) as wake:
        changes.on_change(wake.set)
        yield


def end_watches(app: Starlette) -> Callable[[], None]:
    """What the server calls as its graceful shutdown begins: held snapshot watches answer now (else each would hold
    the shutdown for as long as its gateway asked to wait)."""
    changes: ConfigChanges = app.state.changes
    return changes.stop_waiting


def server_config(settings: Settings, app: Any, **config: Any) -> Any:
    """The ``uvicorn.Config`` the portal is served with (``loom serve``, ``loom up``): the connection limits and
    trusted proxies of ``LOOM_SERVER_*``; ``config`` adds or overrides uvicorn options (log settings...)."""
    options: dict[str, Any] = {
        "host": settings.server.host,
        "port": settings.server.port,
        "lifespan": "on",
        "server_header": False,
        **config,
    }
    return uvicorn_config(
        app, settings.server.connection_limits(), trusted_proxies=settings.server.trusted_proxies, **options
    )


def serve_command(args: argparse.Namespace) -> int:
    settings = server_settings(args)
    sock = listen(settings.server.host, settings.server.port)
    try:
        prepare(settings, sys.stdout)
        engine = create_engine_for(settings)
        try:
            app = build_app(settings, engine)
            print(f"loom: portal on {settings.public_url} (database {redacted_url(settings.database_url)})", flush=True)
            server = uvicorn_server(server_config(settings, app, log_level="info"), on_shutdown=end_watches(app))
            server.run(sockets=[sock])
        finally:
            engine.dispose()
    finally:
        sock.close()
    return 0
