"""What a schema is, as a typed value: :class:`Kind` (object, array, enum, union, a scalar, JSON or null).

The classification follows ``$ref``, merges ``allOf``, flattens nested ``oneOf``/``anyOf`` and reads the 3.0, 3.1
and Swagger spellings of types and nullability. Object properties (``allOf`` members merged in order, later
definitions winning) are :class:`Prop` values.
"""

from __future__ import annotations

import enum
from typing import Any, NamedTuple

from stitcher._jsonref import RefError
from stitcher.openapi.context import Context, Location, Node, escape_token, schema_sections

__all__ = [
    "Classifier",
    "Kind",
    "Prop",
    "constraint_only",
    "is_json_media",
    "is_null_schema",
    "nullable",
    "plain_scalar",
    "type_list",
]


class Kind(enum.Enum):
    """What a schema translates to."""

    OBJECT = "object"
    ARRAY = "array"
    ENUM = "enum"
    UNION = "union"
    JSON = "json"
    NULL = "null"
    STRING = "String"
    INT = "Int"
    FLOAT = "Float"
    BOOLEAN = "Boolean"
    BIG_INT = "BigInt"

    @property
    def is_scalar(self) -> bool:
        return self in _SCALARS

    @property
    def is_composite(self) -> bool:
        return self in (Kind.OBJECT, Kind.UNION)


_SCALARS = frozenset({Kind.STRING, Kind.INT, Kind.FLOAT, Kind.BOOLEAN, Kind.BIG_INT})
_JSON_TYPES = {"string": Kind.STRING, "number": Kind.FLOAT, "boolean": Kind.BOOLEAN, "file": Kind.STRING}


class Prop(NamedTuple):
    """A property of an object schema: its JSON name, its schema and whether the object requires it."""

    json_name: str
    node: Node
    required: bool


def type_list(value: dict[str, Any]) -> tuple[list[str], bool]:
    """The JSON types a schema allows (without ``null``) and whether it is nullable (3.0, 3.1 and Swagger forms)."""
    raw = value.get("type")
    if raw.__class__ is str and raw != "null" and "nullable" not in value and "x-nullable" not in value:
        enum_values = value.get("enum")
        if not (isinstance(enum_values, list) and None in enum_values):
            return [raw], False  # the common case, `type: string`, without building lists to filter
    types = [t for t in raw if isinstance(t, str)] if isinstance(raw, list) else [raw] if isinstance(raw, str) else []
    is_nullable = value.get("nullable") is True or value.get("x-nullable") is True or "null" in types
    enum_values = value.get("enum")
    if isinstance(enum_values, list) and None in enum_values:
        is_nullable = True
    return [t for t in types if t != "null"], is_nullable


def nullable(value: dict[str, Any]) -> bool:
    if type_list(value)[1]:
        return True
    members = value.get("oneOf") or value.get("anyOf")
    return isinstance(members, list) and any(is_null_schema(m) for m in members)


def is_null_schema(value: Any) -> bool:
    return isinstance(value, dict) and (value.get("type") == "null" or ("const" in value and value["const"] is None))


def constraint_only(value: Any) -> bool:
    """True for allOf members that add only validation keywords, ``required`` or docs (``type: object`` allowed)."""
    keys = ("properties", "items", "allOf", "oneOf", "anyOf", "enum", "const", "$ref", "additionalProperties")
    return isinstance(value, dict) and value.get("type", "object") == "object" and not any(k in value for k in keys)


def is_json_media(media: str) -> bool:
    media = media.split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json") or media == "*/*"


def scalar_of_value(value: Any) -> Kind:
    if isinstance(value, bool):
        return Kind.BOOLEAN
    if isinstance(value, int):
        return Kind.INT
    if isinstance(value, float):
        return Kind.FLOAT
    return Kind.STRING if isinstance(value, str) else Kind.JSON


def members_of(node: Node) -> list[Node]:
    """The raw ``oneOf`` (else ``anyOf``) members of a schema, located."""
    for key in ("oneOf", "anyOf"):
        found = node.value.get(key)
        if found:
            return [node.child(key, i) for i in range(len(found))] if isinstance(found, list) else []
    return []


def all_of(node: Node) -> list[Node]:
    found = node.value.get("allOf")
    return [node.child("allOf", i) for i in range(len(found))] if isinstance(found, list) else []


class Classifier:
    """Classifies schemas (memoised by location) and lists object properties and union members."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self._kinds: dict[Location, Kind] = {}
        self._prop_lists: dict[Location, list[Prop]] = {}
        self._member_lists: dict[Location, list[Node]] = {}
        self._children: dict[Location, list[Node]] | None = None

    # Polymorphism by inheritance (Swagger's style): a base schema with a ``discriminator`` that other named schemas
    # include through ``allOf``, directly or through another subtype (Lion -> Cat -> Pet).

    def subtypes(self, node: Node) -> list[Node]:
        """The named schemas that extend ``node`` through ``allOf``, transitively, when ``node`` has a discriminator
        (in document order, nearest first)."""
        if not isinstance(node.value, dict) or not node.value.get("discriminator"):
            return []
        children = self._child_index()
        found: list[Node] = []
        seen = {node.at}
        queue = list(children.get(node.at, []))
        while queue:
            child = queue.pop(0)
            if child.at in seen:
                continue
            seen.add(child.at)
            found.append(child)
            queue.extend(children.get(child.at, []))
        return found

    def claims_itself(self, node: Node) -> bool:
        """Whether answers of a base's own kind exist (then it needs a concrete type of its own): its own
        ``x-ms-discriminator-value``, an explicit ``mapping`` entry that refers to it, or, without a mapping, its
        own name, which Swagger 2 and OpenAPI 3's implicit mapping make a valid discriminator value too."""
        azure = node.value.get("x-ms-discriminator-value")
        if isinstance(azure, str | int | float | bool):
            return True
        raw = node.value.get("discriminator")
        mapping = raw.get("mapping") if isinstance(raw, dict) else None
        if not isinstance(mapping, dict) or not mapping:
            return node.at in self.context.component_raw
        for ref in mapping.values():
            ref_text = str(ref) if "/" in str(ref) or "#" in str(ref) else self.context.component_ref(str(ref))
            try:
                target, _ = self.context.follow(Node({"$ref": ref_text}, node.at, node.ref_doc))
            except RefError:
                continue
            if target.at == node.at:
                return True
        return False

    def ancestors(self, node: Node) -> list[Node]:
        """The schemas ``node`` includes through ``allOf``, transitively (refs followed, nearest first)."""
        found: list[Node] = []
        seen = {node.at}
        queue = [node]
        while queue:
            current = queue.pop(0)
            for member in all_of(current):
                try:
                    target, _ = self.context.follow(member)
                except RefError:
                    continue
                if isinstance(target.value, dict) and target.at not in seen and not target.too_deep:
                    seen.add(target.at)
                    found.append(target)
                    queue.append(target)
        return found

    def _child_index(self) -> dict[Location, list[Node]]:
        if self._children is None:
            index: dict[Location, list[Node]] = {}
            for doc_key, document in list(self.context.refs.documents.items()):
                for prefix, section in schema_sections(document):
                    for raw, candidate in section.items():
                        if not isinstance(candidate, dict) or not isinstance(candidate.get("allOf"), list):
                            continue
                        located = Node(candidate, Location(doc_key, f"{prefix}/{escape_token(str(raw))}"), doc_key)
                        for member in all_of(located):
                            try:
                                target, _ = self.context.follow(member)
                            except RefError:
                                continue
                            if isinstance(target.value, dict) and target.at != located.at:
                                index.setdefault(target.at, []).append(located)
            self._children = index
        return self._children

    def discriminator_property(self, node: Node) -> str | None:
        raw = node.value.get("discriminator") if isinstance(node.value, dict) else None
        name = raw if isinstance(raw, str) else raw.get("propertyName") if isinstance(raw, dict) else None
        return name if isinstance(name, str) else None

    def discriminator_values(self, node: Node, members: list[Node]) -> list[tuple[str, Location]]:
        """The discriminator values of ``node`` (a union or a base with subtypes) and the member each names, by
        precedence: the explicit ``mapping``, then Azure's ``x-ms-discriminator-value``, then a discriminator
        property pinned to one value (``const``, one-valued ``enum``), then the member's schema name. Weakest
        first: where two give one value, the later one counts."""
        prop_name = self.discriminator_property(node)
        context = self.context
        locations = {m.at for m in members}
        values: list[tuple[str, Location]] = []
        if prop_name is None:
            return values
        for member in members:  # weakest first: later assignments win
            raw_name = context.component_raw.get(member.at)
            if raw_name is not None:
                values.append((raw_name, member.at))
        for member in members:
            for prop in self.props(member):
                if prop.json_name != prop_name:
                    continue
                try:
                    target, _ = context.follow(prop.node)
                except RefError:
                    continue
                pinned = target.value
                if isinstance(pinned, dict) and "const" in pinned:
                    values.append((str(pinned["const"]), member.at))
                elif isinstance(pinned, dict) and isinstance(pinned.get("enum"), list) and len(pinned["enum"]) == 1:
                    values.append((str(pinned["enum"][0]), member.at))
        for member in members:
            azure = member.value.get("x-ms-discriminator-value") if isinstance(member.value, dict) else None
            if isinstance(azure, str | int | float | bool):
                values.append((str(azure), member.at))
        raw = node.value.get("discriminator")
        explicit = raw.get("mapping") if isinstance(raw, dict) else None
        if isinstance(explicit, dict):
            for value, ref in explicit.items():
                ref_text = str(ref) if "/" in str(ref) or "#" in str(ref) else context.component_ref(str(ref))
                try:
                    target, _ = context.follow(Node({"$ref": ref_text}, node.at, node.ref_doc))
                except RefError as exc:
                    context.warn(f"discriminator mapping {value!r}: {exc}")
                    continue
                if target.at in locations:
                    values.append((str(value), target.at))
                else:
                    context.warn(f"discriminator mapping {value!r} -> {ref}: not one of the oneOf/anyOf members")
        return values

    def members(self, node: Node, seen: frozenset[Location] = frozenset()) -> list[Node]:
        """The oneOf/anyOf members of a schema, refs followed, nested unions flattened, null members dropped
        (memoised for top-level calls: classification, unwrapping and both type directions ask for them)."""
        if seen:
            return self._members(node, seen)
        found = self._member_lists.get(node.at)
        if found is None:
            found = self._member_lists[node.at] = self._members(node, seen)
        return found

    def _members(self, node: Node, seen: frozenset[Location]) -> list[Node]:
        out: list[Node] = []
        seen = seen | {node.at}
        for member in members_of(node):
            try:
                target, _ = self.context.follow(member)
            except RefError as exc:  # stands as a free-form member, which makes the whole union JSON
                self.context.warn(f"oneOf/anyOf member: {exc}")
                target = self.context.synthetic({})
            if is_null_schema(target.value) or target.at in seen or target.too_deep:
                continue  # a union that lists itself adds nothing
            value = target.value
            if isinstance(value, dict) and ("oneOf" in value or "anyOf" in value) and "properties" not in value:
                known = {o.at for o in out}
                out.extend(m for m in self.members(target, seen) if m.at not in known)
            elif all(target.at != o.at for o in out):
                out.append(target)
        return out

    def kind(self, node: Node, stack: tuple[Location, ...] = ()) -> Kind:
        """What ``node`` translates to."""
        if stack:
            return self._kind(node, stack)
        if node.at not in self._kinds:  # memoised for top-level calls only: inside a cycle it depends on the path
            self._kinds[node.at] = self._kind(node, ())
        return self._kinds[node.at]

    def _kind(self, node: Node, stack: tuple[Location, ...]) -> Kind:
        try:
            node, _ = self.context.follow(node)
        except RefError:
            return Kind.JSON
        value = node.value
        if not isinstance(value, dict) or node.too_deep:
            return Kind.JSON
        if node.at in stack:
            return Kind.OBJECT
        stack = (*stack, node.at)
        if is_null_schema(value):
            return Kind.NULL
        if "allOf" in value:
            parts = [self.kind(m, stack) for m in all_of(node) if not constraint_only(m.value)]
            if value.get("properties") or (parts and all(p is Kind.OBJECT for p in parts)):
                return Kind.OBJECT if all(p is Kind.OBJECT for p in parts) else Kind.JSON
            return parts[0] if len(parts) == 1 else Kind.JSON
        if "oneOf" in value or "anyOf" in value:
            kinds = [self.kind(m, stack) for m in self.members(node)]
            if len(kinds) == 1:
                return kinds[0]
            if kinds and all(k.is_composite for k in kinds):
                return Kind.UNION
            scalars = set(kinds)
            if scalars == {Kind.INT, Kind.FLOAT}:
                return Kind.FLOAT
            if len(scalars) == 1 and kinds[0].is_scalar:
                return kinds[0]
            return Kind.JSON
        if "const" in value:
            return scalar_of_value(value["const"])
        types, _ = type_list(value)
        enum_values = value.get("enum")
        if isinstance(enum_values, list):
            values = [v for v in enum_values if v is not None]
            if values and all(isinstance(v, str) for v in values):
                return Kind.ENUM
            scalars = {scalar_of_value(v) for v in values}
            if len(scalars) == 1:
                return scalars.pop()
            return Kind.FLOAT if scalars == {Kind.INT, Kind.FLOAT} else Kind.JSON
        if not types:
            if isinstance(value.get("properties"), dict) and value["properties"]:
                return Kind.OBJECT
            return Kind.ARRAY if "items" in value else Kind.JSON
        if len(types) > 1:
            return Kind.FLOAT if set(types) == {"integer", "number"} else Kind.JSON
        return _kind_of_type(types[0], value)

    def props(self, node: Node, stack: tuple[Location, ...] = ()) -> list[Prop]:
        """All properties of an object schema, allOf members merged in order (later definitions win)."""
        if stack:
            return self._props(node, stack)
        found = self._prop_lists.get(node.at)  # memoised for top-level calls, as kind() is
        if found is None:
            found = self._prop_lists[node.at] = self._props(node, ())
        return found

    def _props(self, node: Node, stack: tuple[Location, ...]) -> list[Prop]:
        merged: dict[str, Prop] = {}
        required: set[str] = set()
        stack = (*stack, node.at)
        value = node.value
        for member in all_of(node):
            try:
                target, _ = self.context.follow(member)
            except RefError:
                continue  # the allOf as a whole is typed as JSON (kind() says so); nothing to merge
            if isinstance(target.value, dict) and target.at not in stack and not target.too_deep:
                for prop in self.props(target, stack):
                    merged[prop.json_name] = prop
                    if prop.required:
                        required.add(prop.json_name)
                if isinstance(target.value.get("required"), list):  # a member may require what another defines
                    required.update(str(r) for r in target.value["required"])
        if isinstance(value.get("required"), list):
            required.update(str(r) for r in value["required"])
        properties = value.get("properties")
        if isinstance(properties, dict):
            for raw in properties:
                merged[str(raw)] = Prop(str(raw), node.child("properties", raw), False)
        return [Prop(p.json_name, p.node, p.json_name in required) for p in merged.values()]

    def flag(self, prop: Prop, flag: str) -> bool:
        """Whether the property or the schema it refers to sets ``flag`` (``readOnly``, ``deprecated``...)."""
        own = prop.node.value
        if not isinstance(own, dict):
            return False
        if own.get(flag) is True:
            return True
        if "$ref" not in own:
            return False
        try:
            target, _ = self.context.follow(prop.node)
        except RefError:
            return False
        return isinstance(target.value, dict) and target.value.get(flag) is True

    def wrapped(self, node: Node) -> Node | None:
        """The one schema that an ``allOf``/``oneOf``/``anyOf`` wrapper (no own properties) stands for, if any."""
        value = node.value
        if value.get("properties"):
            return None
        if "allOf" in value:
            parts = [m for m in all_of(node) if not constraint_only(m.value)]
            # A member that only adds ``required`` changes the type: merge instead of reusing the one named schema.
            adds_required = any(isinstance(m, dict) and m.get("required") for m in [value, *value["allOf"]])
            return parts[0] if len(parts) == 1 and not adds_required else None
        if "oneOf" in value or "anyOf" in value:
            try:
                members = self.members(node)
            except RefError:
                return None
            return members[0] if len(members) == 1 else None
        return None


# What makes a schema more than its ``type``: with none of these, a scalar ``type`` alone decides what it is.
_STRUCTURAL = frozenset(
    {"$ref", "allOf", "oneOf", "anyOf", "enum", "const", "properties", "items", "nullable", "x-nullable"}
)
_PLAIN_TYPES = frozenset({"string", "integer", "number", "boolean", "file"})


def plain_scalar(value: dict[str, Any]) -> Kind | None:
    """The scalar a schema is when nothing but its one scalar ``type`` (and ``format``, docs, validation keywords)
    says what it is, as :meth:`Classifier.kind` would find, without its walk; else None. Most properties of a real
    spec are such schemas (``{type: string}``)."""
    json_type = value.get("type")
    if json_type.__class__ is not str or json_type not in _PLAIN_TYPES or not _STRUCTURAL.isdisjoint(value):
        return None
    return _kind_of_type(json_type, value)


def _kind_of_type(json_type: str, value: dict[str, Any]) -> Kind:
    if json_type == "object":
        return Kind.OBJECT if isinstance(value.get("properties"), dict) and value["properties"] else Kind.JSON
    if json_type == "array":
        return Kind.ARRAY
    if json_type == "integer":
        return Kind.BIG_INT if value.get("format") == "int64" else Kind.INT
    return _JSON_TYPES.get(json_type, Kind.JSON)
