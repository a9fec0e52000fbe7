"""Executing a product's links (:class:`stitcher.sources.Link`): an entity fetch whose resolver has ``link`` set calls
the operation once per response key of the link field (``member`` and ``m2: member`` may select different fields),
with that key's selection, and the result becomes the value of the field, not fields of the entity."""

from __future__ import annotations

from typing import Any

from stitcher.planning.model import EntityTarget

__all__ = ["link_parts", "linked_value"]


def link_parts(target: EntityTarget) -> list[tuple[str | None, str]]:
    """(response key of the link field, printed selection) per call: ``[(None, <the target's selection>)]`` for an
    ordinary entity, one per response key of the link field otherwise."""
    resolver = target.resolver
    if resolver is None or resolver.link is None:
        return [(None, target.selection.print())]
    return [
        (key, item.selection.print() if item.selection is not None else "")
        for key, item in target.selection.fields.items()
    ]


def linked_value(part: str | None, result: Any) -> dict[str, Any] | None:
    """What merges into the entity: the result itself (an object) for an ordinary entity, ``{key: result}`` for a
    link (any value: an object, a list, null)."""
    if part is None:
        return result if isinstance(result, dict) else None
    return {part: result}
