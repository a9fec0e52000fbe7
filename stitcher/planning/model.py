"""The plan's data model: fetch nodes, upstream selections, result shapes (built by the planner, replayed by
the executor)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from graphql import (
    FieldNode,
    OperationDefinitionNode,
)

from stitcher.errors import StitcherError
from stitcher.ir import EntityResolver

INTERNAL_PREFIX = "_L_"
REPRESENTATIONS_VARIABLE = "_loomReps"
KEY_VARIABLE = "_k"

# Result shape field kinds (ints compare fastest in the shaping loop).
K_TYPENAME = 0
K_LEAF = 1  # pass the value through; ``nonnull`` says whether null must propagate; ``arg``: shown enum values
K_COMPOSITE = 2  # object, abstract or list: ``arg`` is a TypeShape

# A field set as a tree of upstream field names (``{}`` for a leaf).
FieldTree = dict[str, Any]
# A nested key or @requires value as the representation sends it: field name -> (the keys it may be read from in
# the merged object, the tree below it or None for a leaf).
CutTree = dict[str, tuple[tuple[str, ...], Any]]

# TypeShape: ("o", nonnull, ObjectShape) | ("l", nonnull, TypeShape) | ("s", nonnull, shown enum values or None)
# for leaves inside lists
TypeShape = tuple[str, bool, Any]
# (response key, kind, nonnull, arg, read key): the read key is the key in the merged upstream tree, the response key
# itself unless the upstream selection had to alias the field (its type differs in that subgraph, see
# ``Planner.read_key``).
ShapeField = tuple[str, int, bool, Any, str]


class PlanningError(StitcherError):
    """The operation cannot be planned over this supergraph (a field no subgraph can reach, a missing key)."""


@dataclass(slots=True)
class ObjectShape:
    """How one object of the client's result is built. ``static`` is the product type name at a concrete position."""

    static: str | None
    fields: tuple[ShapeField, ...] = ()
    by_type: dict[str, tuple[ShapeField, ...]] = field(default_factory=dict)
    # The executor's shaping function for this shape, generated on its first use (``stitcher.execution``): the plan
    # is built once and replayed, so each object is shaped by straight-line code with no per-field dispatch.
    compiled: Any = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class SelectionField:
    alias: str
    name: str  # upstream field name
    arguments: str  # printed argument list including parentheses, or ""
    selection: Selection | None = None
    directives: str = ""  # the client's executable directives the subgraph defines, printed (" @name(...)")


@dataclass(slots=True)
class Selection:
    """An upstream selection set in upstream names; REST fetches project JSON through the same tree."""

    fields: dict[str, SelectionField] = field(default_factory=dict)
    fragments: dict[str, Selection] = field(default_factory=dict)  # upstream type name -> selection
    typename: bool = False

    def field(self, alias: str, name: str, arguments: str, composite: bool, directives: str = "") -> SelectionField:
        existing = self.fields.get(alias)
        if existing is None:
            existing = SelectionField(alias, name, arguments, Selection() if composite else None, directives)
            self.fields[alias] = existing
        return existing

    def fragment(self, type_name: str) -> Selection:
        existing = self.fragments.get(type_name)
        if existing is None:
            existing = self.fragments[type_name] = Selection()
        return existing

    def print(self) -> str:
        parts: list[str] = ["__typename"] if self.typename else []
        for item in self.fields.values():
            head = item.name if item.alias == item.name else f"{item.alias}: {item.name}"
            sub = item.selection.print() if item.selection is not None else ""
            parts.append(f"{head}{item.arguments}{item.directives}{sub}")
        for type_name, selection in self.fragments.items():
            if selection.fields or selection.fragments or selection.typename:
                parts.append(f"... on {type_name}{selection.print()}")
        if not parts:
            parts.append("__typename")
        return "{" + " ".join(parts) + "}"


@dataclass(slots=True)
class EntityTarget:
    """One entity type of an entity fetch: how to build its representation and what to select."""

    product_type: str
    upstream_type: str
    representation: tuple[tuple[str, str], ...]  # (representation field, key in the merged object)
    selection: Selection
    resolver: EntityResolver | None = None  # plain GraphQL / REST merge config; None for Federation
    resolver_argument_type: str = ""  # printed type of the resolver argument (one key, or the list when batched)
    # Compound keys passed as one argument per key field (plain GraphQL): each argument's printed type.
    resolver_key_types: tuple[str, ...] = ()
    # Nested @requires values are cut to the fields the requirement names (index in ``representation`` -> field
    # tree): the merged object also holds the gateway's own aliases (keys of entity hops), which must not leak.
    cuts: tuple[tuple[int, CutTree], ...] = ()
    # The executor's representation builder for this target at a concrete position, generated on first use
    # (``stitcher.execution``), like :attr:`ObjectShape.compiled`.
    compiled: Any = field(default=None, compare=False, repr=False)


@dataclass(eq=False, slots=True)
class FetchNode:
    subgraph: str
    kind: Literal["root", "entity"]
    operation: Literal["query", "mutation"]
    path: tuple[tuple[str, frozenset[str] | None], ...] = ()
    selection: Selection = field(default_factory=Selection)  # root fetches
    root_fields: list[tuple[str, str, FieldNode]] = field(default_factory=list)  # (response key, product field, ast)
    targets: dict[str, EntityTarget] = field(default_factory=dict)  # product type -> target (entity fetches)
    default_type: str | None = None  # product type at a concrete position (objects carry no __typename there)
    stage: int = 0
    children: list[FetchNode] = field(default_factory=list)
    variables: tuple[str, ...] = ()  # client variables the upstream document uses
    variable_definitions: str = ""  # printed, in upstream type names
    query: str = ""  # the upstream document (entity fetches with single-key resolvers build theirs per request)
    stages: tuple[tuple[FetchNode, ...], ...] = ()
    used_variables: set[str] = field(default_factory=set)
    parent: FetchNode | None = None
    entities_selection: str = ""  # Federation: the ``{... on T {...}}`` of ``_entities``, for batched requests
    # Sibling fetches whose results (and their own children's) this fetch's representations need: @requires.
    depends_on: list[FetchNode] = field(default_factory=list)
    # The operation's executable directives this subgraph defines, printed after the operation's variables.
    operation_directives: str = ""
    # No other fetch of the plan brings a key this one brings to its objects, so its answers are merged by a plain
    # dict update (set by ``stitcher.execution`` when the plan is built; False until then).
    fresh: bool = False


@dataclass(eq=False, slots=True)
class FetchBatch:
    """Federation entity fetches of one plan level to one subgraph, sent as ONE request: each node is an aliased
    ``_entities`` field (``_e<i>``) with its own representations variable (``_loomReps<i>``)."""

    subgraph: str
    nodes: tuple[FetchNode, ...]
    query: str = ""
    variables: tuple[str, ...] = ()


@dataclass(slots=True)
class QueryPlan:
    operation: Literal["query", "mutation", "subscription"]
    root: ObjectShape
    stages: tuple[tuple[FetchNode, ...], ...]
    introspection: OperationDefinitionNode | None = None  # root introspection fields, executed by graphql-core
    introspection_keys: tuple[str, ...] = ()
    fetch_count: int = 0
    # Queries: the fetches below the roots, level by level; a level's Federation fetches to one subgraph are one
    # batch (one request per subgraph per level, even across paths). Empty for mutations (they run as a tree).
    levels: tuple[tuple[FetchBatch, ...], ...] = ()
    internal_prefix: str = INTERNAL_PREFIX  # of the gateway's own aliases in this plan's upstream selections
    # The gateway's own upstream variables: representations (``<reps>``, ``<reps><i>``), merge-config keys
    # (``<keys><n>``); named apart from the client's variables, which are forwarded under their own names.
    reps_variable: str = REPRESENTATIONS_VARIABLE
    key_variable: str = KEY_VARIABLE
