"""The gateway's tunables: ONE frozen object, defined here once with its defaults, passed from the app down.

Grouped like httpx's ``Limits``/``Timeout``: small frozen dataclasses, replaced whole (``dataclasses.replace``).
``GatewaySettings.options()`` (``LOOM_GATEWAY_*``) builds it for ``loom gateway`` and the portal's embedded gateway;
:class:`~stitcher.app.Gateway` and :class:`~stitcher.execution.Executor` take it as it is. Tests build it directly::

    GatewayOptions(limits=Limits(max_depth=8), timeouts=Timeouts(upstream_seconds=0.5))
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["GatewayOptions", "Limits", "Timeouts", "UpstreamOptions"]


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one request may ask of the gateway, and how much one upstream may answer."""

    max_body_bytes: int = 1024 * 1024  # a request body
    max_depth: int = 15  # of a GraphQL operation
    max_aliases: int = 30
    max_cost: int = 5000
    max_response_bytes: int = 10 * 1024 * 1024  # one upstream answer (a snapshot source may set its own)


@dataclass(frozen=True, slots=True)
class Timeouts:
    upstream_seconds: float = 10.0  # one upstream exchange, connect to last byte
    poll_interval_seconds: float = 2.0  # between snapshot polls when the source cannot watch, and after a failure
    # How long one snapshot request may wait at the portal for a change (a watch): a change, a revoked key above
    # all, reaches the gateway as it commits. At most the portal's 60 s; under its 15 s check-in refresh, so a quiet
    # gateway still shows as seen. 0: plain polling every poll_interval_seconds.
    watch_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class UpstreamOptions:
    """How the executor talks to upstreams."""

    dedupe_inflight: bool = False  # identical in-flight query fetches share one request
    # Queries: run the plan level by level, so the Federation entity fetches of one level to one subgraph share ONE
    # request even across paths (aliased ``_entities`` fields). False: each fetch starts as soon as its parent
    # returns (lower latency when one branch is much slower, more upstream requests).
    batch_levels: bool = True
    forward_headers: tuple[str, ...] = ("x-request-id",)  # client headers (lower case) passed on to every upstream


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    """Every tunable of one gateway. ``GatewayOptions()`` is the default gateway."""

    limits: Limits = field(default_factory=Limits)
    timeouts: Timeouts = field(default_factory=Timeouts)
    upstream: UpstreamOptions = field(default_factory=UpstreamOptions)
    introspection: bool = True
    graphiql: bool = True
    access_log: bool = True
    plan_cache_size: int = 1000  # compiled documents kept per product
    rate_limit_key_prefix: str = "loom:ratelimit:"  # Redis keys; replicas that share limits share the prefix
    rate_limit_fail_open: bool = True  # Redis down: serve (and count an error) rather than refuse everyone
    freeze_gc: bool = True  # gc.freeze() once the first products are compiled (the GC was ~13% of a profile)
