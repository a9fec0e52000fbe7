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
from stitcher.supergraph.sdl import ROOT_TYPE_NAMES


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
    # (types some subgraph takes as input, types some subgraph returns), once an enum's merge needs them.
    usage: tuple[set[str], set[str]] | None = None
    implements: dict[str, list[str]] = field(default_factory=dict)  # object type -> its merged interfaces
    # Extra fields (name -> SDL line) that interface objects add to implementing object types.
    added_fields: dict[str, dict[str, str]] = field(default_factory=dict)
    directives: dict[str, str] = field(default_factory=dict)  # "@name" -> merged executable directive definition
    # ``@composeDirective``: name -> the URL of the spec it comes from (:attr:`stitcher.ir.Supergraph`).
    composed_directives: dict[str, str] = field(default_factory=dict)
    directive_usages: dict[str, tuple[str, ...]] = field(default_factory=dict)  # their applications, by coordinate
    # Type -> the service whose definition wins (the product's ``prefer``).
    prefer: dict[str, str] = field(default_factory=dict)

    def prefer_hint(self, type_name: str, service: str) -> str:
        """What a conflict over the definitions of a shared type may add: the product can let one of them win."""
        if type_name.startswith("@") or type_name in ROOT_TYPE_NAMES or type_name in self.prefer:
            return ""
        return f" (or let one service's definition win: prefer: {{{type_name}: {service}}} in the Product)"


def _own_node(defs: list[_Def]) -> bool:
    """Whether the composed document takes the type's own AST node (assembly's ``_composed_document``): one service
    alone defines it, in one definition, and not as a link's copy. Its merge then makes no SDL lines, which would
    never be read, unless the merge itself may change what is printed (a conflict, a warning, a left-out value)."""
    return len(defs) == 1 and defs[0].sub.link_of is None and not defs[0].type.extension_ast_nodes


def _is_builtin(named: GraphQLNamedType) -> bool:
    return is_introspection_type(named) or is_specified_scalar_type(named)
