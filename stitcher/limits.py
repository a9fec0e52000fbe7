"""Request limits: depth, aliases, estimated cost and body size. Each breach is a :class:`LimitExceeded` that says
which limit, the value found and the maximum, so a client knows what to change.

The document checks run once per distinct document (the executor caches their outcome with the plan), on the
parsed AST before validation, so an abusive document is refused before the expensive work. They follow fragment
spreads and are safe against fragment cycles (validation reports those).

Cost model: a leaf costs 0; a composite field costs 1 plus its children, times the list size for list fields. The
list size is the value of a ``first``/``last``/``limit``/``size``/``top`` integer literal argument when present,
else ``default_list_size`` (5: a realistic page, so a deep but ordinary query such as the usual gateway
benchmark query, about 1,900, passes the default maximum of 5,000).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_composite_type,
)
from graphql.type.definition import GraphQLOutputType

from stitcher.errors import StitcherError

__all__ = ["DocumentLimits", "LimitExceeded", "check_body_size", "check_cost", "check_document", "sized_by_variables"]

_SIZE_ARGUMENTS = frozenset({"first", "last", "limit", "size", "top"})


class LimitExceeded(StitcherError):
    """A request went past a configured maximum. ``code`` is the GraphQL error code the HTTP layer reports."""

    def __init__(self, message: str, *, code: str, value: int, maximum: int) -> None:
        super().__init__(message)
        self.code = code
        self.value = value
        self.maximum = maximum


class DocumentLimits:
    """Maximums for one document; 0 disables a check."""

    __slots__ = ("default_list_size", "max_aliases", "max_cost", "max_depth")

    def __init__(self, *, max_depth: int = 15, max_aliases: int = 30, max_cost: int = 5000, default_list_size: int = 5):
        self.max_depth = max_depth
        self.max_aliases = max_aliases
        self.max_cost = max_cost
        self.default_list_size = default_list_size


def check_body_size(size: int, maximum: int) -> None:
    """Refuse a request body of ``size`` bytes over ``maximum`` (the HTTP layer answers 413)."""
    if maximum and size > maximum:
        raise LimitExceeded(
            f"The request body is {size} bytes; the maximum is {maximum} bytes. Send a smaller document or variables.",
            code="BODY_TOO_LARGE",
            value=size,
            maximum=maximum,
        )


def check_document(
    document: DocumentNode, operation: OperationDefinitionNode, schema: GraphQLSchema, limits: DocumentLimits
) -> None:
    """Check depth and aliases (pure AST) and estimated cost (AST + schema types) of ``operation``."""
    fragments: Mapping[str, FragmentDefinitionNode] = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    depth, aliases = _depth_and_aliases(operation.selection_set, fragments, 1, frozenset())
    if limits.max_depth and depth > limits.max_depth:
        raise LimitExceeded(
            f"The query is {depth} levels deep; the maximum is {limits.max_depth}. Ask for less nested data.",
            code="MAX_DEPTH_EXCEEDED",
            value=depth,
            maximum=limits.max_depth,
        )
    if limits.max_aliases and aliases > limits.max_aliases:
        raise LimitExceeded(
            f"The query uses {aliases} aliases; the maximum is {limits.max_aliases}. Split it into several requests.",
            code="MAX_ALIASES_EXCEEDED",
            value=aliases,
            maximum=limits.max_aliases,
        )
    check_cost(operation, schema, limits, fragments, None)


def check_cost(
    operation: OperationDefinitionNode,
    schema: GraphQLSchema,
    limits: DocumentLimits,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any] | None,
) -> None:
    """The estimated cost of ``operation``: a page size passed as a variable counts like the same literal (with
    ``variables`` None, at parse time, a variable counts as its default value, else the default list size)."""
    if limits.max_cost:
        root = schema.get_root_type(operation.operation)
        if root is None:
            return  # validation reports the missing root type
        sizes = _variable_sizes(operation, variables)
        cost = _cost(operation.selection_set, root, schema, fragments, limits.default_list_size, frozenset(), sizes)
        if cost > limits.max_cost:
            raise LimitExceeded(
                f"The query's estimated cost is {cost}; the maximum is {limits.max_cost}. "
                "Ask for fewer nested lists or pass smaller page sizes (first/limit).",
                code="MAX_COST_EXCEEDED",
                value=cost,
                maximum=limits.max_cost,
            )


def _depth_and_aliases(
    selection_set: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    level: int,
    seen: frozenset[str],
) -> tuple[int, int]:
    depth = 0
    aliases = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.alias is not None:
                aliases += 1
            if selection.selection_set is not None:
                sub_depth, sub_aliases = _depth_and_aliases(selection.selection_set, fragments, level + 1, seen)
                depth = max(depth, sub_depth)
                aliases += sub_aliases
            else:
                depth = max(depth, level)
        elif isinstance(selection, InlineFragmentNode):
            sub_depth, sub_aliases = _depth_and_aliases(selection.selection_set, fragments, level, seen)
            depth = max(depth, sub_depth)
            aliases += sub_aliases
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in seen:
                continue
            sub_depth, sub_aliases = _depth_and_aliases(fragment.selection_set, fragments, level, seen | {name})
            depth = max(depth, sub_depth)
            aliases += sub_aliases
    return depth, aliases


def sized_by_variables(operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]) -> bool:
    """Whether a page-size argument anywhere in the operation is a variable (its cost depends on each request)."""

    def walk(selection_set: SelectionSetNode, seen: frozenset[str]) -> bool:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if any(
                    a.name.value in _SIZE_ARGUMENTS and isinstance(a.value, VariableNode)
                    for a in selection.arguments or ()
                ):
                    return True
                if selection.selection_set is not None and walk(selection.selection_set, seen):
                    return True
            elif isinstance(selection, InlineFragmentNode):
                if walk(selection.selection_set, seen):
                    return True
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in seen and walk(fragment.selection_set, seen | {name}):
                    return True
        return False

    return walk(operation.selection_set, frozenset())


def _variable_sizes(operation: OperationDefinitionNode, variables: Mapping[str, Any] | None) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        value = variables.get(name) if variables is not None else None
        if value is None and isinstance(definition.default_value, IntValueNode):
            value = int(definition.default_value.value)
        if isinstance(value, int) and not isinstance(value, bool):
            sizes[name] = max(value, 0)
    return sizes


def _list_size(node: FieldNode, default: int, sizes: Mapping[str, int]) -> int:
    for argument in node.arguments or ():
        if argument.name.value not in _SIZE_ARGUMENTS:
            continue
        if isinstance(argument.value, IntValueNode):
            return max(int(argument.value.value), 0)
        if isinstance(argument.value, VariableNode):
            return sizes.get(argument.value.name.value, default)
    return default


def _is_list(type_: GraphQLOutputType) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


def _cost(
    selection_set: SelectionSetNode,
    parent: object,
    schema: GraphQLSchema,
    fragments: Mapping[str, FragmentDefinitionNode],
    default_list_size: int,
    seen: frozenset[str],
    sizes: Mapping[str, int],
) -> int:
    total = 0
    fields = getattr(parent, "fields", None) or {}
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.selection_set is None:
                continue
            definition = fields.get(selection.name.value)
            if definition is None:
                # Unknown here (abstract parent or validation will refuse): count it as one composite field.
                total += 1
                continue
            named = get_named_type(definition.type)
            child = _cost(selection.selection_set, named, schema, fragments, default_list_size, seen, sizes)
            multiplier = _list_size(selection, default_list_size, sizes) if _is_list(definition.type) else 1
            total += (1 + child) * multiplier if is_composite_type(named) else 0
        elif isinstance(selection, InlineFragmentNode):
            target = schema.get_type(selection.type_condition.name.value) if selection.type_condition else parent
            total += _cost(selection.selection_set, target, schema, fragments, default_list_size, seen, sizes)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in seen:
                continue
            target = schema.get_type(fragment.type_condition.name.value)
            total += _cost(fragment.selection_set, target, schema, fragments, default_list_size, seen | {name}, sizes)
    return total
