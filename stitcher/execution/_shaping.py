"""Shaping: the client's result built from the merged upstream tree by the plan's result shapes (field order,
``__typename``, internal fields dropped, null propagation), through code generated once per shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stitcher.execution._run import _Run, _unlink
from stitcher.execution._structs import result_struct
from stitcher.planning import (
    K_LEAF,
    K_TYPENAME,
    ObjectShape,
    ShapeField,
)


class _Outcome:
    """What shaping gives where no object can stand: a shaped object is a struct, never one of these."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_INVALID: Any = _Outcome("_INVALID")  # a null non-null field inside: the null passes up
_HIDDEN: Any = _Outcome("_HIDDEN")  # an object of a type the API schema hides


def _shape_object(obj: dict[str, Any], shape: ObjectShape, link: Any, run: _Run) -> Any:
    """The client's object for ``obj`` (a dict), or ``_INVALID`` (a null non-null field inside) or ``_HIDDEN``."""
    compiled = shape.compiled
    if compiled is None:
        compiled = _compile_shape(shape)
    return compiled(obj, link, run)


_Shaper = Callable[[dict[str, Any], Any, "_Run"], Any]


def _compile_shape(shape: ObjectShape) -> _Shaper:
    """The shaping function of ``shape``, generated once per plan and kept on it: straight-line code per field (no
    per-field tuple unpacking and kind dispatch), lists of objects looped in place, the object built by one dict
    display in the shape's field order. Errors, nulls and hidden values go through the same helpers as before."""
    compiled: _Shaper
    if shape.static is not None:
        compiled = _compile_fields(shape.static, shape.fields)
    else:
        by_type = {name: _compile_fields(name, fields) for name, fields in shape.by_type.items()}

        def compiled(obj: dict[str, Any], link: Any, run: _Run) -> Any:
            type_name = obj.get("__typename")
            if type_name is None:
                run.visited.add(tuple(_unlink(link)))
                return _INVALID  # an abstract position whose concrete type is unknown (its typename fetch failed)
            found = by_type.get(type_name)
            if found is None:  # a type the API schema hides (@inaccessible): the object is null, never half-shown
                run.visited.add(tuple(_unlink(link)))
                return _HIDDEN
            return found(obj, link, run)

    shape.compiled = compiled
    return compiled


# Nested objects are shaped in their parent's code down to this depth; deeper ones call their own function
# (CPython allows 20 nested blocks in a function, and an inlined list of objects takes two).
_INLINE_DEPTH = 3


def _compile_fields(type_name: str, fields: tuple[ShapeField, ...]) -> _Shaper:
    namespace: dict[str, Any] = {
        "_INVALID": _INVALID,
        "_Outcome": _Outcome,
        "_complete": _complete,
        "_hidden_value": _hidden_value,
        "_invalid": _invalid,
        "_object_outcome": _object_outcome,
        "_unlink": _unlink,
    }
    body, display = _object_code(type_name, fields, "obj", "link", "return _INVALID", "", 0, namespace)
    lines = ["def shape(obj, link, run):", *_indent(body), f"    return {display}"]
    exec(compile("\n".join(lines), f"<shape {type_name}>", "exec"), namespace)  # noqa: S102 - our own code, no input
    shaper: _Shaper = namespace["shape"]
    return shaper


def _object_code(
    type_name: str,
    fields: tuple[ShapeField, ...],
    obj: str,
    link: str,
    fail: str,
    prefix: str,
    depth: int,
    namespace: dict[str, Any],
) -> tuple[list[str], str]:
    """The code (unindented) that reads and checks every field of the dict in ``obj`` at ``link`` (``fail`` leaves
    at the first null non-null field), and the dict display that builds the client's object. Names are made unique
    by ``prefix``, so a nested object's code can sit in its parent's."""
    lines: list[str] = []
    reads: list[tuple[str, str]] = []  # (variable, key read): every field is read up front, before any effect
    built: list[str] = []
    for i, (key, kind, nonnull, arg, read) in enumerate(fields):
        k, v, a = repr(key), f"v{prefix}{i}", f"a{prefix}{i}"
        if kind == K_TYPENAME:
            built.append(repr(type_name))
            continue
        built.append(v)
        reads.append((v, repr(read)))
        if kind == K_LEAF:
            lines += _leaf_lines(v, k, nonnull, arg, a, link, fail, namespace)
            continue
        namespace[a] = arg
        inner_kind, inner_nonnull, inner = arg
        here, child, r = f"({link}, {k})", f"{prefix}{i}_", f"r{prefix}{i}"
        if inner_kind == "o":
            lines += [
                f"if {v}.__class__ is dict:",
                *_indent(_child_code(inner, v, here, child, depth, namespace, r)),
                f"    if {r}.__class__ is _Outcome:",
                f"        {r} = _object_outcome({r}, {v}, {inner_nonnull}, {here}, run)",
                f"    {v} = {r}",
                "else:",
                f"    {v} = _complete({v}, {a}, {here}, run)",
            ]
        elif inner_kind == "l" and inner[0] == "o":
            item_nonnull, item_shape = inner[1], inner[2]
            e, lk, n, item, items = (f"{name}{prefix}{i}" for name in ("e", "lk", "n", "item", "items"))
            namespace[e] = inner
            lines += [
                f"if {v}.__class__ is list:",
                f"    {lk} = {here}",
                f"    {items} = []",
                f"    for {n}, {item} in enumerate({v}):",
                f"        if {item}.__class__ is dict:",
                *_indent(_child_code(item_shape, item, f"({lk}, {n})", child, depth, namespace, r), 3),
                f"            if {r}.__class__ is _Outcome:",
                f"                {r} = _object_outcome({r}, {item}, {item_nonnull}, ({lk}, {n}), run)",
                f"                if {r} is _INVALID:",
                f"                    {items} = _invalid({inner_nonnull}, {lk}, run)",
                "                    break",
                "        else:",
                f"            {r} = _complete({item}, {e}, ({lk}, {n}), run)",
                f"            if {r} is _INVALID:",
                f"                {items} = _invalid({inner_nonnull}, {lk}, run)",
                "                break",
                f"        {items}.append({r})",
                f"    {v} = {items}",
                "else:",
                f"    {v} = _complete({v}, {a}, {here}, run)",
            ]
        else:
            lines.append(f"{v} = _complete({v}, {a}, {here}, run)")
        lines += [f"if {v} is _INVALID:", f"    {fail}"]
    # A subscript is ~17% cheaper per object than a bound get() call; an upstream that left a field out (a partial
    # object) raises before any effect and reads again with get(), a missing field being null as before.
    head: list[str] = []
    if reads:
        head += ["try:", *(f"    {v} = {obj}[{read}]" for v, read in reads), "except KeyError:"]
        head += [f"    get = {obj}.get", *(f"    {v} = get({read})" for v, read in reads)]
    struct = f"S{prefix}"
    namespace[struct] = result_struct(f"{type_name}Result", tuple(key for key, *_rest in fields))
    return head + lines, f"{struct}({', '.join(built)})"


def _child_code(
    shape: ObjectShape, obj: str, link: str, prefix: str, depth: int, namespace: dict[str, Any], result: str
) -> list[str]:
    """The code that shapes the dict in ``obj`` into ``result`` (an object, or what a call returns otherwise): a
    concrete object not too deep is shaped in place, in a one-pass loop that ``break`` leaves at its first null
    non-null field, without a call and without a link tuple (built only where an error needs it): the call and the
    tuple were ~40% of shaping an object of two leaves. Abstract positions call their dispatching function."""
    if shape.static is None or depth >= _INLINE_DEPTH:
        function = f"f{prefix}"
        namespace[function] = shape.compiled or _compile_shape(shape)
        return [f"{result} = {function}({obj}, {link}, run)"]
    body, display = _object_code(shape.static, shape.fields, obj, link, "break", prefix, depth + 1, namespace)
    return [f"{result} = _INVALID", "while True:", *_indent(body), f"    {result} = {display}", "    break"]


def _indent(lines: list[str], levels: int = 1) -> list[str]:
    pad = "    " * levels
    return [pad + line for line in lines]


def _leaf_lines(
    v: str, k: str, nonnull: bool, arg: Any, arg_name: str, link: str, fail: str, namespace: dict[str, Any]
) -> list[str]:
    """The checks of a leaf field read into ``v`` (key ``k``) of the object at ``link``: a hidden enum value and a
    null (``fail`` leaves the object, which is invalid; a nullable null is recorded while errors are tracked)."""
    lines: list[str] = []
    if arg is not None:
        namespace[arg_name] = arg
        lines += [
            f"if {v} is not None and {v} not in {arg_name}:",
            f"    _hidden_value({v}, {nonnull}, ({link}, {k}), run)",
            f"    {v} = None",
        ]
    lines.append(f"if {v} is None:")
    if nonnull:
        lines += [f"    run.null_error(({link}, {k}))", f"    {fail}"]
    else:
        lines += ["    if run.track:", f"        run.visited.add((*_unlink({link}), {k}))"]
    return lines


def _object_outcome(result: Any, value: dict[str, Any], nonnull: bool, link: Any, run: _Run) -> Any:
    """An object position whose shaping did not give an object: ``_HIDDEN`` or ``_INVALID`` (see :func:`_complete`)."""
    if result is _HIDDEN:
        if not nonnull:
            return None
        path = _unlink(link)
        run.visited.add(tuple(path))
        run.add_error({"message": f"Type {value.get('__typename')!r} is not in the API schema", "path": path})
        return _INVALID
    return _invalid(nonnull, link, run)


def _complete(value: Any, type_shape: tuple[str, bool, Any], link: Any, run: _Run) -> Any:
    kind, nonnull, arg = type_shape
    if value is None:
        if nonnull:
            run.null_error(link)
            return _INVALID
        if run.track:
            run.visited.add(tuple(_unlink(link)))
        return None
    if kind == "o":
        if not isinstance(value, dict):
            return _invalid(nonnull, link, run)
        result = _shape_object(value, arg, link, run)
        return _object_outcome(result, value, nonnull, link, run) if result.__class__ is _Outcome else result
    if kind == "l":
        if not isinstance(value, list):
            return _invalid(nonnull, link, run)
        out = []
        for index, item in enumerate(value):
            completed = _complete(item, arg, (link, index), run)
            if completed is _INVALID:
                return _invalid(nonnull, link, run)
            out.append(completed)
        return out
    if arg is not None and value not in arg:  # an enum value the API schema hides
        _hidden_value(value, nonnull, link, run)
        return _INVALID if nonnull else None
    return value


def _hidden_value(value: Any, nonnull: bool, link: Any, run: _Run) -> None:
    """An @inaccessible enum value is never shown: null, and an error where null is not allowed."""
    if nonnull:
        path = _unlink(link)
        run.visited.add(tuple(path))
        run.add_error({"message": f"Enum value {value!r} is not in the API schema", "path": path})
    return None


def _invalid(nonnull: bool, link: Any, run: _Run) -> Any:
    """A position that cannot be completed: a non-null one passes the null up, a nullable one becomes null."""
    if nonnull:
        return _INVALID
    run.nulled.append(link)
    return None


def _reached_errors(run: _Run) -> list[dict[str, Any]]:
    """The errors graphql-core would report: it completes fields in document order and stops completing an object
    (or a list of non-null items) at its first null non-null field, so errors further inside a subtree that a null
    replaced are never raised. Ours arrive with the upstream answers, before shaping; drop those that shaping did
    not reach (no null at their path or above it was visited) inside a subtree that propagation nulled."""
    nulled = [tuple(_unlink(link)) for link in run.nulled]
    visited = run.visited
    kept: list[dict[str, Any]] = []
    for error in run.errors:
        path = error.get("path")
        if path:
            at = tuple(path)
            inside = any(len(at) > len(n) and at[: len(n)] == n for n in nulled)
            if inside and not any(at[:end] in visited for end in range(len(at), 0, -1)):
                continue
        kept.append(error)
    return kept
