"""GraphQL names for what an OpenAPI document names freely: operations, types, fields, arguments, enum values.

Names that are already valid GraphQL names are kept as written and win over sanitized ones; everything else is
camelCased (fields, arguments, operations), PascalCased (types) or underscored (enum values). :class:`Names` claims
unique names in first-come order (``Book``, ``Book2``...).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

__all__ = [
    "RESERVED_TYPES",
    "Names",
    "assign",
    "camel_name",
    "enum_value_name",
    "field_name",
    "pascal_name",
    "path_name",
    "type_name",
]

RESERVED_TYPES = frozenset(
    {"Query", "Mutation", "Subscription", "JSON", "BigInt", "String", "Int", "Float", "Boolean", "ID"}
)
_NAME_RE = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")
_WORD_RE = re.compile(r"[A-Za-z0-9]+")


def _words(raw: str) -> list[str]:
    ascii_text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    return _WORD_RE.findall(ascii_text)


def _hex_name(raw: str) -> str:
    return "_" + "_".join(f"{ord(ch):x}" for ch in raw[:8])


def _lower_first(word: str) -> str:
    run = re.match(r"[A-Z]+", word)
    if not run:
        return word
    length = len(run.group())
    if length == len(word):
        return word.lower()
    if length == 1:
        return word[0].lower() + word[1:]
    return word[: length - 1].lower() + word[length - 1 :]


def _upper_first(word: str) -> str:
    return word[:1].upper() + word[1:]


def _digit_safe(name: str) -> str:
    return "_" + name if name[:1].isdigit() else name


def _valid(raw: str) -> bool:
    return bool(_NAME_RE.match(raw)) and not raw.startswith("__")


def camel_name(raw: str) -> str:
    """A readable camelCase GraphQL name for an operationId or a method+path (``get-book`` -> ``getBook``)."""
    words = _words(raw)
    if not words:
        return _hex_name(raw) if raw else "_"
    return _digit_safe(_lower_first(words[0]) + "".join(_upper_first(w) for w in words[1:]))


def pascal_name(raw: str) -> str:
    """A PascalCase GraphQL name for an inline type built from a hint (``place hold`` -> ``PlaceHold``)."""
    words = _words(raw)
    if not words:
        return "T" + _hex_name(raw) if raw else "Type"
    return _digit_safe("".join(_upper_first(w) for w in words))


def field_name(raw: str) -> str:
    """A property or parameter name as a GraphQL field/argument name: kept when valid, else camelCased."""
    return raw if _valid(raw) else camel_name(raw)


def type_name(raw: str) -> str:
    """A component/definition name as a GraphQL type name: kept when valid, else PascalCased."""
    name = raw if _valid(raw) else pascal_name(raw)
    return name + "Type" if name in RESERVED_TYPES else name


def enum_value_name(raw: str) -> str:
    """A JSON enum value as a GraphQL enum value name (``in-progress`` -> ``in_progress``, ``1`` -> ``_1``)."""
    if raw in ("true", "false", "null"):
        return raw.upper()
    if _valid(raw):
        return raw
    words = _words(raw)
    if not words:
        return _hex_name(raw) if raw else "EMPTY"
    return _digit_safe("_".join(words))


def path_name(method: str, path: str) -> str:
    """The field name of an operation without operationId (``GET /books/{isbn}`` -> ``getBooksByIsbn``)."""
    parts = [method]
    for segment in path.strip("/").split("/"):
        if not segment:
            continue
        if segment.startswith("{") and segment.endswith("}"):
            parts.append("By " + segment[1:-1])
        else:
            parts.append(segment)
    if len(parts) == 1:
        parts.append("root")
    words = [w for part in parts for w in _words(part)]
    return _digit_safe(words[0].lower() + "".join(_upper_first(w) for w in words[1:]))


class Names:
    """Claims unique names in first-come order: ``Book``, ``Book2``, ``Book3``..."""

    def __init__(self, taken: frozenset[str] = frozenset()) -> None:
        self._taken = set(taken)

    def claim(self, name: str) -> str:
        candidate, n = name, 1
        while candidate in self._taken:
            n += 1
            candidate = f"{name}{n}"
        self._taken.add(candidate)
        return candidate

    def __contains__(self, name: str) -> bool:
        return name in self._taken


def assign(raws: list[str], sanitize: Callable[[str], str]) -> list[str]:
    """Unique GraphQL names for ``raws`` in order; names that are already valid keep them, sanitized ones yield."""
    valid = {raw for raw in raws if sanitize(raw) == raw}  # raws are unique (JSON keys, distinct enum values)
    names = Names(frozenset(valid))
    return [raw if raw in valid else names.claim(sanitize(raw)) for raw in raws]
