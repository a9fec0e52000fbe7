"""stitcher.limits: depth, aliases, estimated cost and body size, each with a clear error."""

from __future__ import annotations

import pytest
from graphql import OperationDefinitionNode, build_schema, parse

from stitcher.limits import (
    DocumentLimits,
    LimitExceeded,
    check_body_size,
    check_cost,
    check_document,
    sized_by_variables,
)

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
    limits = DocumentLimits(max_cost=21)
    assert sized_by_variables(operation, {})
    check_cost(operation, SCHEMA, limits, {}, {"n": 1})  # 1 x (1 + 10) = 11
    with pytest.raises(LimitExceeded, match="estimated cost is 22; the maximum is 21"):
        check_cost(operation, SCHEMA, limits, {}, {"n": 2})  # the same as users(first: 2) { friends(first: 10) }
    with pytest.raises(LimitExceeded, match="estimated cost is 10010"):
        check_cost(operation, SCHEMA, limits, {}, {"n": 10, "m": 1000})
    literal = next(d for d in parse("{ users(first: 2) { id } }").definitions if isinstance(d, OperationDefinitionNode))
    assert not sized_by_variables(literal, {})
