"""Input types: object schemas as input object types named ``<Name>Input`` (``readOnly`` properties left out),
arrays, enums and scalars as for output; what GraphQL input cannot express (``oneOf`` of objects, maps) is
``JSON``."""

from __future__ import annotations

from graphql import (
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLNullableInputType,
)

from stitcher._jsonref import RefError
from stitcher.openapi.building import TypeBuilder, why_json
from stitcher.openapi.classification import Classifier, Kind, nullable, type_list
from stitcher.openapi.context import Context, Location, Node
from stitcher.openapi.leaves import Leaves
from stitcher.openapi.names import assign, field_name, pascal_name

__all__ = ["InputTypes"]


class InputTypes(TypeBuilder[GraphQLNullableInputType]):
    def __init__(self, context: Context, classifier: Classifier, leaves: Leaves) -> None:
        super().__init__(context, classifier, leaves)
        self._building: set[Location] = set()

    def build(self, node: Node, hint: str, where: str, ref_nullable: bool) -> tuple[GraphQLNullableInputType, bool]:
        hint = self.context.component_raw.get(node.at, hint)
        is_nullable = nullable(node.value) or ref_nullable
        wrapped = self.classifier.wrapped(node)
        if wrapped is not None:
            inner, inner_nullable = self.type_of(wrapped, hint, where)
            return inner, is_nullable or inner_nullable
        kind = self.classifier.kind(node)
        result: GraphQLNullableInputType
        if kind is Kind.OBJECT:
            return self._input_object(node, hint, where), is_nullable
        if kind is Kind.UNION:
            return self._json(where, "oneOf/anyOf of objects cannot be a GraphQL input"), True
        if kind is Kind.ARRAY:
            items = node.get("items")
            if items is None:
                return GraphQLList(self._json(where, "array without items")), is_nullable
            item_type, item_nullable = self.type_of(items, hint + "Item", where + "[]")
            result = GraphQLList(item_type if item_nullable else GraphQLNonNull(item_type))
        elif kind is Kind.ENUM:
            result = self.leaves.enum(node, hint)
        elif kind.is_scalar:
            result = self.leaves.scalar(kind)
        else:
            return self._json(where, why_json(node.value)), True
        self.cache[node.at] = (result, is_nullable)
        return result, is_nullable

    def _input_object(self, node: Node, hint: str, where: str) -> GraphQLNullableInputType:
        classifier = self.classifier
        props = [p for p in classifier.props(node) if not classifier.flag(p, "readOnly")]
        base = self.context.component_names.get(node.at) or pascal_name(hint)
        name = self.context.types.claim(base if base.endswith("Input") else base + "Input")
        if not props:
            result: GraphQLNullableInputType = self._json(where, "object has no writable properties")
            self.cache[node.at] = (result, True)
            return result
        fields: dict[str, GraphQLInputField] = {}
        input_type = GraphQLInputObjectType(name, lambda: fields, description=node.value.get("description"))
        self.cache[node.at] = (input_type, type_list(node.value)[1])
        self._building.add(node.at)
        for prop, gql in zip(props, assign([p.json_name for p in props], field_name), strict=True):
            base_type, prop_nullable = self.type_of(prop.node, f"{base} {prop.json_name}", f"{name}.{gql}")
            prop_type: GraphQLInputType = base_type
            try:
                target: Location | None = self.context.follow(prop.node)[0].at
            except RefError:
                target = None
            # A required self-reference could never be satisfied and GraphQL refuses it: keep it nullable.
            if prop.required and not prop_nullable and target not in self._building:
                prop_type = GraphQLNonNull(base_type)
            value = prop.node.value
            description = value.get("description") if isinstance(value, dict) else None
            fields[gql] = GraphQLInputField(prop_type, description=description)
            if gql != prop.json_name:
                self.context.binding.json_names[(name, gql)] = prop.json_name
        self._building.discard(node.at)
        return input_type
