"""Output types: object schemas as object types, ``oneOf``/``anyOf`` of objects as unions, a base schema with a
``discriminator`` that others extend through ``allOf`` (Swagger's inheritance) as an interface they implement, and
the :class:`~stitcher.ir.Discriminator` that tells the REST shaper which concrete type a JSON object is."""

from __future__ import annotations

from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLNullableOutputType,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLUnionType,
)

from stitcher.ir import Discriminator
from stitcher.openapi.building import TypeBuilder, why_json
from stitcher.openapi.classification import Classifier, Kind, Prop, nullable, type_list
from stitcher.openapi.context import Context, Location, Node
from stitcher.openapi.leaves import Leaves
from stitcher.openapi.names import assign, field_name, pascal_name

__all__ = ["OutputTypes"]

_Built = tuple[GraphQLObjectType, Node | None]  # an object type and the schema it came from (None: unknown)


class OutputTypes(TypeBuilder[GraphQLNullableOutputType]):
    def __init__(self, context: Context, classifier: Classifier, leaves: Leaves) -> None:
        super().__init__(context, classifier, leaves)
        self.extra_types: list[GraphQLObjectType] = []  # implementations of interfaces, reachable or not
        self._subtype_index: dict[Location, list[Node]] | None = None
        self._pending_interfaces: list[tuple[GraphQLInterfaceType, Node, list[_Built]]] = []
        self._implementations: list[tuple[GraphQLObjectType, dict[str, GraphQLField], list[GraphQLInterfaceType]]] = []
        self._raw_fields: dict[str, dict[str, GraphQLField]] = {}

    def build(self, node: Node, hint: str, where: str, ref_nullable: bool) -> tuple[GraphQLNullableOutputType, bool]:
        context = self.context
        hint = context.component_raw.get(node.at, hint)
        is_nullable = nullable(node.value) or ref_nullable
        wrapped = self.classifier.wrapped(node)
        if wrapped is not None:
            inner, inner_nullable = self.type_of(wrapped, hint, where)
            return inner, is_nullable or inner_nullable
        kind = self.classifier.kind(node)
        result: GraphQLNullableOutputType
        if kind is Kind.OBJECT and node.at in context.component_names and self._subtypes(node):
            return self._interface(node, where), is_nullable
        if kind is Kind.OBJECT:
            return self._object(node, hint, where), is_nullable
        if kind is Kind.UNION:
            return self._union(node, hint, where), is_nullable
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
        elif kind is Kind.NULL:
            return self._json(where, "schema only allows null"), True
        else:
            return self._json(where, why_json(node.value)), is_nullable
        self.cache[node.at] = (result, is_nullable)
        return result, is_nullable

    def _readable(self, node: Node) -> list[Prop]:
        return [p for p in self.classifier.props(node) if not self.classifier.flag(p, "writeOnly")]

    def _object(self, node: Node, hint: str, where: str) -> GraphQLNullableOutputType:
        props = self._readable(node)
        name = self.context.component_names.get(node.at)
        if name is None or (name.endswith("Input") and len(name) > 5):
            name = self.context.types.claim(pascal_name(hint) + ("Object" if name else ""))
        if not props:
            result: GraphQLNullableOutputType = self._json(where, "object has no readable properties")
            self.cache[node.at] = (result, True)
            return result
        fields: dict[str, GraphQLField] = {}
        interfaces: list[GraphQLInterfaceType] = []
        object_type = GraphQLObjectType(
            name, lambda: fields, interfaces=lambda: interfaces, description=node.value.get("description")
        )
        self.cache[node.at] = (object_type, type_list(node.value)[1])
        self._fill_fields(name, props, fields)
        interfaces.extend(self._implemented(node, name))
        if interfaces:
            self._implementations.append((object_type, fields, interfaces))
        return object_type

    def _fill_fields(self, name: str, props: list[Prop], fields: dict[str, GraphQLField]) -> None:
        for prop, gql in zip(props, assign([p.json_name for p in props], field_name), strict=True):
            base_type, prop_nullable = self.type_of(prop.node, f"{name} {prop.json_name}", f"{name}.{prop.json_name}")
            prop_type: GraphQLOutputType = base_type
            if prop.required and not prop_nullable:
                prop_type = GraphQLNonNull(base_type)
            value = prop.node.value
            description = value.get("description") if isinstance(value, dict) else None
            deprecated = "Deprecated in the OpenAPI description." if self.classifier.flag(prop, "deprecated") else None
            fields[gql] = GraphQLField(prop_type, description=description, deprecation_reason=deprecated)
            if gql != prop.json_name:
                self.context.binding.json_names[(name, gql)] = prop.json_name

    # Polymorphism by inheritance (Swagger's style): a base schema with a ``discriminator`` that other schemas
    # include through ``allOf`` becomes an interface, and those schemas implement it.

    def _subtypes(self, node: Node) -> list[Node]:
        return self.classifier.subtypes(node)

    def _interface(self, node: Node, where: str) -> GraphQLNullableOutputType:
        props = self._readable(node)
        name = self.context.component_names[node.at]
        fields: dict[str, GraphQLField] = {}
        interface = GraphQLInterfaceType(name, lambda: fields, description=node.value.get("description"))
        self._raw_fields[name] = fields
        self.cache[node.at] = (interface, type_list(node.value)[1])
        self._fill_fields(name, props, fields)
        built: list[_Built] = []
        if self.classifier.claims_itself(node):  # the base is concrete too: an object type stands for it
            own: dict[str, GraphQLField] = {}
            base_object = GraphQLObjectType(
                self.context.types.claim(f"{name}Object"),
                lambda: own,
                interfaces=[interface],
                description=node.value.get("description"),
            )
            self._fill_fields(base_object.name, props, own)
            built.append((base_object, node))
        for sub in self._subtypes(node):
            sub_type, _ = self.type_of(sub, self.context.component_raw.get(sub.at, name), where)
            if isinstance(sub_type, GraphQLObjectType):
                built.append((sub_type, sub))
        # A subtype may still be under construction here: finish_interfaces() reads its interfaces later.
        self._pending_interfaces.append((interface, node, built))
        return interface

    def _implemented(self, node: Node, name: str) -> list[GraphQLInterfaceType]:
        """The interfaces of the bases ``node`` extends, directly or through other subtypes."""
        found: list[GraphQLInterfaceType] = []
        for target in self.classifier.ancestors(node):
            if (
                not isinstance(target.value, dict)
                or not self._subtypes(target)
                or target.at not in self.context.component_names
            ):
                continue
            interface, _ = self.type_of(target, "", name)
            if isinstance(interface, GraphQLInterfaceType):
                found.append(interface)
        return found

    def finish_interfaces(self) -> None:
        """Check each implementation against its interface's fields, then record discriminators.

        Runs after translation: until then types are under construction, and reading ``.fields`` or
        ``.interfaces`` of a graphql-core type would freeze a partial value.
        """
        for object_type, fields, interfaces in self._implementations:
            for interface in list(interfaces):
                expected = self._raw_fields[interface.name]
                clashes = [
                    f
                    for f, definition in expected.items()
                    if f not in fields or str(fields[f].type) not in (str(definition.type), f"{definition.type}!")
                ]
                if clashes:
                    interfaces.remove(interface)
                    joined = ", ".join(clashes)
                    self.context.warn(
                        f"{object_type.name} redefines {joined} of {interface.name}; it does not implement it"
                    )
        for interface, node, candidates in self._pending_interfaces:
            built = [c for c in candidates if interface in c[0].interfaces]
            self.extra_types.extend(c[0] for c in built)
            self.context.binding.discriminators[interface.name] = self._discriminator(node, built)

    def _union(self, node: Node, hint: str, where: str) -> GraphQLNullableOutputType:
        members = self.classifier.members(node)
        built: list[_Built] = []
        for index, member in enumerate(members, start=1):
            member_type, _ = self.type_of(member, f"{hint} {index}", f"{where}|{index}")
            if isinstance(member_type, GraphQLObjectType):
                if all(member_type is not t for t, _ in built):
                    built.append((member_type, member))
            elif isinstance(member_type, GraphQLUnionType):
                built.extend((t, None) for t in member_type.types if all(t is not b for b, _ in built))
        if node.at in self.cache:  # a member referred back to this union and built it already
            return self.cache[node.at][0]
        if not built:
            return self._json(where, "oneOf/anyOf has no object member that could be typed")
        if len(built) == 1:
            self.cache[node.at] = (built[0][0], True)
            return built[0][0]
        name = self.context.component_names.get(node.at) or self.context.types.claim(pascal_name(hint))
        union = GraphQLUnionType(name, [t for t, _ in built], description=node.value.get("description"))
        self.cache[node.at] = (union, type_list(node.value)[1])
        self.context.binding.discriminators[name] = self._discriminator(node, built)
        return union

    def _discriminator(self, node: Node, built: list[_Built]) -> Discriminator:
        required: dict[str, frozenset[str]] = {}
        by_location = {member.at: t.name for t, member in built if member is not None}
        for object_type, member in built:
            if member is not None:
                props = self.classifier.props(member)
                required[object_type.name] = frozenset(p.json_name for p in props if p.required)
        members = [member for _, member in built if member is not None]
        values = self.classifier.discriminator_values(node, members)
        mapping = {value: by_location[at] for value, at in values}  # later (stronger) claims win
        return Discriminator(self.classifier.discriminator_property(node), mapping=mapping, required=required)
