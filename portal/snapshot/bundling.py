"""Relative ``$ref`` files of an OpenAPI source bundled into its one document: a gateway has no files."""

from __future__ import annotations

import copy
import json
import posixpath
from collections.abc import Mapping
from typing import Any

from portal.errors import Invalid
from stitcher import load_text

__all__ = ["bundle_openapi"]

_BUNDLE_KEY = "x-loom-bundled"


def _load(text: str, name: str, service: str) -> Any:
    """The stitcher's own JSON/YAML reading (no timestamps, YAML 1.2 booleans), so both see the same document."""
    try:
        return load_text(text)
    except ValueError as exc:
        raise Invalid(f"service {service!r}: schema file {name!r} is neither JSON nor YAML: {exc}") from exc


def bundle_openapi(text: str, files: Mapping[str, str], *, service: str) -> str:
    """One JSON document from an OpenAPI document and its relative ``$ref`` files.

    Each referenced part of another file is copied once under ``x-loom-bundled`` at the root and the reference is
    rewritten to point there, so recursive and shared schemas keep working. Remote references are left alone (the
    gateway refuses them itself); a file that is not among ``files`` is an error that names it.
    """
    root = _load(text, "the main document", service)
    if not isinstance(root, dict):
        raise Invalid(f"service {service!r}: the OpenAPI document is not an object")
    documents: dict[str, Any] = {}
    bundled: dict[str, Any] = {}
    names: dict[tuple[str, str], str] = {}

    def document(path: str) -> Any:
        if path not in documents:
            if path not in files:
                raise Invalid(f"service {service!r}: $ref to {path!r}, which is not among the schema's files")
            documents[path] = _load(files[path], path, service)
        return documents[path]

    def resolve(doc: Any, pointer: str, where: str) -> Any:
        node = doc
        for token in [t for t in pointer.lstrip("/").split("/") if t] if pointer else []:
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise Invalid(f"service {service!r}: $ref {where!r} points at nothing")
        return node

    def rewrite(node: Any, current: str | None) -> Any:
        """Copy ``node`` (from file ``current``; None: the main document) with file refs pointing into the bundle."""
        if isinstance(node, list):
            return [rewrite(item, current) for item in node]
        if not isinstance(node, dict):
            return node
        out = {key: rewrite(value, current) for key, value in node.items() if key != "$ref"}
        ref = node.get("$ref")
        if isinstance(ref, str):
            out["$ref"] = target(ref, current)
        elif "$ref" in node:
            out["$ref"] = node["$ref"]
        return out

    def target(ref: str, current: str | None) -> str:
        if "://" in ref:
            return ref
        file_part, _, pointer = ref.partition("#")
        if not file_part:
            if current is None:
                return ref
            path = current
        else:
            base = posixpath.dirname(current) if current else ""
            path = posixpath.normpath(posixpath.join(base, file_part))
        key = (path, pointer)
        if key not in names:
            name = f"{len(names) + 1}-{posixpath.basename(path)}{pointer}".replace("/", "_").replace("~", "_")
            names[key] = name
            bundled[name] = None  # reserve first: a recursive ref finds the name and stops
            bundled[name] = rewrite(copy.deepcopy(resolve(document(path), pointer, ref)), path)
        return f"#/{_BUNDLE_KEY}/{names[key]}"

    result = rewrite(root, None)
    if bundled:
        result[_BUNDLE_KEY] = bundled
    return json.dumps(result, sort_keys=False)
