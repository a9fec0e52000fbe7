"""Apollo Federation v2 subgraphs: SDL with ``@key``, ``@external``, ``@requires``, ... -> :class:`Subgraph`.

The subgraph's schema is the service's own types only: the federation machinery (``_Any``, ``FieldSet``,
``_Service``, ``_Entity``, ``Query._entities``/``_service``, the directive definitions) is validated against but
left out, and the directives are recorded in the IR (keys, :class:`FieldDirectives`, interface objects).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from graphql import (
    ArgumentNode,
    BooleanValueNode,
    ConstDirectiveNode,
    DefinitionNode,
    DirectiveDefinitionNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    EnumTypeExtensionNode,
    FieldDefinitionNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    InputObjectTypeDefinitionNode,
    InputObjectTypeExtensionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
    ListValueNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    ObjectValueNode,
    OperationDefinitionNode,
    ScalarTypeDefinitionNode,
    ScalarTypeExtensionNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    SelectionSetNode,
    StringValueNode,
    TypeDefinitionNode,
    TypeExtensionNode,
    UnionTypeDefinitionNode,
    UnionTypeExtensionNode,
    build_ast_schema,
    get_named_type,
    is_interface_type,
    is_object_type,
    is_union_type,
    parse,
    print_ast,
)
from graphql.validation.validate import validate_sdl

from stitcher.errors import SchemaError
from stitcher.ir import SCHEMA_COORDINATE, EntityKey, FieldDirectives, SourceKind, Subgraph
from stitcher.sources import SourceSpec

__all__ = [
    "FEDERATION_TYPE_NAMES",
    "field_set_fields",
    "format_graphql_error",
    "parse_field_set",
    "print_field_set",
    "subgraph_from_federation",
]

# The definitions a Federation v2 subgraph may use without defining them. Each directive is also available as
# ``@federation__<name>`` (how @link exposes names that were not imported).
_PRELUDE_TYPES = """
scalar FieldSet
scalar federation__FieldSet
scalar _FieldSet
scalar _Any
scalar link__Import
scalar federation__Scope
scalar federation__Policy
enum link__Purpose { SECURITY EXECUTION }
"""
_LOCATIONS_ALL = (
    "SCHEMA | SCALAR | OBJECT | FIELD_DEFINITION | ARGUMENT_DEFINITION | INTERFACE | UNION | ENUM | ENUM_VALUE"
    " | INPUT_OBJECT | INPUT_FIELD_DEFINITION"
)
_PRELUDE_DIRECTIVES = {
    "key": "(fields: FieldSet!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE",
    "requires": "(fields: FieldSet!) on FIELD_DEFINITION",
    "provides": "(fields: FieldSet!) on FIELD_DEFINITION",
    "external": "(reason: String) on OBJECT | FIELD_DEFINITION",
    "shareable": " repeatable on OBJECT | FIELD_DEFINITION",
    "override": "(from: String!, label: String) on FIELD_DEFINITION",
    "inaccessible": f" on {_LOCATIONS_ALL}",
    "interfaceObject": " on OBJECT",
    "tag": f"(name: String!) repeatable on {_LOCATIONS_ALL}",
    "composeDirective": "(name: String!) repeatable on SCHEMA",
    "extends": " on OBJECT | INTERFACE",
    "authenticated": " on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM",
    "requiresScopes": "(scopes: [[federation__Scope!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM",
    "policy": "(policies: [[federation__Policy!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM",
    "cost": "(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | INPUT_FIELD_DEFINITION | OBJECT"
    " | SCALAR",
    "listSize": "(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!],"
    " requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION",
}
_LINK_DIRECTIVE = "(url: String!, as: String, import: [link__Import], for: link__Purpose) repeatable on SCHEMA"

# Types that belong to the federation machinery, never to the product.
FEDERATION_TYPE_NAMES = frozenset(
    {
        "FieldSet",
        "federation__FieldSet",
        "_FieldSet",
        "_Any",
        "link__Import",
        "link__Purpose",
        "federation__Scope",
        "federation__Policy",
        "_Service",
        "_Entity",
    }
)
_ROOT_FIELDS = frozenset({"_entities", "_service"})


def format_graphql_error(error: GraphQLError) -> str:
    """``message (line L, column C)``: the error with where it is, without graphql-core's source excerpt."""
    where = ", ".join(f"line {loc.line}, column {loc.column}" for loc in error.locations or ())
    return f"{error.message} ({where})" if where else error.message


# --- field sets (the selection sets in @key, @requires, @provides) ------------------------------------------------


@functools.lru_cache(maxsize=4096)
def parse_field_set(field_set: str) -> SelectionSetNode:
    """Parse a field set such as ``"id org { id }"`` (cached: the AST is immutable); raises GraphQLSyntaxError."""
    document = parse(f"{{{field_set}}}", no_location=True)
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return operation.selection_set


def print_field_set(selection_set: SelectionSetNode) -> str:
    """The compact one-line form of a field set: ``id org { id } ... on Book { isbn }``."""
    parts: list[str] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            text = f"{selection.alias.value}: {selection.name.value}" if selection.alias else selection.name.value
            if selection.selection_set:
                text += f" {{ {print_field_set(selection.selection_set)} }}"
        elif isinstance(selection, InlineFragmentNode):
            condition = f" on {selection.type_condition.name.value}" if selection.type_condition else ""
            text = f"...{condition} {{ {print_field_set(selection.selection_set)} }}"
        else:  # fragment spreads are not allowed in field sets
            raise GraphQLSyntaxError(None, 0, "field sets cannot use named fragments")  # type: ignore[arg-type]
        parts.append(text)
    return " ".join(parts)


def field_set_fields(schema: GraphQLSchema, type_name: str, field_set: str) -> list[tuple[str, str]]:
    """Every ``(type, field)`` a field set selects, walking nested selections; raises ValueError naming a field
    that does not exist (or a field set that does not parse)."""
    try:
        selection_set = parse_field_set(field_set)
    except GraphQLError as exc:
        raise ValueError(f'field set "{field_set}" does not parse: {exc.message}') from exc
    found: list[tuple[str, str]] = []
    _walk_field_set(schema, type_name, selection_set, found, field_set)
    return found


def _walk_field_set(
    schema: GraphQLSchema, type_name: str, selection_set: SelectionSetNode, found: list[tuple[str, str]], text: str
) -> None:
    parent = schema.get_type(type_name)
    if not (is_object_type(parent) or is_interface_type(parent) or is_union_type(parent)):
        raise ValueError(f'field set "{text}": type {type_name} has no fields')
    for selection in selection_set.selections:
        if isinstance(selection, InlineFragmentNode):
            target = selection.type_condition.name.value if selection.type_condition else type_name
            _walk_field_set(schema, target, selection.selection_set, found, text)
            continue
        assert isinstance(selection, FieldNode)
        name = selection.name.value
        if name == "__typename":
            continue
        fields = getattr(parent, "fields", {})
        if name not in fields:
            raise ValueError(f'field set "{text}": {type_name}.{name} does not exist')
        found.append((type_name, name))
        if selection.selection_set:
            _walk_field_set(schema, get_named_type(fields[name].type).name, selection.selection_set, found, text)


# --- directives ------------------------------------------------------------------------------------------------------


def _argument(node: ConstDirectiveNode, name: str) -> Any:
    argument: ArgumentNode
    for argument in node.arguments or ():
        if argument.name.value == name:
            value = argument.value
            if isinstance(value, StringValueNode):
                return value.value
            if isinstance(value, BooleanValueNode):
                return value.value
            if isinstance(value, ListValueNode):
                return [v.value for v in value.values if isinstance(v, StringValueNode)]
            return None
    return None


_TypeNode = (
    ObjectTypeDefinitionNode | ObjectTypeExtensionNode | InterfaceTypeDefinitionNode | InterfaceTypeExtensionNode
)
_OBJECT_LIKE = (
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
)
_EXTENSION_TO_DEFINITION: dict[type[Any], type[Any]] = {
    ObjectTypeExtensionNode: ObjectTypeDefinitionNode,
    InterfaceTypeExtensionNode: InterfaceTypeDefinitionNode,
    UnionTypeExtensionNode: UnionTypeDefinitionNode,
    EnumTypeExtensionNode: EnumTypeDefinitionNode,
    InputObjectTypeExtensionNode: InputObjectTypeDefinitionNode,
    ScalarTypeExtensionNode: ScalarTypeDefinitionNode,
}


def _definitions_for_extensions(definitions: Sequence[DefinitionNode]) -> tuple[list[DefinitionNode], set[str]]:
    """Federation lets a subgraph ``extend type Product`` that it never defines: make the first such extension the
    definition, as Apollo's subgraph libraries do."""
    defined = {d.name.value for d in definitions if isinstance(d, TypeDefinitionNode)}
    out: list[DefinitionNode] = []
    extended: set[str] = set()
    for definition in definitions:
        if isinstance(definition, TypeExtensionNode) and definition.name.value not in defined:
            definition_class = _EXTENSION_TO_DEFINITION[type(definition)]
            values = {k: getattr(definition, k) for k in definition.keys}
            definition = definition_class(description=None, **values)
            defined.add(definition.name.value)
            extended.add(definition.name.value)
        out.append(definition)
    return out, extended


def _strip_machinery(definitions: Sequence[DefinitionNode], directive_names: frozenset[str]) -> list[DefinitionNode]:
    """The service's own definitions: no federation types, directive definitions, ``_entities``/``_service``."""
    out: list[DefinitionNode] = []
    for definition in definitions:
        if isinstance(definition, DirectiveDefinitionNode) and (
            definition.name.value in directive_names or definition.name.value == "link"
        ):
            continue
        if isinstance(definition, TypeDefinitionNode | TypeExtensionNode):
            if definition.name.value in FEDERATION_TYPE_NAMES:
                continue
            if isinstance(definition, ObjectTypeDefinitionNode | ObjectTypeExtensionNode) and definition.fields:
                fields = tuple(f for f in definition.fields if f.name.value not in _ROOT_FIELDS)
                if len(fields) != len(definition.fields):
                    if not fields:
                        continue
                    definition = dataclasses.replace(definition, fields=fields)
        if isinstance(definition, SchemaExtensionNode) and not definition.operation_types:
            continue
        out.append(definition)
    return out


def _user_defined_names(definitions: Sequence[DefinitionNode]) -> tuple[set[str], set[str]]:
    types = {d.name.value for d in definitions if isinstance(d, TypeDefinitionNode)}
    directives = {d.name.value for d in definitions if isinstance(d, DirectiveDefinitionNode)}
    return types, directives


def _build_schema(service: str, definitions: list[DefinitionNode]) -> tuple[GraphQLSchema, list[str]]:
    """The subgraph's schema and the warnings of its validation: what graphql-js 16 accepts is accepted (the
    draft-spec rules of graphql-core 3.3 are warnings), as Apollo's subgraph libraries run on graphql-js."""
    from stitcher.graphql_source import validate_like_graphql_js  # graphql_source imports this module

    try:
        schema = build_ast_schema(DocumentNode(definitions=tuple(definitions)), assume_valid_sdl=True)
    except (GraphQLError, TypeError) as exc:
        raise SchemaError(f"invalid schema: {exc}", service=service) from exc
    found, warnings = validate_like_graphql_js(schema)
    errors = [e for e in found if "Query root type must be provided" not in e.message]
    if errors:
        raise SchemaError(
            "invalid schema: " + "; ".join(format_graphql_error(e) for e in errors), service=service
        ) from errors[0]
    return schema, warnings


def parse_sdl(service: str, sdl: str) -> DocumentNode:
    try:
        return parse(sdl)
    except GraphQLSyntaxError as exc:
        raise SchemaError(f"SDL does not parse: {format_graphql_error(exc)}", service=service) from exc


def _link_names(definitions: Sequence[DefinitionNode]) -> dict[str, str]:
    """Directive names this subgraph may use -> federation name, from its ``@link`` to the federation spec:
    ``@link(url: ".../federation/v2.3", as: "fed", import: ["@key", {name: "@shareable", as: "@share"}])``."""
    names = {name: name for name in _PRELUDE_DIRECTIVES}
    names.update({f"federation__{name}": name for name in _PRELUDE_DIRECTIVES})
    for definition in definitions:
        if not isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
            continue
        for link in definition.directives or ():
            if link.name.value != "link" or "/federation/" not in str(_argument(link, "url") or ""):
                continue
            prefix = _argument(link, "as")
            if isinstance(prefix, str):
                names.update({f"{prefix}__{name}": name for name in _PRELUDE_DIRECTIVES})
            for argument in link.arguments or ():
                if argument.name.value != "import" or not isinstance(argument.value, ListValueNode):
                    continue
                for item in argument.value.values:
                    if isinstance(item, ObjectValueNode):
                        values = {f.name.value: f.value for f in item.fields}
                        name, alias = values.get("name"), values.get("as")
                        if isinstance(name, StringValueNode) and isinstance(alias, StringValueNode):
                            canonical = name.value.lstrip("@")
                            if canonical in _PRELUDE_DIRECTIVES:
                                names[alias.value.lstrip("@")] = canonical
    return names


def _composed_directives(
    definitions: Sequence[DefinitionNode], names: dict[str, str], defined: set[str]
) -> tuple[dict[str, str], list[str]]:
    """``@composeDirective(name: "@foo")`` on the schema: each named directive -> the URL of the (non-federation)
    ``@link`` that imports it, and the problems (a directive the subgraph does not define, or no spec imports), as
    Apollo composition refuses them."""
    linked: dict[str, str] = {}
    composed: list[str] = []
    for definition in definitions:
        if not isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
            continue
        for applied in definition.directives or ():
            if names.get(applied.name.value) == "composeDirective":
                composed.append(str(_argument(applied, "name") or ""))
            if applied.name.value != "link" or "/federation/" in str(_argument(applied, "url") or ""):
                continue
            url = str(_argument(applied, "url") or "")
            parts = url.rstrip("/").rsplit("/", 2)
            prefix = _argument(applied, "as") or (parts[-2] if len(parts) == 3 else url)
            for argument in applied.arguments or ():
                if argument.name.value == "import" and isinstance(argument.value, ListValueNode):
                    for item in argument.value.values:
                        if isinstance(item, StringValueNode):
                            linked[item.value.lstrip("@")] = url
                        elif isinstance(item, ObjectValueNode):
                            values = {f.name.value: f.value for f in item.fields}
                            alias = values.get("as") or values.get("name")
                            if isinstance(alias, StringValueNode):
                                linked[alias.value.lstrip("@")] = url
            linked.update({name: url for name in defined if name.startswith(f"{prefix}__")})
    out: dict[str, str] = {}
    problems: list[str] = []
    for given in composed:
        name = given.lstrip("@")
        where = f'@composeDirective(name: "{given}")'
        if not given.startswith("@") or not name:
            problems.append(f'{where}: name a directive with its "@" ("@{name or "foo"}")')
        elif name in names or name in ("link", "deprecated", "specifiedBy", "oneOf", "include", "skip"):
            problems.append(f"{where}: @{name} is a built-in or federation directive; compose only your own")
        elif name not in defined:
            problems.append(f"{where}: the subgraph defines no directive @{name}")
        elif name not in linked:
            problems.append(
                f"{where}: @{name} is not imported from a spec; link it first, e.g. extend schema "
                f'@link(url: "https://specs.example.com/{name}/v1.0", import: ["@{name}"])'
            )
        else:
            out[name] = linked[name]
    return out, problems


@functools.lru_cache(maxsize=64)
def _prelude_for(names: frozenset[tuple[str, str]]) -> tuple[DefinitionNode, ...]:
    lines = [_PRELUDE_TYPES, f"directive @link{_LINK_DIRECTIVE}"]
    lines.extend(f"directive @{alias}{_PRELUDE_DIRECTIVES[canonical]}" for alias, canonical in sorted(names))
    return tuple(parse("\n".join(lines), no_location=True).definitions)


def subgraph_from_federation(spec: SourceSpec) -> Subgraph:
    """Read a Federation v2 subgraph SDL (also Federation 1 style ``extend type``) into the IR."""
    service = spec.name
    document = parse_sdl(service, spec.schema)
    definitions, extension_types = _definitions_for_extensions(document.definitions)
    names = _link_names(definitions)
    user_types, user_directives = _user_defined_names(definitions)
    prelude = [
        d
        for d in _prelude_for(frozenset(names.items()))
        if not (isinstance(d, TypeDefinitionNode) and d.name.value in user_types)
        and not (isinstance(d, DirectiveDefinitionNode) and d.name.value in user_directives)
    ]
    sdl_errors = validate_sdl(DocumentNode(definitions=tuple(prelude + definitions)))
    if sdl_errors:
        raise SchemaError(
            "invalid SDL: " + "; ".join(format_graphql_error(e) for e in sdl_errors), service=service
        ) from sdl_errors[0]
    schema, schema_warnings = _build_schema(service, _strip_machinery(definitions, frozenset(names)))
    reader = _Reader(names)
    composed, problems = _composed_directives(definitions, names, user_directives)
    usages: dict[str, tuple[str, ...]] = {}

    keys: dict[str, list[EntityKey]] = {}
    fields: dict[tuple[str, str], FieldDirectives] = {}
    interface_objects: set[str] = set()
    inaccessible: set[str] = set()
    tags: dict[str, tuple[str, ...]] = {}

    def tag(coordinate: str, directives: Iterable[ConstDirectiveNode] | None) -> None:
        names = reader.tags(directives)
        if names:  # a type and its extensions may both be tagged
            tags[coordinate] = tuple(dict.fromkeys((*tags.get(coordinate, ()), *names)))
        keep(coordinate, directives)

    # The applications of the subgraph's own directives, composed or not: composition keeps the composed ones and
    # names the others it leaves out.
    own = user_directives - names.keys() - {"link"}

    def keep(coordinate: str, directives: Iterable[ConstDirectiveNode] | None) -> None:
        found = [print_ast(d) for d in directives or () if d.name.value in own]
        if found:
            usages[coordinate] = tuple(dict.fromkeys((*usages.get(coordinate, ()), *found)))

    for definition in definitions:
        if isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
            keep(SCHEMA_COORDINATE, definition.directives)
        elif isinstance(definition, DirectiveDefinitionNode):  # ``directive @x(a: Int @foo) on FIELD``
            for argument in definition.arguments or ():
                keep(f"@{definition.name.value}({argument.name.value}:)", argument.directives)
    type_definitions = [
        d
        for d in definitions
        if isinstance(d, TypeDefinitionNode | TypeExtensionNode) and d.name.value not in FEDERATION_TYPE_NAMES
    ]
    for definition in type_definitions:
        type_name = definition.name.value
        type_directives = definition.directives
        if reader.has(type_directives, "inaccessible"):
            inaccessible.add(type_name)
        tag(type_name, type_directives)
        if reader.has(type_directives, "extends"):
            extension_types.add(type_name)
        if isinstance(definition, EnumTypeDefinitionNode | EnumTypeExtensionNode):
            for value in definition.values or ():
                if reader.has(value.directives, "inaccessible"):
                    inaccessible.add(f"{type_name}.{value.name.value}")
                tag(f"{type_name}.{value.name.value}", value.directives)
        if isinstance(definition, InputObjectTypeDefinitionNode | InputObjectTypeExtensionNode):
            for input_field in definition.fields or ():
                if reader.has(input_field.directives, "inaccessible"):
                    inaccessible.add(f"{type_name}.{input_field.name.value}")
                tag(f"{type_name}.{input_field.name.value}", input_field.directives)
        if not isinstance(definition, _OBJECT_LIKE):
            continue
        for key in reader.find(type_directives, "key"):
            field_set = _argument(key, "fields")
            if not isinstance(field_set, str):
                problems.append(f"@key on {type_name} needs a fields string")
                continue
            try:
                field_set_fields(schema, type_name, field_set)
            except ValueError as exc:
                problems.append(f"@key on {type_name}: {exc}")
                continue
            keys.setdefault(type_name, []).append(EntityKey(field_set, _argument(key, "resolvable") is not False))
        if reader.has(type_directives, "interfaceObject"):
            interface_objects.add(type_name)

    # Federation 1 marks the key fields of an extended entity @external although the subgraph receives them in
    # every representation: like Apollo, treat those as not external.
    own_key_fields = {
        (type_name, name)
        for type_name, type_keys in keys.items()
        if type_name in extension_types
        for key in type_keys
        for name in _top_level(key.fields)
    }
    for definition in type_definitions:
        if not isinstance(definition, _OBJECT_LIKE):
            continue
        type_name = definition.name.value
        type_external = reader.has(definition.directives, "external")
        type_shareable = reader.has(definition.directives, "shareable")
        for field_node in definition.fields or ():
            field_name = field_node.name.value
            if field_name in _ROOT_FIELDS:
                continue
            directives = reader.field_directives(field_node, type_external, type_shareable)
            keep(f"{type_name}.{field_name}", field_node.directives)
            if directives.external and (type_name, field_name) in own_key_fields:
                directives = dataclasses.replace(directives, external=False)
            for argument in field_node.arguments or ():
                if reader.has(argument.directives, "inaccessible"):
                    inaccessible.add(f"{type_name}.{field_name}({argument.name.value}:)")
                tag(f"{type_name}.{field_name}({argument.name.value}:)", argument.directives)
            problems.extend(_check_field_sets(schema, type_name, field_node, directives))
            if directives != FieldDirectives():
                fields[(type_name, field_name)] = directives
    if problems:
        raise SchemaError("; ".join(problems), service=service)
    problems, warnings = _check_external(schema, keys, fields)
    if problems:
        raise SchemaError("; ".join(problems), service=service)
    return Subgraph(
        name=service,
        kind=SourceKind.FEDERATION,
        schema=schema,
        url=spec.url,
        keys={name: tuple(value) for name, value in keys.items()},
        fields=fields,
        interface_objects=frozenset(interface_objects),
        inaccessible=frozenset(inaccessible),
        tags=tags,
        warnings=[*schema_warnings, *warnings],
        composed_directives=composed,
        directive_usages=usages,
    )


def _top_level(field_set: str) -> list[str]:
    return [s.name.value for s in parse_field_set(field_set).selections if isinstance(s, FieldNode)]


def _check_external(
    schema: GraphQLSchema, keys: dict[str, list[EntityKey]], fields: dict[tuple[str, str], FieldDirectives]
) -> tuple[list[str], list[str]]:
    """@requires and @provides must name @external fields; an @external field nothing uses is suspicious."""
    problems: list[str] = []
    used: set[tuple[str, str]] = set()
    for type_name, type_keys in keys.items():
        for key in type_keys:
            used.update(field_set_fields(schema, type_name, key.fields))
    for (type_name, field_name), directives in fields.items():
        coordinate = f"{type_name}.{field_name}"
        if directives.requires:
            required = field_set_fields(schema, type_name, directives.requires)
            used.update(required)
            # A local object field may lead to external ones (``parts(first: 2) { weight }`` with ``weight``
            # @external): Apollo composes that, and the gateway fetches the nested fields where they live.
            nested_external = any(
                fields.get(pair, FieldDirectives()).external for pair in required if pair[0] != type_name
            )
            for name in _top_level(directives.requires):
                if not fields.get((type_name, name), FieldDirectives()).external and not nested_external:
                    problems.append(f"@requires on {coordinate}: {type_name}.{name} must be @external")
        if directives.provides:
            owner = schema.get_type(type_name)
            target = get_named_type(getattr(owner, "fields", {})[field_name].type).name
            used.update(field_set_fields(schema, target, directives.provides))
            for name in _top_level(directives.provides):
                if not fields.get((target, name), FieldDirectives()).external:
                    problems.append(f"@provides on {coordinate}: {target}.{name} must be @external")
    unused = sorted(
        f"{t}.{f}"
        for (t, f), d in fields.items()
        if d.external and (t, f) not in used and not _implements_one(schema, t, f)
    )
    warnings = [f"{coordinate} is @external but no @key, @requires or @provides uses it" for coordinate in unused]
    return problems, warnings


def _implements_one(schema: GraphQLSchema, type_name: str, field_name: str) -> bool:
    """An @external field may exist only to satisfy an interface the type implements."""
    owner = schema.get_type(type_name)
    return any(field_name in i.fields for i in getattr(owner, "interfaces", ()))


class _Reader:
    """Reads federation directives under the names this subgraph uses for them."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def find(self, nodes: Iterable[ConstDirectiveNode] | None, name: str) -> Iterator[ConstDirectiveNode]:
        for node in nodes or ():
            if self.names.get(node.name.value) == name:
                yield node

    def has(self, nodes: Iterable[ConstDirectiveNode] | None, name: str) -> bool:
        return any(True for _ in self.find(nodes, name))

    def tags(self, nodes: Iterable[ConstDirectiveNode] | None) -> tuple[str, ...]:
        return tuple(t for d in self.find(nodes, "tag") if isinstance(t := _argument(d, "name"), str))

    def field_directives(self, node: FieldDefinitionNode, type_external: bool, type_shareable: bool) -> FieldDirectives:
        directives = node.directives
        override = next(self.find(directives, "override"), None)
        requires = next(self.find(directives, "requires"), None)
        provides = next(self.find(directives, "provides"), None)
        return FieldDirectives(
            external=type_external or self.has(directives, "external"),
            requires=_argument(requires, "fields") if requires else None,
            provides=_argument(provides, "fields") if provides else None,
            shareable=type_shareable or self.has(directives, "shareable"),
            override_from=_argument(override, "from") if override else None,
            inaccessible=self.has(directives, "inaccessible"),
            tags=self.tags(directives),
        )


def _check_field_sets(
    schema: GraphQLSchema, type_name: str, node: FieldDefinitionNode, directives: FieldDirectives
) -> list[str]:
    problems: list[str] = []
    coordinate = f"{type_name}.{node.name.value}"
    if directives.requires is not None:
        try:
            field_set_fields(schema, type_name, directives.requires)
        except ValueError as exc:
            problems.append(f"@requires on {coordinate}: {exc}")
    if directives.provides is not None:
        parent = schema.get_type(type_name)
        field = getattr(parent, "fields", {}).get(node.name.value)
        if field is not None:
            try:
                field_set_fields(schema, get_named_type(field.type).name, directives.provides)
            except ValueError as exc:
                problems.append(f"@provides on {coordinate}: {exc}")
    return problems
