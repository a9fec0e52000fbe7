"""Targets: where each cluster's configuration goes (``kubernetes``, ``gitops``, ``local-envoy``).

Every target implements :class:`Target`. Targets import only their own renderer (import-linter keeps it so).
"""

from portal.sync.targets._base import (
    ApplyReport,
    EndpointHealth,
    Observation,
    ProductVerdict,
    Target,
    UpstreamHealth,
    VerdictState,
)

__all__ = [
    "ApplyReport",
    "EndpointHealth",
    "Observation",
    "ProductVerdict",
    "Target",
    "UpstreamHealth",
    "VerdictState",
]
