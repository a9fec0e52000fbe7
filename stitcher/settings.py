"""The gateway's settings group, read from ``LOOM_GATEWAY_*`` (one definition for ``loom gateway`` and the portal)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from stitcher.serving import ConnectionLimits

if TYPE_CHECKING:
    from stitcher.app import GatewayOptions, TransportFactory

__all__ = ["GatewaySettings"]


class GatewaySettings(BaseSettings):
    """``LOOM_GATEWAY_*``: the gateway's settings group. ``loom gateway`` reads it alone; the portal's one
    settings object embeds it as ``Settings.gateway`` (the stitcher never imports ``portal``)."""

    model_config = SettingsConfigDict(env_prefix="LOOM_GATEWAY_", extra="ignore")

    token: str | None = None  # loom gateway --portal: the portal token (or --token)
    cluster: str | None = None  # serve this cluster's view (loom gateway --cluster; loom serve's embedded gateway)
    introspection: bool = True
    graphiql: bool = True
    poll_interval_seconds: float = 2.0
    cache_dir: Path | None = None  # last good snapshot; default LOOM_DATA_DIR/gateway
    upstream_timeout_seconds: float = 10.0
    max_response_bytes: int = Field(default=10 * 1024 * 1024, gt=0)  # per upstream answer (a source may set its own)
    max_depth: int = 15
    max_aliases: int = 30
    max_cost: int = 5000
    max_body_bytes: int = 1024 * 1024
    dedupe_inflight: bool = False
    access_log: bool = True
    log_level: str = "INFO"
    shutdown_grace_seconds: int = 1
    keep_alive_seconds: int = 5
    upstream_client: str = "aiohttp"

    # --- connections (stitcher.serving; owned with the server construction in stitcher/cli.py) ---
    # keep_alive_seconds (above) closes idle kept-alive connections; a request's headers must arrive within
    # header_timeout_seconds; at most max_connections are open at once (more are answered 503 and closed).
    header_timeout_seconds: float = Field(default=ConnectionLimits.header_timeout_seconds, gt=0)
    max_connections: int = Field(default=ConnectionLimits.max_connections, ge=1)

    def connection_limits(self) -> ConnectionLimits:
        return ConnectionLimits(
            header_timeout_seconds=self.header_timeout_seconds,
            keep_alive_seconds=self.keep_alive_seconds,
            max_connections=self.max_connections,
        )

    def options(self) -> GatewayOptions:
        from stitcher.app import GatewayOptions  # lazily: the settings must stay cheap to import

        return GatewayOptions(
            introspection=self.introspection,
            graphiql=self.graphiql,
            max_body_bytes=self.max_body_bytes,
            upstream_timeout_seconds=self.upstream_timeout_seconds,
            max_response_bytes=self.max_response_bytes,
            max_depth=self.max_depth,
            max_aliases=self.max_aliases,
            max_cost=self.max_cost,
            dedupe_inflight=self.dedupe_inflight,
            poll_interval_seconds=self.poll_interval_seconds,
            access_log=self.access_log,
        )

    def transport_factory(self) -> TransportFactory:
        """The upstream client named by ``LOOM_GATEWAY_UPSTREAM_CLIENT``; ValueError (one line) for an unknown one."""
        from stitcher.transport import UPSTREAM_CLIENTS  # lazily: aiohttp is heavy

        factory = UPSTREAM_CLIENTS.get(self.upstream_client)
        if factory is None:
            known = " or ".join(UPSTREAM_CLIENTS)
            raise ValueError(
                f"LOOM_GATEWAY_UPSTREAM_CLIENT={self.upstream_client!r} is not an upstream client: use {known}"
            )
        return factory
