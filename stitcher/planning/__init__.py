"""Query planning: one validated operation -> a tree of upstream fetches plus the shape of the client's result.

The planner runs once per distinct (document, operation name, @skip/@include variable values); the executor caches
the :class:`QueryPlan` and replays it with a tight loop, so no work here is on the per-request hot path.

Model:

* A :class:`FetchNode` is one upstream request: a root fetch (root fields of one subgraph), or an entity fetch
  (``_entities(representations:)`` for Federation, the merge-config resolver field for plain GraphQL, the entity
  operation for REST). Its ``children`` run after it, grouped by ``stage``: children of one stage run in parallel,
  stages in order (a child whose representation needs fields another child fetches waits for it: ``@requires`` and
  keys that the parent subgraph cannot give).
* Upstream selections use the client's response keys as aliases, so an upstream result merges straight into the
  result tree. Fields only the gateway needs (entity keys, ``@requires`` inputs) use internal aliases
  (``_L_<name>``; another prefix when the document itself uses ``_L_``, see :func:`internal_prefix`) and are
  dropped when the result is shaped.
* The :class:`ObjectShape` tree says how to build the client's result from the merged tree: response keys in order,
  nullability (for null propagation), ``__typename`` (product names), and per concrete type for abstract positions.
* Entity fetches at one position and subgraph are one node (never N+1); the executor removes duplicate
  representations. For queries, :attr:`QueryPlan.levels` also groups a level's Federation fetches by subgraph into
  one :class:`FetchBatch` (aliased ``_entities`` fields), so there is one request per subgraph per level even
  across paths.

``@interfaceObject``: a subgraph that defines interface ``I`` as an object type resolves the fields it adds for every
implementation of ``I``; the planner fetches them through ``I``'s key with ``__typename: "I"`` in the
representation (Apollo's semantics), and the results merge into the implementation's objects. A field of type ``I``
returned by the interface-object subgraph itself gives objects typed only ``I``: the planner adds an entity fetch to
a subgraph that defines the interface ``I`` (``_entities`` with ``... on I { __typename }``) to learn each object's
concrete type; every fetch that needs the type (type conditions, other subgraphs' fields) runs after it.

Not supported: subscriptions.
"""

from stitcher.planning.build import build_plan
from stitcher.planning.model import (
    INTERNAL_PREFIX,
    K_COMPOSITE,
    K_LEAF,
    K_TYPENAME,
    KEY_VARIABLE,
    REPRESENTATIONS_VARIABLE,
    EntityTarget,
    FetchBatch,
    FetchNode,
    ObjectShape,
    PlanningError,
    QueryPlan,
    Selection,
    SelectionField,
    ShapeField,
)
from stitcher.planning.operation import condition_variables, internal_prefix

__all__ = [
    "INTERNAL_PREFIX",
    "KEY_VARIABLE",
    "K_COMPOSITE",
    "K_LEAF",
    "K_TYPENAME",
    "REPRESENTATIONS_VARIABLE",
    "EntityTarget",
    "FetchBatch",
    "FetchNode",
    "ObjectShape",
    "PlanningError",
    "QueryPlan",
    "Selection",
    "SelectionField",
    "ShapeField",
    "build_plan",
    "condition_variables",
    "internal_prefix",
]
