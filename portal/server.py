"""``loom serve``: the portal and a gateway for its published products, in one uvicorn process.

An embedded SQLite database is migrated before the server starts; a PostgreSQL database must have been migrated
with ``loom migrate`` (the server says so and exits otherwise). The first start creates the bootstrap admin.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

import uvicorn
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.routing import Route

from portal import login, oauth
from portal.accounts import ensure_bootstrap_admin
from portal.app import create_app
from portal.db import create_engine_for, prepare_schema, redacted_url, session_scope
from portal.errors import Invalid
from portal.settings import Settings
from portal.snapshot import LocalSnapshotSource
from stitcher.app import create_gateway_app
from stitcher.cli import listen
from stitcher.graphiql import ASSETS_PATH

__all__ = ["build_app", "prepare", "serve_command", "server_settings"]


def server_settings(args: argparse.Namespace, base: Settings | None = None) -> Settings:
    """Settings from the environment, with ``--host`` / ``--port`` taking precedence."""
    settings = base or Settings()
    changes = {
        key: value for key, value in (("host", getattr(args, "host", None)), ("port", args.port)) if value is not None
    }
    if not changes:
        return settings
    if "port" in changes and not 0 <= int(changes["port"]) <= 65535:
        raise Invalid(f"--port {changes['port']} is not a TCP port (0-65535)")
    return settings.model_copy(update={"server": settings.server.model_copy(update=changes)})


def prepare(settings: Settings, out: TextIO) -> None:
    """Migrate an embedded SQLite database, check a server one, and create the bootstrap admin on first start."""
    engine = create_engine_for(settings)
    try:
        prepare_schema(engine)
        with session_scope(engine) as session:
            ensure_bootstrap_admin(session, settings, out)
    finally:
        engine.dispose()


_GATEWAY_PREFIXES = ("/products", ASSETS_PATH)  # what the embedded gateway serves beside the portal's routes
_GATEWAY_STARTING = "the embedded gateway has not loaded the published products yet"


def build_app(settings: Settings, engine: Engine) -> Starlette:
    """The app ``loom serve`` runs: the portal, and behind its routes a gateway serving the published products
    (``/products/<name>/...``) from a snapshot read straight from ``engine``."""
    source = LocalSnapshotSource(engine, oauth.issuer(settings))
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
            Route("/", login.home, methods=["GET"], name="home"),  # where a login lands; the gateway has no "/"
            # Only the gateway's own paths go to it (a catch-all Mount("") turned a portal path with the wrong
            # method, e.g. GET /logout, into the gateway's 404 instead of the portal's 405).
            *[
                Route(f"{prefix}/{{gateway_path:path}}", gateway, name=f"gateway{prefix}")
                for prefix in _GATEWAY_PREFIXES
            ],
        ],
        contexts=[lambda _app: gateway.router.lifespan_context(gateway)],  # Starlette runs no mounted lifespan
        metrics_registries=[gateway.state.gateway.metrics.registry],
        # not ready until the gateway serves the published products: a load balancer would send them 404s
        readiness=[lambda: None if gateway.state.gateway.served is not None else _GATEWAY_STARTING],
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
            config = uvicorn.Config(
                app,
                host=settings.server.host,
                port=settings.server.port,
                log_level="info",
                lifespan="on",
                proxy_headers=True,
                server_header=False,
            )
            uvicorn.Server(config).run(sockets=[sock])
        finally:
            engine.dispose()
    finally:
        sock.close()
    return 0
