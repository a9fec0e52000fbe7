"""``loom serve``: the portal (and the gateway for its published products) under uvicorn.

An embedded SQLite database is migrated before the server starts; a PostgreSQL database must have been migrated
with ``loom migrate`` (the server says so and exits otherwise). The first start creates the bootstrap admin.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

import uvicorn
from starlette.applications import Starlette

from portal.accounts import ensure_bootstrap_admin
from portal.app import create_app
from portal.db import create_engine_for, current_revision, head_revision, migrate, redacted_url, session_scope
from portal.errors import Invalid
from portal.settings import Settings

__all__ = ["prepare", "serve_command", "server_settings"]


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
        if engine.dialect.name == "sqlite":
            migrate(engine)
        elif (current := current_revision(engine)) != head_revision():
            raise Invalid(
                f"database {redacted_url(engine.url)} is at revision {current or 'empty'}, not {head_revision()}: "
                "run `loom migrate` first"
            )
        with session_scope(engine) as session:
            ensure_bootstrap_admin(session, settings, out)
    finally:
        engine.dispose()


def build_app(settings: Settings) -> Starlette:
    """The app ``loom serve`` runs."""
    return create_app(settings)


def serve_command(args: argparse.Namespace) -> int:
    settings = server_settings(args)
    prepare(settings, sys.stdout)
    app = build_app(settings)
    print(f"loom: portal on {settings.public_url} (database {redacted_url(settings.database_url)})", flush=True)
    uvicorn.run(
        app,
        host=settings.server.host,
        port=settings.server.port,
        log_level="info",
        lifespan="on",
        proxy_headers=True,
        server_header=False,
    )
    return 0
