"""stitcher.execution._shaping: generated shaping code on shapes written out by hand, deeper than the levels it
shapes inline (each level a list of objects: more nested blocks than one Python function may hold)."""

from __future__ import annotations

from typing import Any

from stitcher.execution._run import _Run
from stitcher.execution._shaping import _INVALID, _shape_object
from stitcher.planning import K_COMPOSITE, K_LEAF, ObjectShape

DEPTH = 12


def nested_shape(depth: int) -> ObjectShape:
    """``{ n: Int! children: [Node!] }`` down to ``depth`` levels; the list of children is nullable."""
    fields: tuple[Any, ...] = (("n", K_LEAF, True, None, "n"),)
    if depth:
        fields += (("children", K_COMPOSITE, False, ("l", False, ("o", True, nested_shape(depth - 1))), "children"),)
    return ObjectShape("Node", fields)


def tree(depth: int, null_at: int | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"n": None if depth == null_at else depth, "extra": 1}
    if depth:
        node["children"] = [tree(depth - 1, null_at)]
    return node


def shaped(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"n": depth}
    if depth:
        node["children"] = [shaped(depth - 1)]
    return node


def run() -> _Run:
    return _Run(None, {}, {})  # type: ignore[arg-type]  # shaping never reaches the executor


def test_a_tree_deeper_than_the_inlined_levels_is_shaped_whole() -> None:
    assert _shape_object(tree(DEPTH), nested_shape(DEPTH), None, run()) == shaped(DEPTH)


def test_a_null_deep_down_propagates_to_the_nearest_nullable_list_at_every_depth() -> None:
    for null_at in range(DEPTH + 1):
        state = run()
        got = _shape_object(tree(DEPTH, null_at), nested_shape(DEPTH), None, state)
        if null_at == DEPTH:
            assert got is _INVALID  # the root's own non-null field
            continue
        expected = shaped(DEPTH)
        parent = expected
        for _ in range(DEPTH - null_at - 1):
            parent = parent["children"][0]
        parent["children"] = None  # the list holding the invalid node is nullable
        assert got == expected, null_at
        (error,) = state.errors
        assert error["path"] == [*["children", 0] * (DEPTH - null_at), "n"]
