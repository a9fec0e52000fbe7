"""Composition: sources -> subgraphs (with transforms) -> one :class:`Supergraph` (type merging, join info).

Rules, after Apollo Federation v2 where it has one:

* Object and interface types merge by name; entities carry their keys per subgraph.
* A field resolved by several Federation subgraphs must be ``@shareable`` in each (key fields are shareable);
  fields of plain GraphQL and OpenAPI sources count as shareable, except root fields, which no plain source
  shares. ``@external`` fields and fields moved away with ``@override`` do not count as resolving.
* Every field must be resolvable wherever its type is returned: by that subgraph, or after entity jumps through
  resolvable keys (``@key`` or merge configuration) that the subgraphs reached so far can provide.
* Output field types must match up to nullability (the merged field is nullable where any subgraph's is);
  argument and input field types too (the merged one is non-null where any subgraph's is).
* Arguments and input object fields: the intersection, and a required one missing anywhere is a conflict.
* Enums: the union of values when only used as output, the intersection when only used as input, else equal.
* ``@inaccessible`` elements stay in the join info and the supergraph but not in the API schema.
* Fields an ``@interfaceObject`` adds to interface I become fields of every implementation of I, resolved by the
  interface object's subgraph (``Supergraph.fields`` lists it although ``Supergraph.types`` of the implementation
  does not: the planner fetches them through I's key, with ``__typename: I``).

Subgraphs are in product names: transforms rename the schema, keys, field sets, resolvers and REST bindings, and
``Subgraph.renames`` maps product names back to the upstream's.

Every conflict is collected; :class:`CompositionError` lists them all, each naming both services.

Modules: ``subgraphs`` (sources -> subgraphs), ``transforms`` (prefix, renames, hide), ``assembly`` (subgraphs ->
supergraph), ``fields`` (object and interface types), ``values`` (unions, enums, inputs, scalars), ``directives``,
``checks`` (@inaccessible, reachability), ``links`` (a product's links, as one more subgraph each).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from stitcher.composition._gc import _without_gc_pauses
from stitcher.composition.assembly import compose_subgraphs, graph_enum_names
from stitcher.composition.links import link_subgraphs
from stitcher.composition.subgraphs import build_subgraph
from stitcher.composition.transforms import apply_transforms
from stitcher.errors import CompositionError
from stitcher.ir import Subgraph, Supergraph
from stitcher.sources import SourceSpec, Stitching

__all__ = ["apply_transforms", "build_subgraph", "compose", "compose_subgraphs", "graph_enum_names"]


def compose(
    specs: Sequence[SourceSpec],
    stitching: Stitching | None = None,
    *,
    translated: Mapping[str, Subgraph] | None = None,
) -> Supergraph:
    """Compose a product from its sources and what the product says of them as a whole (``stitching``: which
    service's definition of a shared type wins, links between services); raises SchemaError for a bad source,
    CompositionError for conflicts. ``translated``: service name -> its OpenAPI document as a check before the
    composition translated it (see :func:`build_subgraph`), so it is not translated twice."""
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CompositionError([f'service "{n}" is listed more than once' for n in duplicates])
    if not specs:
        raise CompositionError(["a product needs at least one source"])
    with _without_gc_pauses():
        stitching = stitching or Stitching()
        subgraphs = [build_subgraph(spec, (translated or {}).get(spec.name)) for spec in specs]
        linked, problems = link_subgraphs(subgraphs, stitching.links)
        if problems:
            raise CompositionError(problems)
        supergraph = compose_subgraphs([*subgraphs, *linked], prefer=stitching.prefer)
    supergraph.sources, supergraph.stitching = tuple(specs), stitching
    return supergraph
