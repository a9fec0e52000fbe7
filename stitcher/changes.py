"""Breaking changes between two versions of a product's API: what a consumer who worked before would see fail.

A product's API is its GraphQL API schema (what ``/graphql`` serves) and its REST surface (the configured ``rest:``
routes, and the operations of its OpenAPI sources that ``/rest/<service>/...`` passes through). A change is breaking
when a request that was valid before is refused or answered differently in shape after:

* GraphQL (graphql-core's comparison): a type removed or changed in kind, a field removed or its type changed
  incompatibly (an output that may now be null, an input that must now be given), an argument removed or changed, a
  required argument or input field added, an enum value removed, a union member or an implemented interface removed.
* REST: a configured route (method and path) removed or bound to another operation; a passed-through operation
  (service, method, path) removed.

Additions are never breaking. The portal refuses a breaking change to a published product unless it is forced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLSchema
from graphql.utilities import find_breaking_changes

from stitcher.ir import SourceKind, Supergraph

__all__ = ["BreakingChange", "ProductApi", "breaking_changes"]


@dataclass(frozen=True, slots=True)
class BreakingChange:
    """One breaking change: ``kind`` is stable (``field_removed``, ``route_removed``, ...), ``description`` says
    what changed in the product's own names."""

    kind: str
    description: str

    def __str__(self) -> str:
        return self.description


@dataclass(frozen=True, slots=True)
class ProductApi:
    """What consumers of one product version can call."""

    schema: GraphQLSchema
    routes: Mapping[tuple[str, str], str]  # (METHOD, path) -> the GraphQL operation it runs
    passthrough: frozenset[tuple[str, str, str]]  # (service, METHOD, path) of OpenAPI sources

    @classmethod
    def of(cls, supergraph: Supergraph, routes: Iterable[Mapping[str, Any]]) -> ProductApi:
        """From a composed product and its ``rest:`` routes (``{method, path, operation}`` each)."""
        configured = {
            (str(r.get("method", "GET")).upper(), str(r["path"])): " ".join(str(r["operation"]).split()) for r in routes
        }
        passed: set[tuple[str, str, str]] = set()
        for name, subgraph in supergraph.subgraphs.items():
            if subgraph.kind is SourceKind.OPENAPI and subgraph.rest is not None:
                passed.update((name, op.method.upper(), op.path) for op in subgraph.rest.operations.values())
        return cls(schema=supergraph.schema, routes=configured, passthrough=frozenset(passed))


def _kind(name: str) -> str:
    return name.lower()


def _normalized(operation: str) -> str:
    """An operation's text with insignificant whitespace folded (a reformatted query is the same query)."""
    return " ".join(operation.replace("{", " { ").replace("}", " } ").replace("(", " ( ").replace(")", " ) ").split())


def breaking_changes(before: ProductApi, after: ProductApi) -> list[BreakingChange]:
    """Every breaking change from ``before`` to ``after``, GraphQL first, each list in a stable order."""
    out = [
        BreakingChange(_kind(change.type.name), change.description.rstrip("."))
        for change in find_breaking_changes(before.schema, after.schema)
        # A built-in scalar no field uses any more leaves with its last use, which is reported on its own.
        if not change.description.startswith("Standard scalar ")
    ]
    out.sort(key=lambda c: c.description)
    out += _route_changes(before.routes, after.routes)
    out += _passthrough_changes(before.passthrough, after.passthrough)
    return out


def _route_changes(
    before: Mapping[tuple[str, str], str], after: Mapping[tuple[str, str], str]
) -> Sequence[BreakingChange]:
    out: list[BreakingChange] = []
    for (method, path), operation in sorted(before.items()):
        now = after.get((method, path))
        if now is None:
            out.append(BreakingChange("route_removed", f"REST route {method} {path} was removed"))
        elif _normalized(now) != _normalized(operation):
            out.append(BreakingChange("route_changed", f"REST route {method} {path} runs another operation"))
    return out


def _passthrough_changes(
    before: frozenset[tuple[str, str, str]], after: frozenset[tuple[str, str, str]]
) -> Sequence[BreakingChange]:
    return [
        BreakingChange("operation_removed", f"REST operation {method} /{service}{path} was removed")
        for service, method, path in sorted(before - after)
    ]
