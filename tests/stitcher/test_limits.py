"""stitcher.limits: depth, aliases, estimated cost and body size, each with a clear error."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLList,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    build_schema,
    get_named_type,
    parse,
)

from stitcher.limits import CostEstimate, DocumentLimits, LimitExceeded, check_body_size, check_document

SCHEMA = build_schema(
    """
    type Query { users(first: Int): [User!]! me: User }
    type User { id: ID! name: String friends(first: Int): [User!]! best: User }
    """
)


def check(document: str, **limits: int) -> None:
    ast = parse(document)
    operation = next(d for d in ast.definitions if isinstance(d, OperationDefinitionNode))
    check_document(ast, operation, SCHEMA, DocumentLimits(**limits))


def test_depth_counts_fields_through_fragments() -> None:
    document = "{ me { ...F } } fragment F on User { best { best { name } } }"
    check(document, max_depth=4)
    with pytest.raises(LimitExceeded, match="4 levels deep; the maximum is 3") as caught:
        check(document, max_depth=3)
    assert (caught.value.code, caught.value.value, caught.value.maximum) == ("MAX_DEPTH_EXCEEDED", 4, 3)


def test_fragment_cycles_do_not_loop() -> None:
    check("{ me { ...A } } fragment A on User { best { ...B } } fragment B on User { best { ...A } }", max_depth=10)


def test_aliases_are_counted() -> None:
    check("{ a: me { id } b: me { id } }", max_aliases=2)
    with pytest.raises(LimitExceeded, match="4 aliases; the maximum is 2"):
        check("{ a: me { id } b: me { id } c: me { n: name } }", max_aliases=2)


def test_cost_multiplies_lists_by_page_size_or_default() -> None:
    # users(first: 2): 2 x (1 + friends(first: 10): 10 x (1 + 0)) = 22
    check("{ users(first: 2) { friends(first: 10) { id } } }", max_cost=22)
    with pytest.raises(LimitExceeded, match="estimated cost is 22; the maximum is 21") as caught:
        check("{ users(first: 2) { friends(first: 10) { id } } }", max_cost=21)
    assert caught.value.code == "MAX_COST_EXCEEDED"
    check("{ users { friends { id } } }", max_cost=30)  # default list size 5: 5 x (1 + 5 x 1), leaves are free
    with pytest.raises(LimitExceeded):
        check("{ users { friends { id } } }", max_cost=29)


def test_zero_disables_a_limit() -> None:
    check("{ " + " ".join(f"a{i}: me {{ id }}" for i in range(100)) + " }", max_aliases=0, max_depth=0, max_cost=0)


def test_body_size() -> None:
    check_body_size(1024, 1024)
    check_body_size(10**9, 0)
    with pytest.raises(LimitExceeded, match="1025 bytes; the maximum is 1024 bytes") as caught:
        check_body_size(1025, 1024)
    assert caught.value.code == "BODY_TOO_LARGE"


def test_a_page_size_passed_as_a_variable_costs_what_the_literal_costs() -> None:
    document = "query($n: Int, $m: Int = 10) { users(first: $n) { friends(first: $m) { id } } }"
    ast = parse(document)
    operation = next(d for d in ast.definitions if isinstance(d, OperationDefinitionNode))
    estimate = check_document(ast, operation, SCHEMA, DocumentLimits(max_cost=55))  # at parse time: $n is 5, 5 x 11
    assert estimate is not None and estimate.by_variables
    limits = DocumentLimits(max_cost=21)
    estimate.check(limits, {"n": 1})  # 1 x (1 + 10) = 11
    with pytest.raises(LimitExceeded, match="estimated cost is 22; the maximum is 21"):
        estimate.check(limits, {"n": 2})  # the same as users(first: 2) { friends(first: 10) }
    with pytest.raises(LimitExceeded, match="estimated cost is 10010"):
        estimate.check(limits, {"n": 10, "m": 1000})
    literal = parse("{ users(first: 2) { id } }")
    assert check_document(literal, next(iter(literal.definitions)), SCHEMA, limits) is None  # type: ignore[arg-type]


def reference_cost(
    selections: Any, parent: Any, fragments: dict[str, Any], sizes: dict[str, int], seen: frozenset[str]
) -> int:
    """The cost model as the module docstring states it, walked with the request's sizes (the oracle)."""
    total = 0
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            definition = parent.fields.get(selection.name.value) if hasattr(parent, "fields") else None
            if selection.selection_set is None:
                continue
            if definition is None:
                total += 1
                continue
            named = get_named_type(definition.type)
            size = 1
            if isinstance(getattr(definition.type, "of_type", None), GraphQLList):  # [User!]! in this schema
                size = 5
                for argument in selection.arguments or ():
                    value: Any = argument.value
                    if argument.name.value == "first":
                        size = int(value.value) if isinstance(value, IntValueNode) else sizes.get(value.name.value, 5)
            total += (1 + reference_cost(selection.selection_set, named, fragments, sizes, seen)) * size
        elif isinstance(selection, InlineFragmentNode):
            total += reference_cost(selection.selection_set, parent, fragments, sizes, seen)
        elif selection.name.value not in seen:
            fragment = fragments[selection.name.value]
            inner = reference_cost(fragment.selection_set, parent, fragments, sizes, seen | {selection.name.value})
            total += inner
    return total


def test_the_cost_estimate_is_the_model_for_every_page_size() -> None:
    """Walked once into terms, the estimate gives what walking the document with each request's sizes gives."""
    document = """
        query($a: Int, $b: Int, $c: Int = 3) {
          users(first: $a) { ...F friends(first: 2) { friends(first: $b) { id best { id } } } best { ...F } }
          me { ... on User { friends(first: $c) { friends(first: $a) { id } } } nope { id } }
          again: users { friends { id } }
        }
        fragment F on User { friends(first: $b) { best { friends(first: 4) { id } } } }
    """
    ast = parse(document)
    operation = next(d for d in ast.definitions if isinstance(d, OperationDefinitionNode))
    fragments = {d.name.value: d for d in ast.definitions if isinstance(d, FragmentDefinitionNode)}
    estimate = CostEstimate(operation, SCHEMA, fragments, 5)
    assert estimate.by_variables
    for a, b, c in [(0, 0, None), (1, 2, 3), (7, 0, 11), (100, 3, None), (2, 100, 0)]:
        variables = {"a": a, "b": b} if c is None else {"a": a, "b": b, "c": c}
        sizes = {"c": 3, **variables}
        expected = reference_cost(operation.selection_set, SCHEMA.query_type, fragments, sizes, frozenset())
        assert estimate.cost(variables) == expected, variables
