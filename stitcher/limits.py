"""Request limits: depth, aliases, estimated cost and body size. Each breach is a :class:`LimitExceeded` that says
which limit, the value found and the maximum, so a client knows what to change.

The document checks run once per distinct document (the executor caches their outcome with the plan), on the
parsed AST before validation, so an abusive document is refused before the expensive work. They follow fragment
spreads and are safe against fragment cycles (validation reports those).

Cost model: a leaf costs 0; a composite field costs 1 plus its children, times the list size for list fields. The
list size is the value of a ``first``/``last``/``limit``/``size``/``top`` integer literal argument when present,
else ``default_list_size`` (5: a realistic page, so a deep but ordinary query such as the usual gateway
benchmark query, about 1,900, passes the default maximum of 5,000). A size passed as a variable counts as the
request's value: :class:`CostEstimate` keeps the walk's outcome as terms of those variables, checked per request.
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

__all__ = [
    "CostEstimate",
    "DocumentLimits",
    "LimitExceeded",
    "check_body_size",
    "check_document",
]

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
) -> CostEstimate | None:
    """Check depth and aliases (pure AST) and estimated cost (AST + schema types) of ``operation``, a page size passed
    as a variable counting as its default value, else the default list size. Returns the cost estimate when the cost
    depends on each request's variables (to check it with them: a variable counts like the same literal)."""
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
    if not limits.max_cost:
        return None
    estimate = CostEstimate(operation, schema, fragments, limits.default_list_size)
    estimate.check(limits, None)
    return estimate if estimate.by_variables else None


class CostEstimate:
    """An operation's estimated cost as a function of its page-size variables. The document and the schema's types
    are walked once, into a constant plus one term per list field sized by a variable; a request then costs a few
    multiplications to check (the walk was ~3% of a small query's CPU when a page size is a variable)."""

    __slots__ = ("_default", "_operation", "_term")

    def __init__(
        self,
        operation: OperationDefinitionNode,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        default_list_size: int,
    ) -> None:
        self._operation = operation
        self._default = default_list_size
        root = schema.get_root_type(operation.operation)
        # No root type: validation reports it; nothing to count.
        self._term: _Term = (0, ()) if root is None else _term(operation.selection_set, root, schema, fragments,
                                                                 default_list_size, frozenset())  # fmt: skip

    @property
    def by_variables(self) -> bool:
        """Whether the cost depends on a request's variables (a list's page size passed as ``$n``)."""
        return bool(self._term[1])

    def cost(self, variables: Mapping[str, Any] | None) -> int:
        return _value(self._term, _variable_sizes(self._operation, variables), self._default)

    def check(self, limits: DocumentLimits, variables: Mapping[str, Any] | None) -> None:
        """Raise :class:`LimitExceeded` when the cost with these ``variables`` is over ``limits.max_cost``."""
        if not limits.max_cost:
            return
        cost = self.cost(variables)
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


def _list_size(node: FieldNode, default: int) -> int | str:
    """The page size of a list field: a literal's value, a variable's name (its value is the request's), or the
    default."""
    for argument in node.arguments or ():
        if argument.name.value not in _SIZE_ARGUMENTS:
            continue
        if isinstance(argument.value, IntValueNode):
            return max(int(argument.value.value), 0)
        if isinstance(argument.value, VariableNode):
            return argument.value.name.value
    return default


def _is_list(type_: GraphQLOutputType) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


# A cost: a constant plus, for each list field sized by a variable, factor x size(variable) x (1 + its children).
_Term = tuple[int, tuple[tuple[int, str, "_Term"], ...]]


def _term(
    selection_set: SelectionSetNode,
    parent: object,
    schema: GraphQLSchema,
    fragments: Mapping[str, FragmentDefinitionNode],
    default_list_size: int,
    seen: frozenset[str],
) -> _Term:
    """The cost of a selection set: a composite field costs 1 plus its children, times the list size for a list."""
    constant = 0
    parts: list[tuple[int, str, _Term]] = []
    fields = getattr(parent, "fields", None) or {}
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.selection_set is None:
                continue
            definition = fields.get(selection.name.value)
            if definition is None:
                # Unknown here (abstract parent or validation will refuse): count it as one composite field.
                constant += 1
                continue
            named = get_named_type(definition.type)
            if not is_composite_type(named):
                continue
            child = _term(selection.selection_set, named, schema, fragments, default_list_size, seen)
            size = _list_size(selection, default_list_size) if _is_list(definition.type) else 1
            if isinstance(size, str):
                parts.append((1, size, child))
            else:  # (1 + child) x size, with the child's variable terms scaled
                constant += size * (1 + child[0])
                parts += [(size * factor, name, sub) for factor, name, sub in child[1]]
            continue
        if isinstance(selection, InlineFragmentNode):
            target = schema.get_type(selection.type_condition.name.value) if selection.type_condition else parent
            inner = _term(selection.selection_set, target, schema, fragments, default_list_size, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in seen:
                continue
            target = schema.get_type(fragment.type_condition.name.value)
            inner = _term(fragment.selection_set, target, schema, fragments, default_list_size, seen | {name})
        else:
            continue
        constant += inner[0]
        parts += inner[1]
    return constant, tuple(parts)


def _value(term: _Term, sizes: Mapping[str, int], default: int) -> int:
    total, parts = term
    for factor, name, sub in parts:
        total += factor * sizes.get(name, default) * (1 + _value(sub, sizes, default))
    return total
