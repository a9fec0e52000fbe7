"""A small, safe ``$ref`` resolver for OpenAPI documents (private to :mod:`stitcher.openapi`).

Documents are parsed once and kept by key: ``""`` for the root document, the resolved absolute path for a file.
Relative file references are read from ``base_path`` only, never from outside it, and remote (``http:``/``https:``)
references are refused: a spec must not make the gateway read arbitrary files or reach the network. Failures
raise :class:`RefError`; the caller turns them into a JSON scalar plus a warning.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

from stitcher.errors import StitcherError

__all__ = ["RefError", "RefResolver", "load_text", "pointer_tokens"]


class RefError(StitcherError):
    """A ``$ref`` that cannot be followed: the message says which and why."""


class _PyLoader(yaml.SafeLoader):
    """YAML 1.2-like booleans (only true/false) and no timestamps: ``on``, ``no`` or ``2024-01-01`` stay strings."""


# libyaml's parser (CSafeLoader) is about 10x faster than the pure-Python one on multi-megabyte specs; the
# resolvers and constructors stay in Python, so both loaders give the same values. PyYAML built without libyaml
# falls back to the pure-Python loader.
_Loader: type[yaml.SafeLoader | yaml.CSafeLoader]
if getattr(yaml, "__with_libyaml__", False):

    class _CLoader(yaml.CSafeLoader):
        """The same resolvers as :class:`_PyLoader` over libyaml's parser."""

    _Loader = _CLoader
else:  # pragma: no cover - PyYAML built without libyaml
    _Loader = _PyLoader

for _loader in {_PyLoader, _Loader}:
    _loader.yaml_implicit_resolvers = {
        first: [
            (tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
        ]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    _loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )


def load_text(text: str) -> Any:
    """Parse JSON or YAML text. Raises ``ValueError`` with the parser's position on a syntax error."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            return _plain_value(loader, node)
        except _Unusual:  # PyYAML's own constructor, node by node, for what the plain builder leaves to it
            return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ValueError(f"invalid YAML: {exc}".replace("\n", " ")) from exc
    finally:
        loader.dispose()


# PyYAML's constructor builds every mapping and sequence through a generator (so that a node may contain itself),
# which was half of reading a big spec. Specs are plain trees of mappings, sequences and scalars: those are built
# directly from the nodes libyaml composed, with the loader's own scalar constructors, and anything else (a merge
# key, an explicit tag, a mapping as a key, a node that contains itself) goes to PyYAML's constructor for the whole
# document, so the values are always PyYAML's.
_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_PLAIN_SCALARS = frozenset(f"tag:yaml.org,2002:{kind}" for kind in ("int", "float", "null", "bool"))
_BUSY = object()


class _Unusual(Exception):
    """A node the plain builder leaves to PyYAML's constructor."""


def _plain_value(loader: yaml.SafeLoader | yaml.CSafeLoader, root: yaml.Node) -> Any:
    try:
        return _PlainBuilder(loader).value(root)
    except RecursionError as exc:  # nested deeper than Python recurses: PyYAML's constructor says what it says
        raise _Unusual from exc


class _PlainBuilder:
    """Builds one document's value; a class rather than a recursive closure, whose reference to itself would keep
    the whole document (and the loader) for the cyclic collector to find instead of freeing it when done."""

    __slots__ = ("built", "constructors", "keys", "loader")

    def __init__(self, loader: yaml.SafeLoader | yaml.CSafeLoader) -> None:
        self.loader = loader
        self.constructors = loader.yaml_constructors
        self.built: dict[int, Any] = {}  # id(node) -> its value: an alias is the same node, and gets the same value
        self.keys: dict[str, str] = {}  # one string object per distinct key, as json.loads makes them

    def value(self, node: yaml.Node) -> Any:
        cls = node.__class__
        tag = node.tag
        if cls is yaml.ScalarNode:
            if tag == _STR:
                return node.value
            if tag in _PLAIN_SCALARS:
                return self.constructors[tag](self.loader, node)
            raise _Unusual
        built = self.built
        key = id(node)
        found = built.get(key)
        if found is not None:
            if found is _BUSY:  # a node that contains itself
                raise _Unusual
            return found
        built[key] = _BUSY
        result: Any
        if cls is yaml.MappingNode and tag == _MAP:
            result = {}
            for key_node, value_node in node.value:
                if key_node.__class__ is not yaml.ScalarNode:
                    raise _Unusual
                key_value = self.value(key_node)
                if key_value.__class__ is str:
                    key_value = self.keys.setdefault(key_value, key_value)
                result[key_value] = self.value(value_node)
        elif cls is yaml.SequenceNode and tag == _SEQ:
            result = [self.value(item) for item in node.value]
        else:
            raise _Unusual
        built[key] = result
        return result


def _unescape(token: str) -> str:
    return unquote(token).replace("~1", "/").replace("~0", "~")


def pointer_tokens(pointer: str) -> list[str]:
    """The keys of a ``$ref`` fragment (``/definitions/Transaction%20Id`` -> ``["definitions", "Transaction Id"]``),
    read as composition reads them: percent-decoded (the fragment is a URI), then ``~1`` and ``~0`` unescaped. Any
    other reader of ``$ref`` (the portal's apply check) must use this so both give the same verdict."""
    return [_unescape(token) for token in pointer.split("/") if token]


class RefResolver:
    """Resolves ``$ref`` strings relative to the document they appear in."""

    def __init__(self, root: Any, base_path: Path | None) -> None:
        self.documents: dict[str, Any] = {"": root}
        self._base = base_path.resolve() if base_path is not None else None

    def resolve(self, ref: str, doc: str) -> tuple[str, str, Any]:
        """Return ``(document key, JSON pointer, node)`` for ``ref`` found in document ``doc``."""
        if not isinstance(ref, str):
            raise RefError(f"$ref must be a string, got {type(ref).__name__}")
        location, _, fragment = ref.partition("#")
        target = doc
        if location:
            target = self._load_file(location, doc)
        node = self.documents[target]
        pointer = fragment
        if fragment:
            if not fragment.startswith("/"):
                raise RefError(f"$ref {ref!r}: only JSON pointers ('#/...') are supported, not anchors")
            for token in fragment[1:].split("/"):
                key = _unescape(token)
                if isinstance(node, dict) and key in node:
                    node = node[key]
                elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                    node = node[int(key)]
                else:
                    raise RefError(f"$ref {ref!r}: {key!r} not found")
        return target, pointer, node

    def _load_file(self, location: str, doc: str) -> str:
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", location):
            raise RefError(f"$ref {location!r}: remote and absolute references are refused; use a relative file")
        if self._base is None:
            raise RefError(f"$ref {location!r}: relative files need a base path, and this source has none")
        relative_to = Path(doc).parent if doc else self._base
        path = (relative_to / unquote(location)).resolve()
        if not path.is_relative_to(self._base):
            raise RefError(f"$ref {location!r} points outside the source's directory {self._base}; refused")
        key = str(path)
        if key not in self.documents:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise RefError(f"$ref {location!r}: cannot read {path}: {exc.strerror}") from exc
            try:
                self.documents[key] = load_text(text)
            except ValueError as exc:
                raise RefError(f"$ref {location!r}: {exc}") from exc
        return key
