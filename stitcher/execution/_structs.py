"""The executor's own JSON objects as structs: the client's result objects and the representations it sends.

A struct of a fixed set of keys is built by one C call from positional values and encoded by msgspec in its field
order, as the JSON object a dict display would give. It has no hash table, and as a result tree holds no cycles it is
created outside the collector's tracking (``gc=False``): about half the cost of a dict per object to build, and less
to encode and free. The attributes are positional names (``f0``...), as a key may be a Python keyword or
``__typename``; ``rename`` gives each its JSON key. ``msgspec.to_builtins`` turns a tree of them into dicts."""

from __future__ import annotations

import functools
from typing import Any

import msgspec

# msgspec encodes the structs (orjson does not know them) and plain JSON values as orjson does, but for an exponent's
# "+" (1e16 where orjson writes 1e+16: the same number).
encode = msgspec.json.Encoder().encode


@functools.lru_cache(maxsize=4096)
def result_struct(name: str, keys: tuple[str, ...]) -> type[msgspec.Struct]:
    """A struct class whose instances encode as JSON objects with ``keys``, in that order. One class per name and
    keys, shared by every plan that has that shape: a gateway caches many documents' plans, and a class costs ~1 KB
    and ~30 µs to make."""
    fields = [(f"f{i}", Any) for i in range(len(keys))]
    return msgspec.defstruct(name, fields, rename={f"f{i}": key for i, key in enumerate(keys)}, gc=False)


__all__ = ["encode", "result_struct"]
