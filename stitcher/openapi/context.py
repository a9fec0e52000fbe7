"""Where a schema is and what the translation knows about its document.

Every schema the translation touches is a :class:`Node`: the JSON value plus its :class:`Location` (the document
key and the canonical JSON pointer), and every cache is keyed by that location, never by ``id()``: two reads of the
same ``$ref`` target share a type, and nothing depends on Python keeping an object alive. Schemas the translation
makes up itself (a form body, an undeclared path parameter, a text response) are located in the ``loom:`` document.

:class:`Context` holds the state of one translation: the ``$ref`` resolver, the warnings, the type names claimed
so far (components first, so inline types never take a component's name) and the :class:`~stitcher.ir.RestBinding`
being filled.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NamedTuple

from stitcher._jsonref import RefError, RefResolver, pointer_tokens
from stitcher.errors import SchemaError
from stitcher.ir import RestBinding
from stitcher.openapi.names import RESERVED_TYPES, Names, type_name
from stitcher.sources import SourceSpec

__all__ = [
    "MAX_DEPTH",
    "SYNTHETIC_DOC",
    "Context",
    "Location",
    "Node",
    "detect_version",
    "escape_token",
    "schema_sections",
]

SYNTHETIC_DOC = "loom:"  # the document of schemas made up by the translation
MAX_DEPTH = 256  # JSON pointer depth: deeper only through a YAML alias that contains itself
_COMPONENT_RE = re.compile(r"^/(?:components/schemas|definitions)/([^/]+)$|/\$defs/([^/]+)$")
_SECTIONS = (("definitions",), ("components", "schemas"), ("$defs",))


def escape_token(token: str | int) -> str:
    text = str(token)
    if "~" in text or "/" in text:
        return text.replace("~", "~0").replace("/", "~1")
    return text


def _unescape_token(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


class Location(NamedTuple):
    """A schema's place: the document key (``""`` for the root document, a file's absolute path, ``loom:``) and the
    canonical JSON pointer (``/components/schemas/Book``; ``~0``/``~1`` escaped, never percent-encoded). A tuple,
    so that keying every cache by it costs what keying by a pair of strings does."""

    doc: str
    pointer: str

    def __str__(self) -> str:
        return f"{self.doc}#{self.pointer}"


class Node:
    """A JSON value (a schema, parameter, response...) and where it is; ``$ref`` inside it resolve against
    ``ref_doc`` (its own document, or for a made-up schema the document its parts come from). Not to be changed
    once made (a plain class: a frozen dataclass costs twice as much to create, and translation creates one per
    schema it visits)."""

    __slots__ = ("at", "depth", "ref_doc", "value")

    def __init__(self, value: Any, at: Location, ref_doc: str, depth: int = 0) -> None:
        self.value = value
        self.at = at
        self.ref_doc = ref_doc
        self.depth = depth

    def __repr__(self) -> str:
        return f"Node({self.at})"

    def child(self, key: str | int, *more: str | int) -> Node:
        value = self.value[key]
        token = key if key.__class__ is str else str(key)
        if "~" in token or "/" in token:
            token = escape_token(token)
        pointer = f"{self.at.pointer}/{token}"
        for extra in more:
            value = value[extra]
            pointer = f"{pointer}/{escape_token(extra)}"
        return Node(value, Location(self.at.doc, pointer), self.ref_doc, self.depth + 1 + len(more))

    def get(self, key: str) -> Node | None:
        """The child at ``key`` when the value is a mapping that has it."""
        if isinstance(self.value, dict) and key in self.value:
            return self.child(key)
        return None

    @property
    def too_deep(self) -> bool:
        return self.depth > MAX_DEPTH


def schema_sections(document: Any) -> list[tuple[str, dict[str, Any]]]:
    """The named-schema sections of a document (Swagger ``definitions``, ``components.schemas``, ``$defs``) with
    their pointers."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path in _SECTIONS:
        node = document
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            found.append(("".join("/" + escape_token(k) for k in path), node))
    return found


class Context:
    """The state of one document's translation, shared by the classification, type and operation builders."""

    def __init__(self, spec: SourceSpec, root: dict[str, Any], swagger: bool) -> None:
        self.spec = spec
        self.root = root
        self.swagger = swagger
        self.refs = RefResolver(root, spec.base_path)
        self.warnings: list[str] = []
        self._warned: set[str] = set()
        self.types = Names(RESERVED_TYPES)
        self.component_names: dict[Location, str] = {}  # named schema -> GraphQL type name reserved for it
        self.component_raw: dict[Location, str] = {}  # named schema -> its name as written
        self._loaded_docs: set[str] = set()
        # (a $ref, the document it is in) -> (the target's document, location, value): documents do not change
        # once loaded, and a big spec follows the same few hundred references tens of thousands of times
        self._steps: dict[tuple[str, str], tuple[str, Location, Any]] = {}
        self._synthetic = 0
        self.binding = RestBinding(operations={})
        self._reserve_components("", root)

    def root_node(self) -> Node:
        return Node(self.root, Location("", ""), "")

    def warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self.warnings.append(message)

    def synthetic(self, value: dict[str, Any], ref_doc: str = "") -> Node:
        """A schema made up here, at a location of its own in the ``loom:`` document."""
        self._synthetic += 1
        return Node(value, Location(SYNTHETIC_DOC, f"/{self._synthetic}"), ref_doc)

    def _reserve_components(self, doc: str, document: Any) -> None:
        """Claim type names for named schemas up front, so inline types never take a component's name."""
        for prefix, section in schema_sections(document):
            for raw, node in section.items():
                at = Location(doc, f"{prefix}/{escape_token(str(raw))}")
                if isinstance(node, dict) and at not in self.component_names:
                    self.component_names[at] = self.types.claim(type_name(str(raw)))
                    self.component_raw[at] = str(raw)

    def follow(self, node: Node) -> tuple[Node, bool]:
        """Follow a chain of ``$ref`` (cycle-safe); returns the target and whether a ``$ref`` sibling said nullable.
        Raises :class:`~stitcher._jsonref.RefError` for a reference that cannot be followed."""
        if not (isinstance(node.value, dict) and "$ref" in node.value):
            return node, False  # most schemas are no reference: no bookkeeping for them
        nullable = False
        seen: set[Location] = set()
        while isinstance(node.value, dict) and "$ref" in node.value:
            value = node.value
            nullable = nullable or value.get("nullable") is True or value.get("x-nullable") is True
            ref = value["$ref"]
            step = self._steps.get((ref, node.ref_doc)) if isinstance(ref, str) else None
            if step is None:
                new_doc, fragment, target = self.refs.resolve(ref, node.ref_doc)
                at = Location(new_doc, "".join("/" + escape_token(t) for t in pointer_tokens(fragment)))
                step = self._steps[(ref, node.ref_doc)] = (new_doc, at, target)
            new_doc, at, target = step
            if at in seen:
                raise RefError(f"$ref {ref!r} is part of a cycle of references with no schema in between")
            seen.add(at)
            if new_doc != node.ref_doc and new_doc not in self._loaded_docs:
                self._loaded_docs.add(new_doc)
                self._reserve_components(new_doc, self.refs.documents[new_doc])
            if isinstance(target, dict) and at not in self.component_names:
                raw_name = _ref_name(at)
                if raw_name:
                    self.component_names[at] = self.types.claim(type_name(raw_name))
                    self.component_raw[at] = raw_name
            node = Node(target, at, new_doc, at.pointer.count("/"))
        return node, nullable

    def component_ref(self, name: str) -> str:
        return f"#/definitions/{name}" if self.swagger else f"#/components/schemas/{name}"


def _ref_name(at: Location) -> str | None:
    """The name a ``$ref`` target is known by: its component/definition key, or a file's top-level key or stem."""
    match = _COMPONENT_RE.search(at.pointer)
    if match:
        return _unescape_token(match.group(1) or match.group(2))
    tokens = [_unescape_token(t) for t in at.pointer.split("/")[1:]]
    if at.doc and len(tokens) == 1:
        return tokens[0]
    if at.doc and not tokens:
        return Path(at.doc).name.split(".")[0]
    return None


def detect_version(document: Any, service: str) -> bool:
    """True for Swagger 2.0, False for OpenAPI 3.x; SchemaError for anything else."""
    if not isinstance(document, dict):
        kind = type(document).__name__ if document is not None else "an empty document"
        raise SchemaError(f"not an OpenAPI document: expected a mapping at the top level, got {kind}", service=service)
    if "swagger" in document:
        if str(document["swagger"]).startswith("2"):
            return True
        raise SchemaError(f"unsupported Swagger version {document['swagger']!r}; use 2.0 or OpenAPI 3", service=service)
    if "openapi" in document:
        version = str(document["openapi"])
        if re.match(r"^3\.[01](\.|$)", version):
            return False
        raise SchemaError(f"unsupported OpenAPI version {version!r}; use 2.0, 3.0 or 3.1", service=service)
    raise SchemaError("not an OpenAPI document: it has neither an `openapi` nor a `swagger` field", service=service)
