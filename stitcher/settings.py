"""The gateway's settings group, read from ``LOOM_GATEWAY_*`` (one definition for ``loom gateway`` and the portal)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from stitcher.options import GatewayOptions, Limits, Timeouts, UpstreamOptions
from stitcher.serving import ConnectionLimits
from stitcher.snapshot_source import MAX_WATCH_SECONDS

if TYPE_CHECKING:
    from stitcher.app import TransportFactory

__all__ = ["GatewaySettings"]

_DEFAULT = GatewayOptions()  # the one place the defaults are written; the env names below only map onto it


class GatewaySettings(BaseSettings):
    """``LOOM_GATEWAY_*``: the gateway's settings group. ``loom gateway`` reads it alone; the portal's one
    settings object embeds it as ``Settings.gateway`` (the stitcher never imports ``portal``). :meth:`options` builds
    the :class:`~stitcher.options.GatewayOptions` that the app and the executor take; the defaults are that
    object's."""

    model_config = SettingsConfigDict(env_prefix="LOOM_GATEWAY_", extra="ignore")

    token: str | None = None  # loom gateway --portal: the portal token (or --token)
    cluster: str | None = None  # serve this cluster's view (loom gateway --cluster; loom serve's embedded gateway)
    cache_dir: Path | None = None  # last good snapshot; default LOOM_DATA_DIR/gateway
    log_level: str = "INFO"
    shutdown_grace_seconds: int = 1
    upstream_client: str = "http11"
    # loom gateway only (--workers overrides it): processes serving one port; see stitcher/workers.py, docs/sizing.md
    workers: int = Field(default=1, ge=1)

    # --- GatewayOptions, flat as environment variables ---
    introspection: bool = _DEFAULT.introspection
    graphiql: bool = _DEFAULT.graphiql
    access_log: bool = _DEFAULT.access_log
    poll_interval_seconds: float = Field(default=_DEFAULT.timeouts.poll_interval_seconds, gt=0)
    watch_seconds: float = Field(default=_DEFAULT.timeouts.watch_seconds, ge=0, le=MAX_WATCH_SECONDS)
    upstream_timeout_seconds: float = Field(default=_DEFAULT.timeouts.upstream_seconds, gt=0)
    max_response_bytes: int = Field(default=_DEFAULT.limits.max_response_bytes, gt=0)
    max_depth: int = Field(default=_DEFAULT.limits.max_depth, ge=0)
    max_aliases: int = Field(default=_DEFAULT.limits.max_aliases, ge=0)
    max_cost: int = Field(default=_DEFAULT.limits.max_cost, ge=0)
    max_body_bytes: int = Field(default=_DEFAULT.limits.max_body_bytes, gt=0)
    dedupe_inflight: bool = _DEFAULT.upstream.dedupe_inflight
    # The namespace of the plan rate-limit counters in Redis (LOOM_REDIS_URL): every gateway of one installation,
    # and its portal (which reads them to show a subscription's use), must share it; two installations sharing one
    # Redis must not, or they count each other's consumers.
    rate_limit_key_prefix: str = _DEFAULT.rate_limit_key_prefix

    # --- connections (stitcher.serving; owned with the server construction in stitcher/cli.py) ---
    # keep_alive_seconds closes idle kept-alive connections; a request's headers must arrive within
    # header_timeout_seconds; at most max_connections are open at once (more are answered 503 and closed).
    keep_alive_seconds: int = 5
    header_timeout_seconds: float = Field(default=ConnectionLimits.header_timeout_seconds, gt=0)
    max_connections: int = Field(default=ConnectionLimits.max_connections, ge=1)

    @field_validator("rate_limit_key_prefix")
    @classmethod
    def _check_key_prefix(cls, value: str) -> str:
        if not value or any(c.isspace() or not c.isprintable() for c in value):
            raise ValueError(
                f"LOOM_GATEWAY_RATE_LIMIT_KEY_PREFIX={value!r} must be a non-empty name without spaces or control "
                "characters, such as 'loom-eu:ratelimit:' (one per installation sharing a Redis)"
            )
        return value

    def connection_limits(self) -> ConnectionLimits:
        return ConnectionLimits(
            header_timeout_seconds=self.header_timeout_seconds,
            keep_alive_seconds=self.keep_alive_seconds,
            max_connections=self.max_connections,
        )

    def options(self) -> GatewayOptions:
        return GatewayOptions(
            limits=Limits(
                max_body_bytes=self.max_body_bytes,
                max_depth=self.max_depth,
                max_aliases=self.max_aliases,
                max_cost=self.max_cost,
                max_response_bytes=self.max_response_bytes,
            ),
            timeouts=Timeouts(
                upstream_seconds=self.upstream_timeout_seconds,
                poll_interval_seconds=self.poll_interval_seconds,
                watch_seconds=self.watch_seconds,
            ),
            upstream=UpstreamOptions(dedupe_inflight=self.dedupe_inflight),
            introspection=self.introspection,
            graphiql=self.graphiql,
            access_log=self.access_log,
            rate_limit_key_prefix=self.rate_limit_key_prefix,
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
