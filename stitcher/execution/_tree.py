"""The merged result tree: walking to a fetch's objects, building representations, merging answers into it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from stitcher.execution._structs import result_struct
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


_Representations = Callable[[list[Any], str], tuple[list[Any], list[list[dict[str, Any]]], list[str]]]


def _concrete_representations(
    objects: list[Any], type_name: str, target: EntityTarget
) -> tuple[list[Any], list[list[dict[str, Any]]], list[str]]:
    """:meth:`Executor._representations` for the common fetch: one entity type at a concrete position and no
    @requires cut, by code generated once per target (:func:`_compile_representations`)."""
    compiled = target.compiled
    if compiled is None:
        compiled = target.compiled = _compile_representations(target)
    built: tuple[list[Any], list[list[dict[str, Any]]], list[str]] = compiled(objects, type_name)
    return built


def _compile_representations(target: EntityTarget) -> _Representations:
    """Straight-line code per target: every field read by subscript (a partial object reads again with ``get()``,
    a missing field null as in the general path), one tuple as the dedupe key (the value itself for one field;
    unhashable values compared as sorted JSON) and the representation built as a struct (encoded as the same JSON
    object; see :func:`~stitcher.execution._structs.result_struct`). A loop over the fields with ``zip`` and a dict
    store per field cost about twice as much per object as a dict display (~370 against ~210 ns on 3 fields)."""
    reads = [repr(read) for _name, read in target.representation]
    values = [f"a{i}" for i in range(len(reads))]
    key = values[0] if len(values) == 1 else "(" + ", ".join(values) + ")"
    names = ("__typename", *(name for name, _read in target.representation))
    arguments = ", ".join([repr(target.upstream_type), *values])
    lines = [
        "def representations(objects, type_name):",
        "    reps = []",
        "    groups = []",
        "    index = {}",
        "    seen = index.get",
        "    for obj in objects:",
        # rarely there at a concrete position; `in` and a subscript cost less than get()
        "        if '__typename' in obj:",
        "            found = obj['__typename']",
        "            if found and found != type_name:",
        "                continue",
        "        try:",
        *(f"            {v} = obj[{r}]" for v, r in zip(values, reads, strict=True)),
        "        except KeyError:",
        *(f"            {v} = obj.get({r})" for v, r in zip(values, reads, strict=True)),
        "        if a0 is None:",
        "            continue",  # no key: the parent returned a partial object; its fields stay null
        f"        key = {key}",
        "        try:",
        "            position = seen(key)",
        "        except TypeError:",  # nested values (dicts) are not hashable
        f"            key = _dumps([type_name, [{', '.join(values)}]], option=_SORT_KEYS)",
        "            position = seen(key)",
        "        if position is None:",
        "            index[key] = len(reps)",
        "            groups.append([obj])",
        f"            reps.append(_Rep({arguments}))",
        "        else:",
        "            groups[position].append(obj)",
        "    return reps, groups, [type_name] * len(reps)",
    ]
    namespace: dict[str, Any] = {
        "_dumps": orjson.dumps,
        "_SORT_KEYS": orjson.OPT_SORT_KEYS,
        "_Rep": result_struct(f"{target.upstream_type}Representation", names),
    }
    source = "\n".join(lines)
    exec(compile(source, f"<representations {target.product_type}>", "exec"), namespace)  # noqa: S102 - our code
    built: _Representations = namespace["representations"]
    return built


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


def _merge_entities(entities: list[Any], groups: list[list[dict[str, Any]]], fresh: bool) -> None:
    """Merge the i-th entity of an answer into every object that representation i stands for. ``fresh``: the fetch
    brings only keys its objects cannot have yet (:func:`~stitcher.execution._fresh.mark_fresh_fetches`)."""
    if fresh:
        for result, group in zip(entities, groups):  # noqa: B905 - as long as each other (strict= costs a kwargs dict)
            if isinstance(result, dict):
                for obj in group:
                    obj.update(result)
        return
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
