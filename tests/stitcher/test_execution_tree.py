"""stitcher.execution._tree: the representations of an entity fetch, built by the fast paths for a concrete position,
checked against what the general path in ``Executor._representations`` builds (one list of values per object)."""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from stitcher.execution._tree import _concrete_representations as _built
from stitcher.planning import EntityTarget, Selection


def general(objects: list[Any], type_name: str, target: EntityTarget) -> tuple[list[Any], list[list[Any]], list[str]]:
    """The general path's rules, written out plainly: skip other types and objects without a key, one
    representation per distinct set of values (unhashable ones compared as sorted JSON), every object grouped."""
    reps: list[Any] = []
    groups: list[list[Any]] = []
    index: dict[bytes, int] = {}
    for obj in objects:
        if obj.get("__typename") not in (None, type_name):
            continue
        values = [obj.get(read) for _name, read in target.representation]
        if values[0] is None:
            continue
        key = orjson.dumps(values, option=orjson.OPT_SORT_KEYS)
        if key in index:
            groups[index[key]].append(obj)
            continue
        index[key] = len(reps)
        reps.append(
            {
                "__typename": target.upstream_type,
                **{name: v for (name, _r), v in zip(target.representation, values, strict=True)},
            }
        )
        groups.append([obj])
    return reps, groups, [type_name] * len(reps)


def _concrete_representations(
    objects: list[Any], type_name: str, target: EntityTarget
) -> tuple[list[Any], list[list[Any]], list[str]]:
    """The fast path's outcome with its representations as plain dicts; they are structs, and must encode as the JSON
    the dicts give (same keys, same order)."""
    reps, groups, types = _built(objects, type_name, target)
    plain = msgspec.to_builtins(reps)
    assert msgspec.json.encode(reps) == orjson.dumps(plain)
    assert [list(rep) for rep in plain] == [["__typename", *(name for name, _r in target.representation)]] * len(reps)
    return plain, groups, types


def objects() -> list[dict[str, Any]]:
    return [
        {"upc": "1", "price": 10, "weight": 2},
        {"upc": "2", "price": 20},  # no weight: null in its representation
        {"upc": "1", "price": 10, "weight": 2},  # the first one again: grouped, not sent twice
        {"upc": "1", "price": 11, "weight": 2},  # another value of a required field: its own representation
        {"price": 30, "weight": 3},  # no key: a partial object, left out
        {"__typename": "Other", "upc": "9", "price": 1, "weight": 1},  # another type at the position
        {"__typename": "Product", "upc": "3", "price": {"amount": 5, "currency": "EUR"}, "weight": 1},
        {"upc": "3", "price": {"currency": "EUR", "amount": 5}, "weight": 1},  # equal nested value: grouped
        {"upc": "4", "price": [1, 2], "weight": None},
    ]


def target(*fields: str) -> EntityTarget:
    return EntityTarget("Product", "UpstreamProduct", tuple((f"r_{name}", name) for name in fields), Selection())


def test_a_representation_of_several_fields_matches_the_general_path() -> None:
    given = objects()
    reps, groups, types = _concrete_representations(given, "Product", target("upc", "price", "weight"))
    assert (reps, groups, types) == general(given, "Product", target("upc", "price", "weight"))
    assert reps[0] == {"__typename": "UpstreamProduct", "r_upc": "1", "r_price": 10, "r_weight": 2}
    assert reps[1] == {"__typename": "UpstreamProduct", "r_upc": "2", "r_price": 20, "r_weight": None}
    assert [len(group) for group in groups] == [2, 1, 1, 2, 1]
    assert all(group[0] is given[at] for group, at in zip(groups, [0, 1, 3, 6, 8], strict=True))


def test_a_single_key_matches_the_general_path() -> None:
    given = objects()
    got = _concrete_representations(given, "Product", target("upc"))
    assert got == general(given, "Product", target("upc"))
    assert [rep["r_upc"] for rep in got[0]] == ["1", "2", "3", "4"]
    nested = [{"price": {"b": 1, "a": 2}}, {"price": {"a": 2, "b": 1}}, {"price": {"a": 3}}]
    reps, groups, _types = _concrete_representations(nested, "Product", target("price"))
    assert reps == [
        {"__typename": "UpstreamProduct", "r_price": {"b": 1, "a": 2}},
        {"__typename": "UpstreamProduct", "r_price": {"a": 3}},
    ]
    assert [len(group) for group in groups] == [2, 1]


def test_the_builder_is_generated_once_per_target_and_quotes_its_names() -> None:
    odd = EntityTarget("Product", "Up'Product", (("r'upc", 'u"pc'),), Selection())
    given = [{'u"pc': "1"}, {'u"pc': "1"}, {'u"pc': "2"}]
    reps, groups, _types = _concrete_representations(given, "Product", odd)
    assert reps == [{"__typename": "Up'Product", "r'upc": "1"}, {"__typename": "Up'Product", "r'upc": "2"}]
    assert [len(group) for group in groups] == [2, 1]
    builder = odd.compiled
    assert builder is not None
    assert _concrete_representations(given, "Product", odd) == (reps, groups, ["Product", "Product"])
    assert odd.compiled is builder
