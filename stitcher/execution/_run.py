"""Per-request state of one execution: the merged result tree, the errors and what shaping reached."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from stitcher.planning import (
    INTERNAL_PREFIX,
    KEY_VARIABLE,
    REPRESENTATIONS_VARIABLE,
)
from stitcher.transport import SAFE_RETRY

if TYPE_CHECKING:
    from stitcher.execution.executor import Executor


_JSON_HEADERS = {"content-type": "application/json", "accept": "application/graphql-response+json, application/json"}
# SAFE_RETRY marks a fetch as safe to repeat (the transport's one retry on a new connection, and the cluster's Envoy
# on the next priority after a 5xx or a timeout); a mutation is never marked. portal.sync.envoy matches it.
_QUERY_HEADERS = {**_JSON_HEADERS, SAFE_RETRY[0]: SAFE_RETRY[1]}


class _Run:
    """Per-request state: the merged result tree and the errors."""

    __slots__ = (
        "coerced",
        "data",
        "error_paths",
        "errors",
        "executor",
        "headers",
        "key_variable",
        "nulled",
        "prefix",
        "query_headers",
        "reps_variable",
        "track",
        "variable_values",
        "variables",
        "visited",
    )

    def __init__(self, executor: Executor, variables: Mapping[str, Any], coerced: Mapping[str, Any]) -> None:
        self.executor = executor
        self.variables = variables
        self.coerced = coerced
        self.data: dict[str, Any] = {}
        self.errors: list[dict[str, Any]] = []
        self.error_paths: set[tuple[Any, ...]] = set()
        # A mutation's upstream headers, and a query's (the same with SAFE_RETRY), built once for every fetch
        self.headers: dict[str, str] = _JSON_HEADERS
        self.query_headers: dict[str, str] = _QUERY_HEADERS
        self.variable_values: Any = None  # graphql-core's coercion result, for REST argument values
        # Shaping with errors: the positions a null propagated to, and the null positions shaping reached (so
        # errors in subtrees it never reached can be dropped, as graphql-core never reports them).
        self.nulled: list[Any] = []
        self.visited: set[tuple[Any, ...]] = set()
        self.track = False
        self.prefix = INTERNAL_PREFIX  # the plan's, for telling the gateway's own fields from the client's
        self.reps_variable = REPRESENTATIONS_VARIABLE
        self.key_variable = KEY_VARIABLE

    def add_error(self, error: dict[str, Any]) -> None:
        self.errors.append(error)
        path = error.get("path")
        if path:
            for end in range(1, len(path) + 1):
                self.error_paths.add(tuple(path[:end]))

    def null_error(self, link: Any) -> None:
        path = _unlink(link)
        self.visited.add(tuple(path))
        if tuple(path) in self.error_paths:
            return  # an upstream or fetch error already explains this null
        self.add_error(
            {
                "message": "Cannot return null for non-nullable field " + ".".join(str(p) for p in path),
                "path": path,
            }
        )


def _unlink(link: Any) -> list[Any]:
    out: list[Any] = []
    while link is not None:
        link, key = link
        out.append(key)
    out.reverse()
    return out
