"""Leaf types: the ``JSON`` and ``BigInt`` scalars, the built-in scalars by :class:`~stitcher.openapi.Kind`, and
string enums as enum types (values that are not GraphQL names sanitized and mapped back through
``RestBinding.enum_values``)."""

from __future__ import annotations

import re
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLError,
    GraphQLFloat,
    GraphQLInt,
    GraphQLScalarType,
    GraphQLString,
    ValueNode,
)
from graphql.language import IntValueNode, StringValueNode
from graphql.utilities import value_from_ast_untyped

from stitcher.openapi.classification import Kind
from stitcher.openapi.context import Context, Location, Node
from stitcher.openapi.names import assign, enum_value_name, pascal_name

__all__ = ["BIG_INT", "JSON_SCALAR", "Leaves"]


def _parse_json_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    return value_from_ast_untyped(node, variables)


JSON_SCALAR = GraphQLScalarType(
    "JSON",
    description="Any JSON value: stands where the OpenAPI schema could not be typed.",
    serialize=lambda value: value,
    parse_value=lambda value: value,
    parse_literal=_parse_json_literal,
)


def _parse_big_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"BigInt cannot represent {value!r}")
    return int(value)


def _parse_big_int_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> int:
    if isinstance(node, IntValueNode | StringValueNode):
        return int(node.value)
    raise TypeError("BigInt expects an integer literal")


def _serialize_big_int(value: Any) -> int:
    """Result coercion as for ``Int`` without the 32-bit range: an integer, a float with no fraction, a string of
    digits, a boolean (1/0); anything else is an error naming the value."""
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        return int(value)
    raise GraphQLError(f"BigInt cannot represent non-integer value: {value!r}")


BIG_INT = GraphQLScalarType(
    "BigInt",
    description="A 64-bit integer (OpenAPI `integer` with `format: int64`), sent and received as a JSON number.",
    serialize=_serialize_big_int,
    parse_value=_parse_big_int,
    parse_literal=_parse_big_int_literal,
)

_SCALARS: dict[Kind, GraphQLScalarType] = {
    Kind.STRING: GraphQLString,
    Kind.INT: GraphQLInt,
    Kind.FLOAT: GraphQLFloat,
    Kind.BOOLEAN: GraphQLBoolean,
    Kind.BIG_INT: BIG_INT,
}


class Leaves:
    """Scalar and enum types, one enum type per enum schema (shared by output and input types)."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self._enums: dict[Location, GraphQLEnumType] = {}

    @staticmethod
    def scalar(kind: Kind) -> GraphQLScalarType:
        return _SCALARS[kind]

    def enum(self, node: Node, hint: str) -> GraphQLEnumType:
        cached = self._enums.get(node.at)
        if cached is not None:
            return cached
        context = self.context
        name = context.component_names.get(node.at) or context.types.claim(pascal_name(hint))
        values: dict[str, GraphQLEnumValue] = {}
        back: dict[str, str] = {}
        raws = list(dict.fromkeys(str(raw) for raw in node.value["enum"] if raw is not None))
        for raw, value_name in zip(raws, assign(raws, enum_value_name), strict=True):
            values[value_name] = GraphQLEnumValue(value_name)
            if value_name != raw:
                back[value_name] = str(raw)
        if back:
            context.binding.enum_values[name] = back
        enum_type = GraphQLEnumType(name, values, description=node.value.get("description"))
        self._enums[node.at] = enum_type
        return enum_type

    def json_fallback(self, where: str, reason: str) -> GraphQLScalarType:
        self.context.warn(f"{where}: {reason}; typed as JSON")
        return JSON_SCALAR
