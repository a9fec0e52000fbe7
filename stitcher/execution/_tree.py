"""The merged result tree: walking to a fetch's objects, building representations, merging answers into it."""

from __future__ import annotations

from collections.abc import Mapping
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import orjson

from stitcher.planning import (
    EntityTarget,
    Selection,
)

if TYPE_CHECKING:
    pass


def _walk(objects: list[Any], path: tuple[tuple[str, frozenset[str] | None], ...], start: int) -> list[Any]:
    """The objects at ``path``, starting from ``objects`` (those at its first ``start`` steps)."""
    if start:
        types = path[start - 1][1]
        if types is not None:
            objects = [o for o in objects if o.get("__typename") in types]
    for key, step_types in path[start:]:
        found: list[Any] = []
        append = found.append
        for obj in objects:
            try:
                value = obj[key]  # a subscript costs less than a get() call; a missing field is rare (a failed fetch)
            except KeyError:
                continue
            if value.__class__ is dict:
                append(value)
            elif value.__class__ is list:  # a list of objects, flattened here without a call per list
                for item in value:
                    if item.__class__ is dict:
                        append(item)
                    elif item is not None:
                        _flatten(item, found)
            elif value is not None:
                _flatten(value, found)
        if step_types is not None:
            found = [o for o in found if o.get("__typename") in step_types]
        objects = found
        if not objects:
            break
    return objects


def _single_key_representations(
    objects: list[Any], type_name: str, target: EntityTarget
) -> tuple[list[Any], list[list[dict[str, Any]]], list[str]]:
    """:meth:`Executor._representations` for the common Federation fetch: one entity type at a concrete position,
    a key of one field, no @requires cut: no per-object list of values or key tuple."""
    reps: list[Any] = []
    groups: list[list[dict[str, Any]]] = []
    index: dict[Any, int] = {}
    ((name, read),) = target.representation
    upstream = target.upstream_type
    seen = index.get
    add_group = groups.append
    add_rep = reps.append
    for obj in objects:
        if "__typename" in obj:  # rarely there at a concrete position; `in` and a subscript cost less than get()
            found = obj["__typename"]
            if found and found != type_name:
                continue
        try:
            value = obj[read]
        except KeyError:
            continue  # no key: the parent returned a partial object; its fields stay null
        if value is None:
            continue
        try:
            position = seen(value)
        except TypeError:  # nested key values (dicts) are not hashable
            value_key = orjson.dumps([type_name, [value]], option=orjson.OPT_SORT_KEYS)
            position = seen(value_key)
            if position is None:
                index[value_key] = len(reps)
        else:
            if position is None:
                index[value] = len(reps)
        if position is None:
            add_group([obj])
            add_rep({"__typename": upstream, name: value})
        else:
            groups[position].append(obj)
    return reps, groups, [type_name] * len(reps)


def _concrete_representations(
    objects: list[Any], type_name: str, target: EntityTarget
) -> tuple[list[Any], list[list[dict[str, Any]]], list[str]]:
    """:func:`_single_key_representations` for a representation of several fields (a compound key, or a key and
    the fields an @requires names) with no cut: the values read by one ``itemgetter`` call per object."""
    reps: list[Any] = []
    groups: list[list[dict[str, Any]]] = []
    index: dict[Any, int] = {}
    names = tuple(name for name, _read in target.representation)
    reads = tuple(read for _name, read in target.representation)
    read_all = itemgetter(*reads)
    upstream = target.upstream_type
    seen = index.get
    for obj in objects:
        if "__typename" in obj:
            found = obj["__typename"]
            if found and found != type_name:
                continue
        try:
            values = read_all(obj)
        except KeyError:  # a field the parent did not return reads as null, as in the general path
            values = tuple(obj.get(read) for read in reads)
        if values[0] is None:
            continue  # no key: the parent returned a partial object; its fields stay null
        dedupe_key: Any = values
        try:
            position = seen(values)
        except TypeError:  # nested values (dicts) are not hashable
            dedupe_key = orjson.dumps([type_name, list(values)], option=orjson.OPT_SORT_KEYS)
            position = seen(dedupe_key)
        if position is None:
            index[dedupe_key] = len(reps)
            groups.append([obj])
            rep = {"__typename": upstream}
            for name, value in zip(names, values, strict=False):  # as long as each other (strict= costs 40%)
                rep[name] = value
            reps.append(rep)
        else:
            groups[position].append(obj)
    return reps, groups, [type_name] * len(reps)


def _cut(value: Any, tree: dict[str, Any]) -> Any:
    """A nested @requires value with only the fields its requirement names (and ``__typename``)."""
    if isinstance(value, list):
        return [_cut(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    out = {"__typename": value["__typename"]} if "__typename" in value else {}
    for name, (reads, sub) in tree.items():
        for read in reads:
            if read in value:
                out[name] = _cut(value[read], sub) if sub else value[read]
                break
    return out


def _flatten(value: Any, out: list[Any]) -> None:
    if isinstance(value, dict):
        out.append(value)
    elif isinstance(value, list):
        for item in value:
            _flatten(item, out)


def _flatten_paths(value: Any, path: list[Any], out: list[tuple[Any, list[Any]]]) -> None:
    if isinstance(value, dict):
        out.append((value, path))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten_paths(item, [*path, index], out)


def _merge_entities(entities: list[Any], groups: list[list[dict[str, Any]]]) -> None:
    """Merge the i-th entity of an answer into every object that representation i stands for."""
    for result, group in zip(entities, groups, strict=False):
        if isinstance(result, dict):
            for obj in group:
                if obj.keys().isdisjoint(result):
                    obj.update(result)  # the common case, as in _merge, without its call
                else:
                    _merge(obj, result)


def _merge(target: dict[str, Any], source: dict[str, Any]) -> None:
    if target.keys().isdisjoint(source):
        target.update(source)  # the common case: a fetch brings only new fields
        return
    for key, value in source.items():
        current = target.get(key)
        if current is None:
            if value is not None or key not in target:
                target[key] = value
        elif isinstance(current, dict) and isinstance(value, dict):
            _merge(current, value)
        elif isinstance(current, list) and isinstance(value, list) and len(current) == len(value):
            for index, (a, b) in enumerate(zip(current, value, strict=True)):
                if isinstance(a, dict) and isinstance(b, dict):
                    _merge(a, b)
                else:
                    current[index] = b
        elif value is not None:
            target[key] = value


def _project(value: Any, selection: Selection | None) -> Any:
    """Re-key a shaped REST value by the plan's selection (response keys, internal aliases, fragments)."""
    if selection is None or value is None:
        return value
    if isinstance(value, list):
        return [_project(item, selection) for item in value]
    if not isinstance(value, dict):
        return value
    type_name = value.get("__typename")
    out: dict[str, Any] = {"__typename": type_name} if type_name is not None else {}
    for item in selection.fields.values():
        out[item.alias] = _project(value.get(item.name), item.selection)
    if type_name is not None and selection.fragments:
        fragment = selection.fragments.get(type_name)
        if fragment is not None:
            for item in fragment.fields.values():
                out[item.alias] = _project(value.get(item.name), item.selection)
    return out


def _rename_typenames(value: Any, reverse: Mapping[str, str]) -> None:
    if isinstance(value, dict):
        name = value.get("__typename")
        if name is not None and name in reverse:
            value["__typename"] = reverse[name]
        for child in value.values():
            if isinstance(child, dict | list):
                _rename_typenames(child, reverse)
    elif isinstance(value, list):
        for child in value:
            _rename_typenames(child, reverse)
