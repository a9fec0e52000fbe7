"""The client's operation as the planner reads it: @skip/@include, arguments, internal name prefixes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from graphql import (
    BooleanValueNode,
    DirectiveNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    print_ast,
)
from graphql.language import Visitor, visit

from stitcher.planning.model import INTERNAL_PREFIX, KEY_VARIABLE, REPRESENTATIONS_VARIABLE

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


def condition_variables(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> tuple[str, ...]:
    """Variables used by ``@skip``/``@include`` anywhere in the operation: the plan is keyed by their values."""
    names: list[str] = []

    class _Collect(Visitor):
        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            if node.name.value in ("skip", "include"):
                for argument in node.arguments or ():
                    if isinstance(argument.value, VariableNode) and argument.value.name.value not in names:
                        names.append(argument.value.name.value)

    visit(operation, _Collect())
    for fragment in fragments.values():
        visit(fragment, _Collect())
    return tuple(names)


def included(node: FieldNode | InlineFragmentNode | FragmentSpreadNode, conditions: Mapping[str, bool]) -> bool:
    for directive in node.directives or ():
        name = directive.name.value
        if name not in ("skip", "include"):
            continue
        value: bool = False
        for argument in directive.arguments or ():
            if argument.name.value == "if":
                if isinstance(argument.value, BooleanValueNode):
                    value = argument.value.value
                elif isinstance(argument.value, VariableNode):
                    value = bool(conditions.get(argument.value.name.value, False))
        if (name == "skip") == value:
            return False
    return True


def printed_arguments(node: FieldNode, used: set[str]) -> str:
    if not node.arguments:
        return ""
    for argument in node.arguments:
        _collect_variables(argument.value, used)
    return "(" + ", ".join(f"{a.name.value}: {print_ast(a.value)}" for a in node.arguments) + ")"


def printed_directives(directives: Iterable[DirectiveNode], used: set[str], forwarded: Callable[[str], bool]) -> str:
    """The client's executable directives that ``forwarded`` accepts (those the subgraph defines), printed for the
    upstream document (``" @inContext(country: DE)"``); ``@skip``/``@include`` are the gateway's own (the plan
    is made for their values) and never forwarded."""
    out: list[str] = []
    for directive in directives:
        name = directive.name.value
        if name in ("skip", "include") or not forwarded(name):
            continue
        for argument in directive.arguments or ():
            _collect_variables(argument.value, used)
        out.append(" " + print_ast(directive))
    return "".join(out)


def _collect_variables(value: Any, used: set[str]) -> None:
    if isinstance(value, VariableNode):
        used.add(value.name.value)
        return
    for child in getattr(value, "values", None) or ():
        _collect_variables(child, used)
    for child in getattr(value, "fields", None) or ():
        _collect_variables(child.value, used)


def internal_prefix(document: str) -> str:
    """A prefix for the gateway's internal aliases and variables that no name in ``document`` starts with: a client
    alias such as ``_L_id`` would otherwise meet the internal ``_L_id`` in one upstream selection (two fields, one
    response key), and a client variable ``$_loomReps`` the representations variable."""
    if INTERNAL_PREFIX not in document and REPRESENTATIONS_VARIABLE not in document and not _KEY_USE.search(document):
        return INTERNAL_PREFIX
    n = 0
    while f"_L{n}_" in document:
        n += 1
    return f"_L{n}_"


_KEY_USE = re.compile(r"\$\s*" + KEY_VARIABLE)


def internal_variables(prefix: str) -> tuple[str, str]:
    if prefix == INTERNAL_PREFIX:
        return REPRESENTATIONS_VARIABLE, KEY_VARIABLE
    return prefix + "reps", prefix + "k"


def introspection_operation(operation: OperationDefinitionNode, nodes: list[FieldNode]) -> OperationDefinitionNode:
    """The operation with only its root introspection fields (graphql-core executes it against the API schema).
    ``nodes`` are the collected field nodes, so fields inside fragments on the root type are included."""
    selections = tuple(nodes)
    return OperationDefinitionNode(
        operation=operation.operation,
        name=operation.name,
        variable_definitions=operation.variable_definitions,
        directives=(),
        selection_set=SelectionSetNode(selections=selections),
    )
