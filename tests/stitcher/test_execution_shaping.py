"""stitcher.execution._shaping: generated shaping code on shapes written out by hand, deeper than the levels it
shapes inline (each level a list of objects: more nested blocks than one Python function may hold)."""

from __future__ import annotations

import gc
from typing import Any

import msgspec
import orjson

from stitcher.execution._run import _Run
from stitcher.execution._shaping import _INVALID, _shape_object
from stitcher.planning import K_COMPOSITE, K_LEAF, K_TYPENAME, ObjectShape

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


def encoded(result: Any) -> bytes:
    """A shaped result as the client gets it (shaping builds structs, encoded in their field order)."""
    return msgspec.json.encode(result)


def plain(result: Any) -> Any:
    return result if result is _INVALID else msgspec.to_builtins(result)


def run() -> _Run:
    return _Run(None, {}, {})  # type: ignore[arg-type]  # shaping never reaches the executor


def test_a_tree_deeper_than_the_inlined_levels_is_shaped_whole() -> None:
    assert plain(_shape_object(tree(DEPTH), nested_shape(DEPTH), None, run())) == shaped(DEPTH)


def test_a_null_deep_down_propagates_to_the_nearest_nullable_list_at_every_depth() -> None:
    for null_at in range(DEPTH + 1):
        state = run()
        got = plain(_shape_object(tree(DEPTH, null_at), nested_shape(DEPTH), None, state))
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


def node_at(root: dict[str, Any], level: int) -> dict[str, Any]:
    for _ in range(level):
        root = root["children"][0]
    return root


def test_keys_in_another_order_are_put_in_the_clients_order_at_every_depth() -> None:
    """Key order is part of the response (dict equality ignores it, so these compare bytes)."""
    for level in range(DEPTH):
        merged = shaped(DEPTH)
        node = node_at(merged, level)
        children = node["children"]
        node.clear()
        node.update({"children": children, "n": DEPTH - level})  # as a later fetch would have merged them
        got = _shape_object(merged, nested_shape(DEPTH), None, run())
        assert encoded(got) == encoded(shaped(DEPTH)), level


def test_internal_and_missing_keys_and_values_of_the_wrong_kind_are_never_passed_through() -> None:
    merged = shaped(3)
    merged["children"][0]["__typename"] = "Node"  # an internal key: dropped
    del merged["children"][0]["children"][0]["children"]  # a partial object: its nullable list is null
    got = _shape_object(merged, nested_shape(3), None, run())
    assert encoded(got) == b'{"n":3,"children":[{"n":2,"children":[{"n":1,"children":null}]}]}'
    wrong = shaped(3)
    wrong["children"][0]["children"] = "not a list"  # a value of the wrong kind: null
    got = _shape_object(wrong, nested_shape(3), None, run())
    assert encoded(got) == b'{"n":3,"children":[{"n":2,"children":null}]}'


def test_an_object_field_whose_object_drops_a_key_is_rebuilt_above_it_too() -> None:
    inner = ObjectShape("Inner", (("a", K_LEAF, True, None, "a"),))
    outer = ObjectShape(
        "Outer", (("n", K_LEAF, True, None, "n"), ("child", K_COMPOSITE, False, ("o", False, inner), "child"))
    )
    merged = {"n": 1, "child": {"a": 2, "__typename": "Inner"}}
    assert encoded(_shape_object(merged, outer, None, run())) == b'{"n":1,"child":{"a":2}}'


def test_result_objects_encode_as_dicts_in_the_clients_order_and_are_not_tracked_by_the_collector() -> None:
    """Shaping builds structs (half a dict's cost per object); they must encode exactly as the client's dicts would,
    keys that are Python keywords or ``__typename`` included, and stay out of the collector (a tree has no cycles)."""
    inner = ObjectShape("Inner", (("class", K_LEAF, False, None, "k"), ("__typename", K_TYPENAME, True, None, "t")))
    outer = ObjectShape(
        "Outer",
        (
            ("from", K_COMPOSITE, False, ("l", False, ("o", True, inner)), "items"),
            ("n", K_LEAF, True, None, "n"),
            ("__typename", K_TYPENAME, True, None, "__typename"),
        ),
    )
    merged = {"n": 1.5e16, "items": [{"k": "é\u2028", "t": "x"}, {"k": None}], "secret": 1}
    got = _shape_object(merged, outer, None, run())
    expected = {
        "from": [{"class": "é\u2028", "__typename": "Inner"}, {"class": None, "__typename": "Inner"}],
        "n": 1.5e16,
        "__typename": "Outer",
    }
    assert plain(got) == expected
    assert orjson.loads(encoded(got)) == expected
    assert list(orjson.loads(encoded(got))) == ["from", "n", "__typename"]
    assert not gc.is_tracked(got)
    assert not gc.is_tracked(got.f0[0])
