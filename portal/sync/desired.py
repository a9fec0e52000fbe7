"""The desired state the sync worker routes: clusters, services with their deployments, products with their routing.

These are plain frozen values, read once from the portal's database (:func:`portal.sync.reading.from_session`) or
from resource files (:func:`portal.sync.reading.from_documents`, what ``loom render`` uses with no server), so the
routing model (:mod:`portal.sync.model`) is a pure function of them and is tested on its own.

Durations are integer milliseconds. The traffic defaults are the settings measured to fail over without losing a
request on Envoy 1.40 (issue #7): outlier detection on the first 5xx or gateway failure, 250 ms active health
checks, retries to the next priority, a raised circuit-breaker retry budget, no update merge window. Every one is
overridable per service (``spec.traffic`` of a Service).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

__all__ = [
    "TRAFFIC_KEYS",
    "CircuitBreakers",
    "ClusterSpec",
    "DeploymentSpec",
    "DesiredState",
    "GatewayLocation",
    "HealthCheck",
    "HostPort",
    "OutlierDetection",
    "ProductSpec",
    "ProxySpec",
    "RetryPolicy",
    "ServiceSpec",
    "TargetKind",
    "TrafficPolicy",
    "duration_ms",
    "host_port",
    "traffic_policy",
]

TargetKind = Literal["local-envoy", "kubernetes", "gitops"]


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """Active HTTP health checks of every endpoint of an upstream."""

    path: str = "/healthz"
    interval_ms: int = 250
    timeout_ms: int = 250
    # Two misses, not one: a single health check slower than 250 ms (a busy host) marked a zone's only endpoint
    # unhealthy and its pinned product answered 503. A dead or failing endpoint is taken out faster anyway, by
    # outlier detection on the first failed request, which the retry then sends elsewhere.
    unhealthy_threshold: int = 2
    healthy_threshold: int = 1  # one good check brings it back: fail-back within a second


@dataclass(frozen=True, slots=True)
class OutlierDetection:
    """Passive health: eject an endpoint on its first 5xx or gateway failure (timeouts and resets count too)."""

    consecutive_5xx: int = 1
    consecutive_gateway_failure: int = 1
    enforcing_percent: int = 100
    interval_ms: int = 250
    base_ejection_ms: int = 500
    max_ejection_ms: int = 1000  # fail back within a second of recovering, however often it was ejected
    max_ejection_percent: int = 100


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries go to the next priority (never the endpoint that just failed). Only requests the gateway marks as
    safe to repeat (queries) retry on 5xx and timeouts; others retry only when nothing reached the upstream."""

    num_retries: int = 3
    # A hung endpoint costs each query at most this before it is retried elsewhere (and the endpoint is ejected):
    # 100 ms met the failover targets (bench/failover.py). A service whose queries may take longer must raise it
    # (spec.traffic.retries.perTryTimeout), or its slow queries are retried on every priority and fail.
    per_try_timeout_ms: int = 100
    retry_on: tuple[str, ...] = ("5xx", "reset", "connect-failure", "refused-stream")
    unsafe_retry_on: tuple[str, ...] = ("connect-failure", "refused-stream")
    # Envoy waits a random 0 .. (2^n - 1) x base before retry n. A retry goes to another priority's host, so there
    # is no overloaded host to back off from: the least Envoy allows (1 ms) keeps a failover within the per-try
    # timeout plus a few ms (the default 25 ms, or 5 ms, added up to that much to the transition's p99).
    base_interval_ms: int = 1
    max_interval_ms: int = 50


@dataclass(frozen=True, slots=True)
class CircuitBreakers:
    """Sized so that retries during a failover are not throttled (Envoy's default ``max_retries`` is 3)."""

    max_connections: int = 4096
    max_pending_requests: int = 4096
    max_requests: int = 4096
    max_retries: int = 1024


@dataclass(frozen=True, slots=True)
class TrafficPolicy:
    connect_timeout_ms: int = 250
    request_timeout_ms: int = 10_000
    health_check: HealthCheck = field(default_factory=HealthCheck)
    outlier_detection: OutlierDetection = field(default_factory=OutlierDetection)
    retries: RetryPolicy = field(default_factory=RetryPolicy)
    circuit_breakers: CircuitBreakers = field(default_factory=CircuitBreakers)


@dataclass(frozen=True, slots=True)
class ProxySpec:
    """Where a ``local-envoy`` cluster's Envoy listens: products (``listener``), the gateway's internal routes
    (``internal``) and its admin API. Kubernetes clusters use the Gloo gateway-proxy service instead."""

    listener: HostPort
    internal: HostPort
    admin: HostPort


@dataclass(frozen=True, slots=True)
class GatewayLocation:
    """Where a cluster's Loom gateway runs: a plain URL (``address``) or a Kubernetes service."""

    address: str | None = None
    kube_service: str = "loom-gateway"
    kube_namespace: str = "loom-system"
    kube_port: int = 4000

    @property
    def endpoint(self) -> tuple[HostPort, bool]:
        """The host and port the cluster's Envoy connects to, and whether it speaks TLS."""
        if self.address is not None:
            return _endpoint_of(self.address)
        return HostPort(f"{self.kube_service}.{self.kube_namespace}.svc.cluster.local", self.kube_port), False


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    name: str
    region: str
    zone: str
    residency: str
    target: TargetKind
    namespace: str = "gloo-system"
    kube_context: str | None = None
    failover_gateway: HostPort | None = None
    gateway: GatewayLocation = field(default_factory=GatewayLocation)
    proxy: ProxySpec | None = None  # local-envoy only

    @property
    def internal_url(self) -> str:
        """The base URL through which this cluster's gateway reaches services (Envoy's internal listener)."""
        if self.proxy is not None:
            return f"http://{self.proxy.internal}"
        return f"http://gateway-proxy-internal.{self.namespace}.svc.cluster.local:8090"


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    """One service in one cluster: a URL (``address``) or a Kubernetes service (``kube_*``)."""

    cluster: str
    address: str | None = None
    kube_service: str | None = None
    kube_namespace: str | None = None
    kube_port: int | None = None
    health_path: str | None = None

    @property
    def endpoint(self) -> tuple[HostPort, bool]:
        if self.address is not None:
            return _endpoint_of(self.address)
        namespace = self.kube_namespace or "default"
        return HostPort(f"{self.kube_service}.{namespace}.svc.cluster.local", self.kube_port or 80), False

    @property
    def base_path(self) -> str:
        """The path every request to this deployment starts with ("" for the root)."""
        if self.address is None:
            return ""
        return urlsplit(self.address).path.rstrip("/")


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    deployments: tuple[DeploymentSpec, ...]
    traffic: TrafficPolicy = field(default_factory=TrafficPolicy)


@dataclass(frozen=True, slots=True)
class ProductSpec:
    """A product that gateways serve (published or deprecated): where it is offered and where it may run."""

    name: str
    services: tuple[str, ...]
    clusters: tuple[str, ...]
    residency: str | None = None


@dataclass(frozen=True, slots=True)
class DesiredState:
    clusters: Mapping[str, ClusterSpec]
    services: Mapping[str, ServiceSpec]
    products: Mapping[str, ProductSpec]
    generation: int = 0


# --- reading the resources' own shapes (spec.traffic, "host:port", "250ms") -----------------------------------------

# spec.traffic's keys, each group mapped to (dataclass field, {resource key: field}); durations end in "Timeout",
# "Interval" or "Time" and are written like "250ms" or "1s".
TRAFFIC_KEYS: dict[str, tuple[str | None, dict[str, str]]] = {
    "": (None, {"connectTimeout": "connect_timeout_ms", "requestTimeout": "request_timeout_ms"}),
    "healthCheck": (
        "health_check",
        {
            "path": "path",
            "interval": "interval_ms",
            "timeout": "timeout_ms",
            "unhealthyThreshold": "unhealthy_threshold",
            "healthyThreshold": "healthy_threshold",
        },
    ),
    "outlierDetection": (
        "outlier_detection",
        {
            "consecutive5xx": "consecutive_5xx",
            "consecutiveGatewayFailure": "consecutive_gateway_failure",
            "enforcingPercent": "enforcing_percent",
            "interval": "interval_ms",
            "baseEjectionTime": "base_ejection_ms",
            "maxEjectionTime": "max_ejection_ms",
            "maxEjectionPercent": "max_ejection_percent",
        },
    ),
    "retries": ("retries", {"attempts": "num_retries", "perTryTimeout": "per_try_timeout_ms"}),
    "circuitBreakers": (
        "circuit_breakers",
        {
            "maxConnections": "max_connections",
            "maxPendingRequests": "max_pending_requests",
            "maxRequests": "max_requests",
            "maxRetries": "max_retries",
        },
    ),
}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)$")
_UNITS = {"ms": 1, "s": 1000, "m": 60_000}


def duration_ms(value: str | int | float) -> int:
    """``"250ms"``, ``"1.5s"``, ``"2m"`` (or a number of milliseconds) as integer milliseconds; ValueError else."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        return int(value)
    match = _DURATION.match(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a duration: write it like 250ms, 1s or 2m")
    return round(float(match.group(1)) * _UNITS[match.group(2)])


def traffic_policy(overrides: Mapping[str, Any] | None) -> TrafficPolicy:
    """The defaults with a Service's ``spec.traffic`` applied (already validated where it was applied)."""
    policy = TrafficPolicy()
    if not overrides:
        return policy
    changes: dict[str, Any] = {}
    for group, (attribute, keys) in TRAFFIC_KEYS.items():
        given = overrides if group == "" else overrides.get(group) or {}
        values = {
            field_name: (duration_ms(given[key]) if field_name.endswith("_ms") else given[key])
            for key, field_name in keys.items()
            if key in given
        }
        if not values:
            continue
        if attribute is None:
            changes.update(values)
        else:
            changes[attribute] = dataclasses.replace(getattr(policy, attribute), **values)
    return dataclasses.replace(policy, **changes)


def host_port(value: str) -> HostPort:
    """``"127.0.0.1:18000"`` or ``"[::1]:18000"`` as a HostPort; ValueError when it is neither."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"{value!r} is not host:port")
    return HostPort(host.strip("[]"), int(port))


def _endpoint_of(url: str) -> tuple[HostPort, bool]:
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    return HostPort(parts.hostname or "", parts.port or (443 if tls else 80)), tls
