"""Plain GraphQL services (SDL or an introspection result) with merge configuration -> :class:`Subgraph`.

Merge configuration (``SourceSpec.entities``) says, per entity type, its key and the Query field that fetches it:
``Loan: {key: id, operation: loan}`` (one key per call) or ``{key: id, operation: loansByIds}`` (batched: a list
argument, results in the same order). A compound key goes to one input-object argument, or to one argument per
key field (see :func:`entity_resolver`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any, cast

from graphql import (
    ConstArgumentNode,
    ConstDirectiveNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    EnumValueDefinitionNode,
    FieldDefinitionNode,
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLType,
    GraphQLUnionType,
    InputObjectTypeDefinitionNode,
    InputValueDefinitionNode,
    InterfaceTypeDefinitionNode,
    IntrospectionQuery,
    ListTypeNode,
    NamedTypeNode,
    NameNode,
    NonNullTypeNode,
    ObjectTypeDefinitionNode,
    ScalarTypeDefinitionNode,
    StringValueNode,
    TypeDefinitionNode,
    TypeNode,
    UnionTypeDefinitionNode,
    build_ast_schema,
    build_client_schema,
    get_named_type,
    get_nullable_type,
    is_list_type,
    is_object_type,
    is_required_argument,
    is_required_input_field,
    validate_schema,
)
from graphql.utilities.get_default_value_ast import get_default_value_ast
from graphql.validation.validate import validate_sdl

from stitcher.errors import SchemaError
from stitcher.federation import field_set_fields, format_graphql_error, parse_sdl
from stitcher.ir import EntityKey, EntityResolver, SourceKind, Subgraph
from stitcher.sources import EntityConfig, SourceSpec

__all__ = [
    "SharedNodes",
    "problem_lines",
    "read_schema",
    "schema_from_text",
    "subgraph_from_graphql",
    "type_definition_node",
    "validate_like_graphql_js",
]


def schema_from_text(service: str, text: str) -> GraphQLSchema:
    """A schema from SDL or from an introspection result (``{"__schema": ...}`` or ``{"data": {"__schema": ...}}``)."""
    return read_schema(service, text)[0]


def read_schema(service: str, text: str) -> tuple[GraphQLSchema, list[str]]:
    """:func:`schema_from_text` and the warnings for what graphql-js 16 accepts but the draft spec refuses."""
    if text.lstrip().startswith("{") and '"__schema"' in text:
        return _schema_from_introspection(service, text)
    document = parse_sdl(service, text)
    errors = validate_sdl(document)
    if errors:
        raise SchemaError(_sdl_problems(document, errors), service=service) from errors[0]
    schema = build_ast_schema(DocumentNode(definitions=document.definitions), assume_valid_sdl=True)
    return schema, _validated(service, schema)


# Federation directives a plain GraphQL SDL may use only if it defines them itself.
_FEDERATION_DIRECTIVES = frozenset(
    {"key", "link", "shareable", "external", "requires", "provides", "extends", "override", "interfaceObject"}
)
_UNKNOWN_DIRECTIVE = re.compile(r"^Unknown directive '@(\w+)'\.$")


def _sdl_problems(document: DocumentNode, errors: list[GraphQLError]) -> str:
    """One problem per line; Federation directives in a plain service get one line that says what to declare."""
    federation: list[str] = []
    lines: list[str] = []
    for error in errors:
        match = _UNKNOWN_DIRECTIVE.match(error.message)
        if match and match.group(1) in _FEDERATION_DIRECTIVES:
            where = format_graphql_error(error).removeprefix(error.message).strip(" ()")
            federation.append(f"@{match.group(1)} at {where}" if where else f"@{match.group(1)}")
        else:
            lines.append(_one_line(error))
    if federation:
        used = ", ".join(dict.fromkeys(federation))
        lines.insert(
            0,
            f"the SDL uses Federation directives ({used}) that a plain GraphQL service does not define: declare the "
            "service with protocol: federation (or define these directives in the SDL)",
        )
    return problem_lines("invalid SDL", lines)


def _one_line(error: GraphQLError) -> str:
    """``message (line L, column C)``, naming both places of a definition made twice."""
    locations = error.locations or ()
    if len(locations) == 2 and error.message.endswith("can only be defined once."):
        first, second = locations
        return (
            f"{error.message.removesuffix('.')}: defined at line {first.line}, column {first.column} and again at "
            f"line {second.line}, column {second.column}; remove one"
        )
    return format_graphql_error(error)


def problem_lines(head: str, lines: list[str]) -> str:
    """``head`` and one problem per line (a schema may have hundreds; one line of kilobytes helps nobody)."""
    if len(lines) == 1:
        return f"{head}: {lines[0]}"
    return f"{head} ({len(lines)} problems):\n" + "\n".join(f"- {line}" for line in lines)


def _schema_from_introspection(service: str, text: str) -> tuple[GraphQLSchema, list[str]]:
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"introspection result is not JSON: {exc}", service=service) from exc
    if isinstance(data, dict) and isinstance(data.get("data"), dict):
        data = data["data"]
    if not isinstance(data, dict) or not isinstance(data.get("__schema"), dict):
        raise SchemaError('introspection result has no "__schema" object', service=service)
    duplicates = _introspection_duplicates(data["__schema"])
    if duplicates:
        raise SchemaError(problem_lines("introspection result", duplicates), service=service)
    try:
        schema = build_client_schema(cast(IntrospectionQuery, data))
    except (GraphQLError, TypeError, KeyError, ValueError) as exc:
        raise SchemaError(f"introspection result is not a valid schema: {exc}", service=service) from exc
    return schema, _validated(service, schema)


def _introspection_duplicates(schema: Any) -> list[str]:
    """Types, fields, arguments, input fields and enum values named twice: graphql-core would keep the last one
    silently. Each names both places (their positions in the result's lists)."""
    problems: list[str] = []

    def check(items: Any, what: str, prefix: str, where: str, suffix: str = "") -> None:
        seen: dict[str, int] = {}
        for index, item in enumerate(items if isinstance(items, list) else ()):
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str):
                continue
            if name in seen:
                problems.append(
                    f"{what} {prefix}{name}{suffix} is defined twice (entries {seen[name]} and {index} of {where}); "
                    "remove one"
                )
            else:
                seen[name] = index

    types = schema.get("types")
    check(types, "type", "", "__schema.types")
    for named in types if isinstance(types, list) else ():
        if not isinstance(named, dict) or not isinstance(named.get("name"), str):
            continue
        type_name = named["name"]
        for key, what in (("fields", "field"), ("inputFields", "input field"), ("enumValues", "enum value")):
            check(named.get(key), what, f"{type_name}.", f"the {key} of {type_name}")
        for field in named.get("fields") or ():
            if isinstance(field, dict) and isinstance(field.get("name"), str):
                coordinate = f"{type_name}.{field['name']}"
                check(field.get("args"), "argument", f"{coordinate}(", f"the args of {coordinate}", ":)")
    return problems


# Rules of graphql-core 3.3 that come from draft spec changes (graphql-js 17) and that graphql-js 16, which the
# publishers of most public schemas use, does not enforce. A schema breaking only these is taken, with a warning.
_DRAFT_RULES = (
    re.compile(r"^Interface field \S+ is not deprecated, so implementation field \S+ must not be deprecated\.$"),
    re.compile(r"^\S+ has invalid default value"),
)


def validate_like_graphql_js(schema: GraphQLSchema) -> tuple[list[GraphQLError], list[str]]:
    """(errors, warnings): graphql-core's schema validation with the draft-spec rules as warnings.

    When only warnings remain, the schema is marked valid (graphql-core caches the result of validation on the
    schema, and execution asserts it), so queries run against it as graphql-js 16 would run them."""
    errors: list[GraphQLError] = []
    warnings: list[str] = []
    for error in validate_schema(schema):
        if any(rule.search(error.message) for rule in _DRAFT_RULES):
            warnings.append(f"{format_graphql_error(error)} (graphql-js 16 accepts this; taken as it is)")
        else:
            errors.append(error)
    if not errors:
        schema._validation_errors = []  # see the docstring
    return errors, warnings


def _validated(service: str, schema: GraphQLSchema) -> list[str]:
    errors, warnings = validate_like_graphql_js(schema)
    if errors:
        message = problem_lines("invalid schema", [_one_line(e) for e in errors])
        raise SchemaError(message, service=service) from errors[0]
    return warnings


def subgraph_from_graphql(spec: SourceSpec) -> Subgraph:
    """Read a plain GraphQL service and its merge configuration into the IR."""
    schema, warnings = read_schema(spec.name, spec.schema)
    resolvers: dict[str, EntityResolver] = {}
    keys: dict[str, tuple[EntityKey, ...]] = {}
    problems: list[str] = []
    for type_name, config in spec.entities.items():
        try:
            resolvers[type_name] = entity_resolver(schema, type_name, config)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        keys[type_name] = (EntityKey(config.key),)
    if problems:
        raise SchemaError(problem_lines("merge configuration", problems), service=spec.name)
    return Subgraph(
        name=spec.name,
        kind=SourceKind.GRAPHQL,
        schema=schema,
        url=spec.url,
        keys=keys,
        resolvers=resolvers,
        warnings=warnings,
    )


def entity_resolver(schema: GraphQLSchema, type_name: str, config: EntityConfig) -> EntityResolver:
    """Check one entity's merge configuration against the schema; ValueError says what does not fit.

    A compound key (``key: "sku vendor"``) is passed either as one input-object argument with fields named like
    the key fields (a list of them when batched), or, for single fetches, as one argument per key field named
    like it. Nested key fields are refused: a plain service has no standard way to receive them.
    """
    entity = schema.get_type(type_name)
    if not is_object_type(entity):
        raise ValueError(f"entity {type_name} is not an object type of the schema")
    try:
        key_fields = field_set_fields(schema, type_name, config.key)
    except ValueError as exc:
        raise ValueError(f"entity {type_name}: key {exc}") from exc
    query = schema.query_type
    field = query.fields.get(config.operation) if query else None
    if field is None:
        raise ValueError(f"entity {type_name}: Query.{config.operation} does not exist")
    coordinate = f"Query.{config.operation}"
    names = [name for _type, name in key_fields]
    key_arguments: tuple[str, ...] = ()
    if "{" in config.key:
        raise ValueError(
            f"entity {type_name}: key {config.key!r} has nested fields; a plain GraphQL resolver takes flat key "
            "fields (one argument each, or one input-object argument with those fields)"
        )
    if len(names) > 1:
        argument, key_arguments = _compound_argument(type_name, config, field.args, coordinate, names)
    elif config.argument is not None:
        argument = config.argument
        if argument not in field.args:
            raise ValueError(f"entity {type_name}: {coordinate} has no argument {argument!r}")
    elif len(field.args) == 1:
        argument = next(iter(field.args))
    else:
        key_name = names[0]
        candidates = [a for a in field.args if a in (key_name, f"{key_name}s") or a.lower().startswith(key_name)]
        if len(candidates) != 1:
            raise ValueError(
                f"entity {type_name}: cannot tell which argument of {coordinate} takes the key "
                f"(arguments: {', '.join(field.args) or 'none'}); set 'argument'"
            )
        argument = candidates[0]
    if argument:
        argument_is_list = is_list_type(get_nullable_type(field.args[argument].type))
        batched = argument_is_list if config.batched is None else config.batched
        if batched and not argument_is_list:
            raise ValueError(f"entity {type_name}: batched, but {coordinate}({argument}:) is not a list")
        taken = {argument}
    else:
        if config.batched:
            raise ValueError(
                f"entity {type_name}: a batched compound key needs one argument that is a list of input objects "
                f"with fields {', '.join(names)}; {coordinate} has none"
            )
        batched = False
        taken = set(key_arguments)
    required = [n for n, a in field.args.items() if n not in taken and is_required_argument(a)]
    if required:
        raise ValueError(f"entity {type_name}: {coordinate} also requires {', '.join(required)}")
    returned = get_nullable_type(field.type)
    returns_list = is_list_type(returned)
    named = get_named_type(field.type).name
    if named != type_name or returns_list != batched:
        wanted = f"[{type_name}]" if batched else type_name
        raise ValueError(f"entity {type_name}: {coordinate} returns {field.type}, expected {wanted}")
    return EntityResolver(
        type_name=type_name,
        key=config.key,
        field=config.operation,
        argument=argument,
        batched=batched,
        key_arguments=key_arguments,
    )


def _compound_argument(
    type_name: str, config: EntityConfig, args: dict[str, GraphQLArgument], coordinate: str, names: list[str]
) -> tuple[str, tuple[str, ...]]:
    """(argument, key_arguments) for a compound key: an input-object argument (``argument`` set, or the field's only
    argument), else one argument per key field (``argument`` is "")."""
    key = config.key
    candidate = config.argument
    if candidate is None and len(args) == 1:
        only = next(iter(args))
        if isinstance(get_named_type(args[only].type), GraphQLInputObjectType):
            candidate = only
    if candidate is None:
        missing = [n for n in names if n not in args]
        if missing:
            raise ValueError(
                f"entity {type_name}: compound key {key!r} needs an argument per key field on {coordinate} "
                f"(missing {', '.join(missing)}) or one input-object argument with fields {', '.join(names)}; "
                "set 'argument' to that input-object argument"
            )
        return "", tuple(names)
    if candidate not in args:
        raise ValueError(f"entity {type_name}: {coordinate} has no argument {candidate!r}")
    input_type = get_named_type(args[candidate].type)
    if not isinstance(input_type, GraphQLInputObjectType):
        raise ValueError(
            f"entity {type_name}: compound key {key!r} needs {coordinate}({candidate}:) to be an input object with "
            f"fields {', '.join(names)} (a list of them when batched), not {args[candidate].type}"
        )
    missing = [n for n in names if n not in input_type.fields]
    if missing:
        raise ValueError(
            f"entity {type_name}: input {input_type.name} of {coordinate}({candidate}:) lacks the key field(s) "
            f"{', '.join(missing)}"
        )
    extra = [n for n, f in input_type.fields.items() if n not in names and is_required_input_field(f)]
    if extra:
        raise ValueError(
            f"entity {type_name}: input {input_type.name} also requires {', '.join(extra)}, which the key "
            f"{key!r} does not give"
        )
    return candidate, tuple(names)


# --- AST nodes from types (sources built without SDL: OpenAPI, introspection) ----------------------------------


@dataclasses.dataclass
class SharedNodes:
    """The (never mutated) nodes that the definitions made with it share: one ``NameNode`` per name of a field,
    argument, input field or enum value, and one type reference node per printed type (``Int``, ``[Book!]!``). A
    large schema names the same few fields and refers to the same types tens of thousands of times, and each node
    made is one more object for the allocator and the cyclic collector."""

    names: dict[str, NameNode] = dataclasses.field(default_factory=dict)
    types: dict[str, TypeNode] = dataclasses.field(default_factory=dict)
    # Whole fields without arguments and input values without a default, by name, printed type, description and
    # deprecation (``id: ID!`` is the same node in every type that has it).
    fields: dict[tuple[str, str, str | None, str | None], FieldDefinitionNode] = dataclasses.field(default_factory=dict)
    inputs: dict[tuple[str, str, str | None, str | None], InputValueDefinitionNode] = dataclasses.field(
        default_factory=dict
    )

    def name(self, value: str) -> NameNode:
        node = self.names.get(value)
        if node is None:
            node = self.names[value] = NameNode(value=value)
        return node

    def field(self, name: str, gql_field: GraphQLField) -> FieldDefinitionNode:
        type_node, printed = _type_node(gql_field.type, self.types)
        key = (name, printed, gql_field.description, gql_field.deprecation_reason)
        node = None if gql_field.args else self.fields.get(key)
        if node is None:
            node = FieldDefinitionNode(
                description=_description_node(gql_field.description),
                name=self.name(name),
                arguments=tuple(self.input_value(arg_name, a) for arg_name, a in gql_field.args.items()),
                type=type_node,
                directives=_deprecated_nodes(gql_field.deprecation_reason),
            )
            if not gql_field.args:
                self.fields[key] = node
        return node

    def input_value(self, name: str, value: GraphQLArgument | GraphQLInputField) -> InputValueDefinitionNode:
        type_node, printed = _type_node(value.type, self.types)
        key = (name, printed, value.description, value.deprecation_reason)
        default = get_default_value_ast(value)  # ``default_value`` or graphql-core 3.3's ``default``
        node = self.inputs.get(key) if default is None else None
        if node is None:
            node = InputValueDefinitionNode(
                description=_description_node(value.description),
                name=self.name(name),
                type=type_node,
                default_value=default,
                directives=_deprecated_nodes(value.deprecation_reason),
            )
            if default is None:
                self.inputs[key] = node
        return node


def type_definition_node(named: GraphQLNamedType, shared: SharedNodes | None = None) -> TypeDefinitionNode:
    """The SDL definition of a type, as an AST node, with its descriptions, defaults, deprecations, @specifiedBy
    and @oneOf (what graphql-core's printer would print, without printing and parsing it again). ``shared``, when
    given, holds the nodes shared by the definitions made with it (:class:`SharedNodes`)."""
    nodes = SharedNodes() if shared is None else shared
    name = NameNode(value=named.name)
    description = _description_node(named.description)
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        fields = tuple(nodes.field(field_name, f) for field_name, f in named.fields.items())
        interfaces = tuple(_named_type_node(i.name, nodes.types) for i in named.interfaces)
        node_class = ObjectTypeDefinitionNode if isinstance(named, GraphQLObjectType) else InterfaceTypeDefinitionNode
        return node_class(description=description, name=name, interfaces=interfaces, directives=(), fields=fields)
    if isinstance(named, GraphQLUnionType):
        types = tuple(_named_type_node(t.name, nodes.types) for t in named.types)
        return UnionTypeDefinitionNode(description=description, name=name, directives=(), types=types)
    if isinstance(named, GraphQLEnumType):
        values = tuple(
            EnumValueDefinitionNode(
                description=_description_node(v.description),
                name=nodes.name(value_name),
                directives=_deprecated_nodes(v.deprecation_reason),
            )
            for value_name, v in named.values.items()
        )
        return EnumTypeDefinitionNode(description=description, name=name, directives=(), values=values)
    if isinstance(named, GraphQLInputObjectType):
        one_of = (ConstDirectiveNode(name=NameNode(value="oneOf"), arguments=()),) if named.is_one_of else ()
        inputs = tuple(nodes.input_value(field_name, f) for field_name, f in named.fields.items())
        return InputObjectTypeDefinitionNode(description=description, name=name, directives=one_of, fields=inputs)
    assert isinstance(named, GraphQLScalarType)
    directives: tuple[ConstDirectiveNode, ...] = ()
    if named.specified_by_url is not None:
        url = ConstArgumentNode(name=NameNode(value="url"), value=StringValueNode(value=named.specified_by_url))
        directives = (ConstDirectiveNode(name=NameNode(value="specifiedBy"), arguments=(url,)),)
    return ScalarTypeDefinitionNode(description=description, name=name, directives=directives)


def _description_node(text: str | None) -> StringValueNode | None:
    return StringValueNode(value=text, block="\n" in text) if text is not None else None


def _deprecated_nodes(reason: str | None) -> tuple[ConstDirectiveNode, ...]:
    if reason is None:
        return ()
    argument = ConstArgumentNode(name=NameNode(value="reason"), value=StringValueNode(value=reason))
    return (ConstDirectiveNode(name=NameNode(value="deprecated"), arguments=(argument,)),)


def _type_node(type_: GraphQLType, types: dict[str, TypeNode]) -> tuple[TypeNode, str]:
    """The node of a type reference and its printed form, which names it in ``types``."""
    if isinstance(type_, GraphQLNonNull | GraphQLList):
        inner, printed = _type_node(type_.of_type, types)
        key = f"{printed}!" if isinstance(type_, GraphQLNonNull) else f"[{printed}]"
        node = types.get(key)
        if node is None:
            if isinstance(type_, GraphQLNonNull):
                assert isinstance(inner, NamedTypeNode | ListTypeNode)
                node = NonNullTypeNode(type=inner)
            else:
                node = ListTypeNode(type=inner)
            types[key] = node
        return node, key
    assert isinstance(type_, GraphQLNamedType)
    return _named_type_node(type_.name, types), type_.name


def _named_type_node(name: str, types: dict[str, TypeNode]) -> NamedTypeNode:
    node = types.get(name)
    if node is None:
        node = types[name] = NamedTypeNode(name=NameNode(value=name))
    assert isinstance(node, NamedTypeNode)
    return node
