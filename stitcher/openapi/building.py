"""What output and input types share: follow ``$ref``, reuse the type built for a location, refuse a schema that
contains itself with nothing to stop the recursion, explain why a schema is typed as ``JSON``."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from stitcher._jsonref import RefError
from stitcher.openapi.classification import Classifier, plain_scalar, type_list
from stitcher.openapi.context import Context, Location, Node
from stitcher.openapi.leaves import Leaves

__all__ = ["TypeBuilder", "why_json"]

T = TypeVar("T")


class TypeBuilder(Generic[T]):
    """Builds one direction of types (output or input); ``build`` is the direction's own translation."""

    def __init__(self, context: Context, classifier: Classifier, leaves: Leaves) -> None:
        self.context = context
        self.classifier = classifier
        self.leaves = leaves
        self.cache: dict[Location, tuple[T, bool]] = {}
        self._passing: set[Location] = set()

    def type_of(self, node: Node, hint: str, where: str) -> tuple[T, bool]:
        """The GraphQL type of a schema (never NonNull: the caller wraps it) and whether it is nullable."""
        value = node.value
        ref_nullable = False
        if value.__class__ is dict and "$ref" in value:  # most schemas are no reference: no call for them
            try:
                node, ref_nullable = self.context.follow(node)
            except RefError as exc:
                return self._json(where, str(exc)), True
        if not isinstance(node.value, dict):
            return self._json(where, "schema is not an object"), True
        if node.too_deep:
            return self._json(where, "schema nested too deeply (a YAML alias that contains itself?)"), True
        cached = self.cache.get(node.at)
        if cached is not None:
            return cached[0], cached[1] or ref_nullable
        scalar = plain_scalar(node.value)
        if scalar is not None:  # what build() would find, without its walk: the type alone says it
            result: T = self.leaves.scalar(scalar)  # type: ignore[assignment]  # a scalar is both input and output
            self.cache[node.at] = (result, ref_nullable)
            return result, ref_nullable
        # Objects and unions stop recursion through the cache; arrays and wrappers that contain themselves don't.
        if node.at in self._passing:
            return self._json(where, "schema contains itself with no object in between"), True
        self._passing.add(node.at)
        try:
            return self.build(node, hint, where, ref_nullable)
        finally:
            self._passing.discard(node.at)

    def build(self, node: Node, hint: str, where: str, ref_nullable: bool) -> tuple[T, bool]:
        raise NotImplementedError

    def _json(self, where: str, reason: str) -> T:
        return self.leaves.json_fallback(where, reason)  # type: ignore[return-value]  # JSON is both input and output


def why_json(value: dict[str, Any]) -> str:
    if "x-loom-binary" in value:
        return f"{value['x-loom-binary']} content is not JSON"
    if "additionalProperties" in value and not value.get("properties"):
        return "map (additionalProperties) has no GraphQL equivalent"
    if "oneOf" in value or "anyOf" in value:
        return "oneOf/anyOf mixes primitive or incompatible types"
    if "allOf" in value:
        return "allOf mixes objects with other types"
    types, _ = type_list(value)
    if len(types) > 1:
        return f"type allows several kinds ({', '.join(types)})"
    if types == ["object"] or not types:
        return "free-form object (no properties)"
    return f"unsupported type {types[0]!r}"
