"""Errors as the client gets them: upstream and transport failures, upstream GraphQL errors with their paths and
locations in the client's terms, document and limit errors."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    SelectionSetNode,
)
from graphql.language import get_location

from stitcher.limits import LimitExceeded
from stitcher.transport import UpstreamError

if TYPE_CHECKING:
    from stitcher.execution.executor import _Document

log = logging.getLogger("stitcher.execution")


def _graphql_error(error: GraphQLError, code: str) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(error.formatted)
    extensions: dict[str, Any] = dict(formatted.get("extensions") or {})
    extensions["code"] = code
    formatted["extensions"] = extensions
    return formatted


def _limit_error(exc: LimitExceeded) -> dict[str, Any]:
    return {"message": str(exc), "extensions": {"code": exc.code, "value": exc.value, "maximum": exc.maximum}}


def _upstream_failure(subgraph: str, exc: Exception) -> dict[str, Any]:
    """The consumer's error for a fetch that failed in the transport: the service's name and what went wrong, never
    the upstream's URL or address (internal topology); the log has those."""
    if isinstance(exc, UpstreamError):
        log.warning("subgraph %r: %s", subgraph, exc)
        code = {"timeout": "UPSTREAM_TIMEOUT", "too_large": "UPSTREAM_TOO_LARGE", "refused": "UPSTREAM_REFUSED"}
        return _failure(f"Subgraph {subgraph!r} {exc.reason}", code.get(exc.kind, "UPSTREAM_ERROR"), subgraph)
    # A transport outside the contract: still a GraphQL error, never a gateway 500.
    log.error("subgraph %r: the transport failed outside its contract", subgraph, exc_info=exc)
    return _failure(f"Subgraph {subgraph!r} cannot be reached", "UPSTREAM_ERROR", subgraph)


def _failure(message: str, code: str, subgraph: str) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code, "subgraph": subgraph}}


def _pass_through(
    error: dict[str, Any], path: list[Any] | None, prefix: str, drop_path: bool = False
) -> dict[str, Any]:
    """An upstream error as the client gets it: its message and ``extensions``; its path in the client's terms
    (below the gateway's aliases); its ``locations``, which point into the upstream document, are marked to be
    mapped onto the client's document once the response is complete (:func:`_locate_errors`)."""
    out: dict[str, Any] = {"message": str(error.get("message", "Upstream error"))}
    if path is None and not drop_path and isinstance(error.get("path"), list):
        path = error["path"]
    if path is not None:
        out["path"] = _client_path(path, prefix)
    if error.get("locations"):
        out["locations"] = None
    extensions = error.get("extensions")
    if isinstance(extensions, dict):
        out["extensions"] = extensions
    return out


def _client_path(path: list[Any], prefix: str) -> list[Any]:
    """``path`` with the gateway's aliases undone: a field aliased because its type differs in the subgraph
    (``<prefix>__<n>_<key>``) is the client's ``key``; a field only the gateway fetched (a key, a @requires input)
    is not the client's, so the path stops at the object that needed it."""
    if not any(isinstance(step, str) and step.startswith(prefix) for step in path):
        return path
    typed = prefix + "__"
    out: list[Any] = []
    for step in path:
        if isinstance(step, str) and step.startswith(prefix):
            key = step[len(typed) :].partition("_")[2] if step.startswith(typed) else ""
            if not key or key.startswith(prefix):
                break
            step = key
        out.append(step)
    return out


def _locate_errors(errors: list[dict[str, Any]], entry: _Document) -> None:
    """Upstream errors that had ``locations`` get the location of the client's field at their path (the first
    field with that response key, fragments included), or none when the path names no field of the document."""
    assert entry.operation is not None
    for error in errors:
        if "locations" in error and error["locations"] is None:
            node = _field_at(entry.operation.selection_set, error.get("path") or (), entry.fragments)
            if node is not None and node.loc is not None:
                at = get_location(node.loc.source, node.loc.start)
                error["locations"] = [{"line": at.line, "column": at.column}]
            else:
                del error["locations"]


def _field_at(
    selection_set: SelectionSetNode, path: Any, fragments: Mapping[str, FragmentDefinitionNode]
) -> FieldNode | None:
    found: FieldNode | None = None
    sets = [selection_set]
    for step in path:
        if not isinstance(step, str):
            continue
        fields: list[FieldNode] = []
        for one in sets:
            _fields_keyed(one, step, fragments, fields, set())
        if not fields:
            return None
        found = fields[0]
        sets = [f.selection_set for f in fields if f.selection_set is not None]
    return found


def _fields_keyed(
    selection_set: SelectionSetNode,
    key: str,
    fragments: Mapping[str, FragmentDefinitionNode],
    out: list[FieldNode],
    seen: set[str],
) -> None:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if (selection.alias or selection.name).value == key:
                out.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            _fields_keyed(selection.selection_set, key, fragments, out, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            seen.add(selection.name.value)
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                _fields_keyed(fragment.selection_set, key, fragments, out, seen)
