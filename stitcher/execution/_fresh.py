"""Which entity fetches bring only keys no other fetch of the plan brings to the same objects: their answers are
merged by a plain ``dict.update``, without checking each object for keys it has already (~half of merging's cost
per object)."""

from __future__ import annotations

from stitcher.planning import FetchNode, QueryPlan, Selection


def mark_fresh_fetches(plan: QueryPlan) -> None:
    """Set :attr:`FetchNode.fresh` on every entity fetch of ``plan`` whose selected keys no other fetch selects at
    the same position (the positions compared by response keys alone, every type condition's fields counted, so
    objects of any type there are covered). ``__typename`` is left out: every fetch that brings it brings the same
    non-null string, which a plain update and the deep merge both overwrite with."""
    nodes = _all_nodes(plan)
    for node in nodes:
        if node.kind != "entity":
            continue
        position = tuple(key for key, _types in node.path)
        if not position:
            continue  # the root object: introspection and root fetches merge there too
        own = _keys_at([target.selection for target in node.targets.values()], ())
        others: set[str] = set()
        for other in nodes:
            if other is node:
                continue
            at = tuple(key for key, _types in other.path)
            if position[: len(at)] != at:
                continue  # not above or at this position: it brings nothing to these objects
            selections = [other.selection] if other.kind == "root" else [t.selection for t in other.targets.values()]
            others |= _keys_at(selections, position[len(at) :])
        node.fresh = own.isdisjoint(others)


def _all_nodes(plan: QueryPlan) -> list[FetchNode]:
    found: dict[int, FetchNode] = {}
    pending = [node for stage in plan.stages for node in stage]
    pending += [node for level in plan.levels for batch in level for node in batch.nodes]
    while pending:
        node = pending.pop()
        if id(node) not in found:
            found[id(node)] = node
            pending.extend(node.children)
    return list(found.values())


def _keys_at(selections: list[Selection], rest: tuple[str, ...]) -> set[str]:
    """The response keys the selections select at ``rest`` below them (every type condition's fields)."""
    current = _with_fragments(selections)
    for key in rest:
        below: list[Selection] = []
        for selection in current:
            item = selection.fields.get(key)
            if item is not None and item.selection is not None:
                below.append(item.selection)
        current = _with_fragments(below)
    return {key for selection in current for key in selection.fields}


def _with_fragments(selections: list[Selection]) -> list[Selection]:
    out: list[Selection] = []
    pending = list(selections)
    while pending:
        selection = pending.pop()
        out.append(selection)
        pending.extend(selection.fragments.values())
    return out
