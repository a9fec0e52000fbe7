"""The one small interface every target implements, and what a target reports back.

A target owns one cluster's configuration store: a Kubernetes API (Gloo objects), a directory (GitOps manifests)
or a local Envoy process. It renders the routing model with its own renderer, writes only what differs from what
is there (so a pass with nothing to do writes nothing), prunes only what it owns, and reads status back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from portal.sync.model import ClusterRouting

__all__ = [
    "ApplyReport",
    "EndpointHealth",
    "Observation",
    "ProductVerdict",
    "Target",
    "UpstreamHealth",
    "VerdictState",
]

VerdictState = Literal["Accepted", "Rejected", "Warning", "Pending"]


@dataclass(frozen=True, slots=True)
class ApplyReport:
    """What one apply wrote: objects (or files) created, updated and deleted; all zero for a no-op pass."""

    created: int = 0
    updated: int = 0
    deleted: int = 0

    @property
    def writes(self) -> int:
        return self.created + self.updated + self.deleted


@dataclass(frozen=True, slots=True)
class ProductVerdict:
    """How the cluster took a product's objects: Gloo's status (or Envoy's acceptance), with its reason."""

    product: str
    state: VerdictState
    reason: str = ""
    generation: int = 0  # the desired-state generation these objects were rendered from


@dataclass(frozen=True, slots=True)
class EndpointHealth:
    cluster: str  # the cluster the endpoint is in
    address: str
    priority: int
    healthy: bool
    ejected: bool = False  # outlier detection took it out


@dataclass(frozen=True, slots=True)
class UpstreamHealth:
    """One upstream's live health. ``serving`` is the cluster whose endpoints take traffic now (the first priority
    with a healthy endpoint); None when nothing is healthy."""

    upstream: str
    service: str | None
    endpoints: tuple[EndpointHealth, ...]

    @property
    def serving(self) -> str | None:
        for priority in sorted({e.priority for e in self.endpoints}):
            healthy = [e for e in self.endpoints if e.priority == priority and e.healthy and not e.ejected]
            if healthy:
                return healthy[0].cluster
        return None


@dataclass(frozen=True, slots=True)
class Observation:
    """What a target read back from its cluster."""

    reachable: bool
    versions: dict[str, str] = field(default_factory=dict)  # e.g. {"envoy": "1.40.0", "gloo": "1.19.0"}
    verdicts: tuple[ProductVerdict, ...] = ()
    upstreams: tuple[UpstreamHealth, ...] = ()
    error: str | None = None
    # What is wrong with the cluster's own set-up, which Loom does not own (e.g. a Gloo Gateway that serves Loom's
    # internal routes on the public listener): the cluster is degraded until its owner fixes it.
    warnings: tuple[str, ...] = ()


class Target(Protocol):
    """One cluster's configuration store. Implementations translate their own errors into
    :mod:`portal.sync.errors` (``ClusterUnreachable``, ``ConfigRejected``)."""

    kind: str

    async def apply(self, model: ClusterRouting) -> ApplyReport:
        """Make the cluster hold ``model`` (rendered with this target's renderer): write what differs, in
        dependency order, prune owned objects no longer desired. All or nothing: on an error the cluster keeps
        serving what it had."""
        ...

    async def observe(self, model: ClusterRouting | None) -> Observation:
        """Read the cluster's status back (verdicts for the objects of ``model``, upstream health)."""
        ...

    async def aclose(self) -> None: ...
