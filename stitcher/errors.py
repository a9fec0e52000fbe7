"""The stitcher's error types: one tree, rooted at :class:`StitcherError`.

Every error the stitcher raises on purpose is a :class:`StitcherError`: it carries ``message`` (what is wrong and
where) and, where one exists, ``suggestion`` (what to do about it); ``str(exc)`` says both. Third-party errors
(graphql-core's, httpx's, aiohttp's, redis', PyYAML's, PyJWT's) are translated at the boundary into these, chained
``from exc``. Each error is defined in the module of its concept (as httpx keeps its tree in one module, this
docstring is the one map of ours); ``tests/stitcher/test_errors.py`` checks that every public exception class of
the stitcher is in the tree and on this map.

The tree::

    StitcherError
    ├── SchemaError                  a source's schema cannot be used (bad SDL, introspection, OpenAPI document,
    │                                merge configuration, transforms; a supergraph SDL that cannot be loaded)
    ├── CompositionError             sources cannot be composed; ``conflicts`` lists them all, each naming both
    │                                services
    ├── RefError                     stitcher._jsonref: a ``$ref`` that cannot be followed (translated into a
    │                                SchemaError or a warning by stitcher.openapi)
    ├── PlanningError                stitcher.planning: an operation cannot be planned over the supergraph
    ├── LimitExceeded                stitcher.limits: a request went past a configured maximum (``code``)
    ├── UpstreamError                stitcher.transport: an upstream not reached, too slow, not HTTP, too large,
    │                                or refused by the egress policy (``kind``, ``reason`` without the URL)
    ├── RestStatusError              stitcher.rest: a REST upstream answered a non-2xx status
    ├── RestResponseError            stitcher.rest: a REST upstream's 2xx body does not fit the operation
    ├── RestSurfaceError             stitcher.restsurface: the REST surface cannot be built for a product
    ├── RestInputError               stitcher.restsurface: a REST surface request's input is invalid (400)
    ├── UnsafePath                   stitcher.passthrough: a pass-through path that could leave the service (400)
    ├── EgressRefused                stitcher.egress: a target outside the cluster's egress policy
    ├── CredentialError              stitcher.credentials: a request's credential was refused (``status``, ``code``)
    │   ├── Unauthenticated          no usable credential (401)
    │   │   └── UnknownCredential    a well-formed key or client this snapshot does not hold
    │   └── NotSubscribed            a valid credential that may not call this product (403)
    ├── RateLimiterUnavailable       stitcher.ratelimit: the shared counter could not be reached
    ├── SnapshotError                stitcher.snapshot_source: the snapshot could not be fetched, read or stored
    ├── ListenError                  stitcher.cli: the server's port cannot be bound
    └── WorkerStartError             stitcher.workers: a worker failed before it served

Private exceptions used as control flow inside one module (``_Unanswered``, an UpstreamError that is retried;
``_NotHttp`` and ``stitcher.app``'s ``_HttpError``; ``stitcher._jsonref``'s ``_Unusual``, a YAML node left to
PyYAML's own constructor) never leave it.
"""

from __future__ import annotations

__all__ = ["CompositionError", "SchemaError", "StitcherError"]


class StitcherError(Exception):
    """Base of every error the stitcher raises on purpose. ``message`` says what went wrong and where;
    ``suggestion``, when there is one, what to do about it. ``str(exc)`` is the message, then the suggestion."""

    def __init__(self, message: str = "", *, suggestion: str | None = None) -> None:
        super().__init__(f"{message} ({suggestion})" if suggestion else message)
        self.message = message
        self.suggestion = suggestion


class SchemaError(StitcherError):
    """A source's schema cannot be used: bad SDL or introspection, or merge configuration that does not fit it."""

    def __init__(self, message: str, *, service: str | None = None, suggestion: str | None = None) -> None:
        super().__init__(f'service "{service}": {message}' if service else message, suggestion=suggestion)
        self.service = service


class CompositionError(StitcherError):
    """Sources cannot be composed; ``conflicts`` lists every conflict found, each naming both services."""

    def __init__(self, conflicts: list[str]) -> None:
        self.conflicts = list(conflicts)
        head = f"{len(self.conflicts)} composition conflict{'s' if len(self.conflicts) != 1 else ''}"
        super().__init__(head + ":\n" + "\n".join(f"- {c}" for c in self.conflicts))
