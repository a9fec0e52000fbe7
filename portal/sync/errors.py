"""The sync worker's exception tree and the outcome of one cluster's pass.

Targets raise :class:`SyncError` subclasses (third-party errors are translated at the target's boundary, chained
with ``from exc``); the reconciler turns each into an explicit outcome: :class:`Temporary` (try again after a
delay, with backoff) or :class:`Permanent` (nothing changes until the desired state or the cluster does).

    SyncError
    ├── TemporaryError            the cluster may accept the same config later (retry with backoff)
    │   └── ClusterUnreachable    the API server / Envoy admin / directory could not be reached
    └── PermanentError            the same config will be refused again
        ├── InvalidDesiredState   the routing model has problems (nothing was sent)
        └── ConfigRejected        the cluster refused it (CRD schema, admission webhook, Envoy validation)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ClusterUnreachable",
    "ConfigRejected",
    "InvalidDesiredState",
    "Outcome",
    "Permanent",
    "PermanentError",
    "SyncError",
    "Synced",
    "Temporary",
    "TemporaryError",
]


class SyncError(Exception):
    """Base of every sync failure: ``message`` says what is wrong and, where it can, what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TemporaryError(SyncError):
    """Worth retrying as it is; ``delay`` is the least wait the target suggests (seconds)."""

    def __init__(self, message: str, *, delay: float = 1.0) -> None:
        super().__init__(message)
        self.delay = delay


class ClusterUnreachable(TemporaryError):
    pass


class PermanentError(SyncError):
    pass


class InvalidDesiredState(PermanentError):
    pass


class ConfigRejected(PermanentError):
    """The cluster refused an object; ``object`` names it (``Upstream/gloo-system/loom-svc-members``, a file)."""

    def __init__(self, message: str, *, object: str | None = None) -> None:
        super().__init__(message)
        self.object = object


@dataclass(frozen=True, slots=True)
class Synced:
    """The cluster holds the desired config of ``generation``; ``writes`` objects were written to get there."""

    generation: int
    writes: int


@dataclass(frozen=True, slots=True)
class Temporary:
    reason: str
    delay: float


@dataclass(frozen=True, slots=True)
class Permanent:
    reason: str


Outcome = Synced | Temporary | Permanent
