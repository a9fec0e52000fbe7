"""Definitions and state shared by the steps of one composition."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import (
    GraphQLNamedType,
    is_introspection_type,
    is_specified_scalar_type,
)

from stitcher.ir import (
    FieldJoin,
    Subgraph,
    TypeJoin,
)


@dataclass
class _Def:
    """One subgraph's definition of a type."""

    sub: Subgraph
    type: GraphQLNamedType


@dataclass
class _Composer:
    subgraphs: list[Subgraph]
    conflicts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sdl: dict[str, str] = field(default_factory=dict)  # type name -> merged definition
    types: dict[str, tuple[TypeJoin, ...]] = field(default_factory=dict)
    fields: dict[tuple[str, str], tuple[FieldJoin, ...]] = field(default_factory=dict)
    inaccessible: set[str] = field(default_factory=set)
    # (subgraph, type, field) triples that are part of a key in that subgraph: shareable by definition.
    key_fields: set[tuple[str, str, str]] = field(default_factory=set)
    input_types: set[str] = field(default_factory=set)
    output_types: set[str] = field(default_factory=set)
    implements: dict[str, list[str]] = field(default_factory=dict)  # object type -> its merged interfaces
    # Extra fields (name -> SDL line) that interface objects add to implementing object types.
    added_fields: dict[str, dict[str, str]] = field(default_factory=dict)
    directives: dict[str, str] = field(default_factory=dict)  # "@name" -> merged executable directive definition


def _is_builtin(named: GraphQLNamedType) -> bool:
    return is_introspection_type(named) or is_specified_scalar_type(named)
