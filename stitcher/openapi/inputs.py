"""Input types: object schemas as input object types named ``<Name>Input`` (``readOnly`` properties left out),
arrays, enums and scalars as for output; what GraphQL input cannot express (``oneOf`` of objects, maps) is
``JSON``."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLNullableInputType,
    get_named_type,
)
from graphql.pyutils import Undefined

from stitcher._jsonref import RefError
from stitcher.openapi.building import TypeBuilder, why_json
from stitcher.openapi.classification import Classifier, Kind, nullable, type_list
from stitcher.openapi.context import Context, Location, Node
from stitcher.openapi.leaves import Leaves
from stitcher.openapi.names import Names, assign, camel_name, field_name, pascal_name

__all__ = ["InputTypes"]


class InputTypes(TypeBuilder[GraphQLNullableInputType]):
    def __init__(self, context: Context, classifier: Classifier, leaves: Leaves) -> None:
        super().__init__(context, classifier, leaves)
        self._building: set[Location] = set()
        self._fields: dict[str, dict[str, GraphQLInputField]] = {}  # input object -> its fields, while building

    def build(self, node: Node, hint: str, where: str, ref_nullable: bool) -> tuple[GraphQLNullableInputType, bool]:
        hint = self.context.component_raw.get(node.at, hint)
        is_nullable = nullable(node.value) or ref_nullable
        wrapped = self.classifier.wrapped(node)
        if wrapped is not None:
            inner, inner_nullable = self.type_of(wrapped, hint, where)
            return inner, is_nullable or inner_nullable
        kind = self.classifier.kind(node)
        result: GraphQLNullableInputType
        if kind is Kind.OBJECT and node.at in self.context.component_names:
            subtypes = self.classifier.subtypes(node)
            if subtypes:  # the base is a member too when answers of its own kind exist
                members = [node, *subtypes] if self.classifier.claims_itself(node) else subtypes
                return self._one_of(node, members, hint, where), is_nullable
        if kind is Kind.OBJECT:
            return self._input_object(node, hint, where), is_nullable
        if kind is Kind.UNION:
            return self._one_of(node, self.classifier.members(node), hint, where), is_nullable
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

    def _input_object(self, node: Node, hint: str, where: str, own: str | None = None) -> GraphQLNullableInputType:
        """The input object of an object schema; ``own`` names the one that stands for a base schema in its
        ``@oneOf`` (the schema's location then keeps the ``@oneOf``)."""
        classifier = self.classifier
        props = [p for p in classifier.props(node) if not classifier.flag(p, "readOnly")]
        base = own or self.context.component_names.get(node.at) or pascal_name(hint)
        name = self.context.types.claim(base if base.endswith("Input") else base + "Input")
        if not props:
            result: GraphQLNullableInputType = self._json(where, "object has no writable properties")
            if own is None:
                self.cache[node.at] = (result, True)
            return result
        fields: dict[str, GraphQLInputField] = {}
        input_type = GraphQLInputObjectType(name, lambda: fields, description=node.value.get("description"))
        if own is None:
            self.cache[node.at] = (input_type, type_list(node.value)[1])
        self._fields[name] = fields
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

    def _one_of(self, node: Node, members: list[Node], hint: str, where: str) -> GraphQLNullableInputType:
        """A choice of types (``oneOf``/``anyOf``, or a base and the schemas that extend it) as a ``@oneOf`` input:
        one field per member, named after it (``{cat: {...}}``); :mod:`stitcher.rest` sends the chosen member's
        JSON. Each member's discriminator property defaults to the value that names it, so a client need not
        repeat what its choice already says."""
        context = self.context
        base = context.component_names.get(node.at) or pascal_name(hint)
        name = context.types.claim(base if base.endswith("Input") else base + "Input")
        fields: dict[str, GraphQLInputField] = {}
        one_of = GraphQLInputObjectType(name, lambda: fields, description=node.value.get("description"), is_one_of=True)
        self.cache[node.at] = (one_of, type_list(node.value)[1])
        tags = {at: value for value, at in self.classifier.discriminator_values(node, members)}
        prop_name = self.classifier.discriminator_property(node)
        names = Names()
        for index, member in enumerate(members, start=1):
            raw = context.component_raw.get(member.at)
            member_type: GraphQLNullableInputType
            if member.at == node.at:  # the base itself, as an input object of its own (ResourceObjectInput)
                member_type = self._input_object(node, hint, f"{where}|{index}", own=f"{base}Object")
            else:
                member_type, _ = self.type_of(member, raw or f"{hint} {index}", f"{where}|{index}")
            member_name = get_named_type(member_type).name
            fields[names.claim(field_name(camel_name(raw or member_name)))] = GraphQLInputField(member_type)
            if prop_name is not None and member.at in tags and isinstance(member_type, GraphQLInputObjectType):
                self._default_tag(member_type.name, prop_name, tags[member.at])
        if not fields:
            result: GraphQLNullableInputType = self._json(where, "oneOf/anyOf has no member that could be typed")
            self.cache[node.at] = (result, True)
            return result
        return one_of

    def _default_tag(self, input_name: str, prop_name: str, value: str) -> None:
        """Give the member's discriminator property its value as the default (a String or an enum holding it)."""
        fields = self._fields.get(input_name)
        if fields is None:
            return
        json_names = self.context.binding.json_names
        for gql, field in fields.items():
            if json_names.get((input_name, gql), gql) != prop_name or field.default_value is not Undefined:
                continue
            named = get_named_type(field.type)
            if isinstance(named, GraphQLEnumType):
                back = {v: k for k, v in self.context.binding.enum_values.get(named.name, {}).items()}
                enum_name = back.get(value, value)
                if enum_name in named.values:
                    field.default_value = enum_name
            elif named.name == "String":
                field.default_value = value
