"""Field sets and paths: copying key and @requires selections, cutting nested values, joining fetch paths."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)

from stitcher.ir import EntityResolver, Subgraph
from stitcher.planning.model import (
    K_COMPOSITE,
    K_TYPENAME,
    CutTree,
    FieldTree,
    PlanningError,
    Selection,
)
from stitcher.planning.operation import printed_arguments


def union_paths(
    first: tuple[tuple[str, frozenset[str] | None], ...], second: tuple[tuple[str, frozenset[str] | None], ...]
) -> tuple[tuple[str, frozenset[str] | None], ...]:
    """One path through the same response keys that reaches the objects of both: type filters are united."""
    if first == second:
        return first
    return tuple(
        (key, None if a is None or b is None else a | b) for (key, a), (_, b) in zip(first, second, strict=True)
    )


def copy_plain(
    selection_set: SelectionSetNode, into: Selection, used: set[str], rename: Callable[[str], str] = str
) -> None:
    """A key or requirement selection the source subgraph resolves itself, copied as it is written (type
    conditions renamed to the subgraph's names; ``__typename`` wherever a fragment needs the concrete type)."""
    for child in selection_set.selections:
        if isinstance(child, FieldNode):
            arguments = printed_arguments(child, used)
            if child.name.value == "__typename":
                into.typename = True
                continue
            item = into.field(child.name.value, child.name.value, arguments, child.selection_set is not None)
            if child.selection_set is not None and item.selection is not None:
                copy_plain(child.selection_set, item.selection, used, rename)
        elif isinstance(child, InlineFragmentNode):
            if child.type_condition is None:
                copy_plain(child.selection_set, into, used, rename)
            else:
                into.typename = True
                copy_plain(child.selection_set, into.fragment(rename(child.type_condition.name.value)), used, rename)


def only_on(
    selection_sets: list[SelectionSetNode], type_name: str, fragments: Mapping[str, FragmentDefinitionNode]
) -> bool:
    """Whether the selection sets use no ``__typename`` and no fragment on a type other than ``type_name`` at
    their top level (fragments on ``type_name`` itself are looked into)."""
    for selection_set in selection_sets:
        for child in selection_set.selections:
            if isinstance(child, FieldNode):
                if child.name.value == "__typename":
                    return False
                continue
            if isinstance(child, InlineFragmentNode):
                condition = child.type_condition.name.value if child.type_condition else type_name
                inner = child.selection_set
            else:
                assert isinstance(child, FragmentSpreadNode)
                fragment = fragments.get(child.name.value)
                if fragment is None:
                    return False
                condition, inner = fragment.type_condition.name.value, fragment.selection_set
            if condition != type_name or not only_on([inner], type_name, fragments):
                return False
    return True


def names_cut(tree: FieldTree) -> CutTree:
    """A field set's tree read by field names."""
    return {name: ((name,), names_cut(sub) if sub else None) for name, sub in tree.items()}


def shape_cut(type_shape: Any) -> CutTree | None:
    """Where a planned internal selection's values are: each field's read keys (aliases where its type differs in
    the subgraph that resolved it; one per concrete type at most), from the shapes the planner built for it."""
    kind, _nonnull, arg = type_shape
    while kind == "l":
        kind, _nonnull, arg = arg
    if kind != "o" or arg is None:
        return None
    tree: CutTree = {}
    for fields in (arg.fields, *arg.by_type.values()):
        for key, field_kind, _field_nonnull, sub, read in fields:
            if field_kind == K_TYPENAME:
                continue
            reads, subtree = tree.get(key, ((), None))
            if read not in reads:
                reads = (*reads, read)
            if field_kind == K_COMPOSITE:
                nested = shape_cut(sub)
                if nested is not None:
                    subtree = nested if subtree is None else {**subtree, **nested}
            tree[key] = (reads, subtree)
    return tree


def field_tree(selection_set: SelectionSetNode, tree: FieldTree | None = None) -> FieldTree:
    """Field names of a field set, with the fields of inline fragments merged in (values carry ``__typename``)."""
    tree = {} if tree is None else tree
    for child in selection_set.selections:
        if isinstance(child, FieldNode):
            sub = tree.setdefault(child.name.value, {})
            if child.selection_set is not None:
                field_tree(child.selection_set, sub)
        elif isinstance(child, InlineFragmentNode):
            field_tree(child.selection_set, tree)
    return tree


def resolver_argument_type(subgraph: Subgraph, resolver: EntityResolver, argument: str) -> str:
    assert subgraph.schema is not None
    query = subgraph.schema.query_type
    definition = query.fields.get(resolver.field) if query is not None else None
    if definition is None or argument not in definition.args:
        raise PlanningError(
            f"Subgraph {subgraph.name!r} resolves {resolver.type_name} with Query.{resolver.field}"
            f"({argument}:), which its schema does not have"
        )
    return str(definition.args[argument].type)
