"""The API schema as SDL: a small printer with hooks (graphql-core's cannot add directives or skip elements),
filtering a subgraph document by schema coordinates, and building a schema from it as graphql-js 16 would."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterable, Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    ConstDirectiveNode,
    DefinitionNode,
    DirectiveDefinitionNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    EnumTypeExtensionNode,
    GraphQLArgument,
    GraphQLDirective,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    InputObjectTypeDefinitionNode,
    InputObjectTypeExtensionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    TypeDefinitionNode,
    TypeExtensionNode,
    UnionTypeDefinitionNode,
    UnionTypeExtensionNode,
    build_ast_schema,
    is_introspection_type,
    is_specified_directive,
    is_specified_scalar_type,
    print_ast,
)
from graphql.language.print_string import print_string
from graphql.utilities.get_default_value_ast import get_default_value_ast

from stitcher.federation import format_graphql_error
from stitcher.ir import SCHEMA_COORDINATE, Supergraph

ROOT_TYPE_NAMES = ("Query", "Mutation", "Subscription")
_DEFAULT_DEPRECATION = "No longer supported"


# --- a small SDL printer with hooks (graphql-core's printer cannot add directives or skip elements) -----------------


@dataclass
class Hooks:
    """What to skip (schema coordinates) and which directives to print after each element."""

    skip: Callable[[str], bool] = lambda coordinate: False
    type_directives: Callable[[GraphQLNamedType], str] = lambda t: ""
    field_directives: Callable[[str, str], str] = lambda type_name, field_name: ""
    enum_value_directives: Callable[[str, str], str] = lambda enum_name, value: ""
    argument_directives: Callable[[str], str] = lambda coordinate: ""  # "Type.field(arg:)"
    schema_directives: str = ""
    extra: list[str] = field(default_factory=list)  # definitions printed before the types


def _description(text: str | None, indent: str) -> str:
    return f"{indent}{print_string(text)}\n" if text else ""


def _deprecated(reason: str | None) -> str:
    if reason is None:
        return ""
    return " @deprecated" if reason == _DEFAULT_DEPRECATION else f" @deprecated(reason: {print_string(reason)})"


def _default(value: GraphQLArgument | GraphQLInputField) -> str:
    node = get_default_value_ast(value)
    return f" = {print_ast(node)}" if node is not None else ""


def _print_args(coordinate: str, args: dict[str, GraphQLArgument], hooks: Hooks) -> str:
    shown = [(name, arg) for name, arg in args.items() if not hooks.skip(f"{coordinate}({name}:)")]
    if not shown:
        return ""
    if not any(arg.description for _, arg in shown):
        inner = ", ".join(
            f"{name}: {arg.type}{_default(arg)}{_deprecated(arg.deprecation_reason)}"
            f"{hooks.argument_directives(f'{coordinate}({name}:)')}"
            for name, arg in shown
        )
        return f"({inner})"
    lines = [
        f"{_description(arg.description, '    ')}    {arg_name}: {arg.type}{_default(arg)}"
        f"{_deprecated(arg.deprecation_reason)}{hooks.argument_directives(f'{coordinate}({arg_name}:)')}"
        for arg_name, arg in shown
    ]
    return "(\n" + "\n".join(lines) + "\n  )"


def _print_type(named: GraphQLNamedType, hooks: Hooks) -> str:
    name = named.name
    head = _description(named.description, "")
    directives = hooks.type_directives(named)
    if isinstance(named, GraphQLScalarType):
        specified = f" @specifiedBy(url: {print_string(named.specified_by_url)})" if named.specified_by_url else ""
        return f"{head}scalar {name}{specified}{directives}"
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        keyword = "type" if isinstance(named, GraphQLObjectType) else "interface"
        interfaces = [i.name for i in named.interfaces if not hooks.skip(i.name)]
        implements = f" implements {' & '.join(interfaces)}" if interfaces else ""
        lines = []
        for field_name, gql_field in named.fields.items():
            if hooks.skip(f"{name}.{field_name}"):
                continue
            lines.append(_print_field(name, field_name, gql_field, hooks))
        return f"{head}{keyword} {name}{implements}{directives} {{\n" + "\n".join(lines) + "\n}"
    if isinstance(named, GraphQLUnionType):
        members = [t.name for t in named.types if not hooks.skip(t.name)]
        return f"{head}union {name}{directives} = {' | '.join(members)}"
    if isinstance(named, GraphQLEnumType):
        lines = [
            f"{_description(value.description, '  ')}  {value_name}{_deprecated(value.deprecation_reason)}"
            f"{hooks.enum_value_directives(name, value_name)}"
            for value_name, value in named.values.items()
            if not hooks.skip(f"{name}.{value_name}")
        ]
        return f"{head}enum {name}{directives} {{\n" + "\n".join(lines) + "\n}"
    assert isinstance(named, GraphQLInputObjectType)
    if named.is_one_of:
        directives = " @oneOf" + directives
    lines = [
        f"{_description(input_field.description, '  ')}  {field_name}: {input_field.type}{_default(input_field)}"
        f"{_deprecated(input_field.deprecation_reason)}{hooks.field_directives(name, field_name)}"
        for field_name, input_field in named.fields.items()
        if not hooks.skip(f"{name}.{field_name}")
    ]
    return f"{head}input {name}{directives} {{\n" + "\n".join(lines) + "\n}"


def _print_field(type_name: str, field_name: str, gql_field: GraphQLField, hooks: Hooks) -> str:
    args = _print_args(f"{type_name}.{field_name}", gql_field.args, hooks)
    return (
        f"{_description(gql_field.description, '  ')}  {field_name}{args}: {gql_field.type}"
        f"{_deprecated(gql_field.deprecation_reason)}{hooks.field_directives(type_name, field_name)}"
    )


def _ordered_types(schema: GraphQLSchema, hooks: Hooks) -> list[GraphQLNamedType]:
    types = [
        t
        for name, t in schema.type_map.items()
        if not is_introspection_type(t) and not is_specified_scalar_type(t) and not hooks.skip(name)
    ]
    roots = [t for root in ROOT_TYPE_NAMES for t in types if t.name == root]
    return roots + sorted((t for t in types if t.name not in ROOT_TYPE_NAMES), key=lambda t: t.name)


def print_schema_sdl(schema: GraphQLSchema, *, skip: Iterable[str] = ()) -> str:
    """SDL of a schema's custom directive definitions and types in a stable order (directives by name, root types,
    then types by name), without the elements in ``skip`` (schema coordinates)."""
    hidden = frozenset(skip)
    return print_with_hooks(schema, Hooks(skip=hidden.__contains__, extra=_directive_definitions(schema)))


# The gateway's own directives in a supergraph (printed with the machinery) and the ones every schema has.
_MACHINERY_DIRECTIVE = re.compile(r"^(join__|link$|inaccessible$|tag$|loom__)")


def _directive_definitions(schema: GraphQLSchema, applied: Callable[[str], str] = lambda c: "") -> list[str]:
    """The custom directive definitions of ``schema`` (``@inContext``...), by name; the specified ones and the
    supergraph's machinery are left out. ``applied`` gives the directives applied to an argument
    (``@inContext(country:)``)."""
    return [
        print_directive_definition(directive, applied)
        for directive in sorted(schema.directives, key=lambda d: d.name)
        if not (is_specified_directive(directive) or _MACHINERY_DIRECTIVE.match(directive.name))
    ]


def print_directive_definition(directive: GraphQLDirective, applied: Callable[[str], str] = lambda c: "") -> str:
    """``directive @name(args) repeatable on LOCATIONS``, with the directives ``applied`` gives each argument."""
    args = _print_args(f"@{directive.name}", directive.args, Hooks(argument_directives=applied))
    repeatable = " repeatable" if directive.is_repeatable else ""
    locations = " | ".join(location.name for location in directive.locations)
    return f"{_description(directive.description, '')}directive @{directive.name}{args}{repeatable} on {locations}"


def print_with_hooks(schema: GraphQLSchema, hooks: Hooks) -> str:
    parts: list[str] = []
    roots = {"query": schema.query_type, "mutation": schema.mutation_type, "subscription": schema.subscription_type}
    named_roots = {op: t.name for op, t in roots.items() if t is not None}
    if hooks.schema_directives or any(
        name != op.capitalize() for op, name in named_roots.items()
    ):  # the schema block is needed for directives or unusual root names
        body = "\n".join(f"  {op}: {name}" for op, name in named_roots.items())
        opening = "{" if hooks.schema_directives.endswith("\n") else " {"
        parts.append(f"schema{hooks.schema_directives}{opening}\n{body}\n}}")
    parts.extend(hooks.extra)
    parts.extend(_print_type(t, hooks) for t in _ordered_types(schema, hooks))
    return "\n\n".join(parts) + "\n"


_KEPT_DIRECTIVES = frozenset({"deprecated", "specifiedBy", "oneOf"})
EXECUTABLE_LOCATIONS = frozenset(
    {
        "QUERY",
        "MUTATION",
        "SUBSCRIPTION",
        "FIELD",
        "FRAGMENT_DEFINITION",
        "FRAGMENT_SPREAD",
        "INLINE_FRAGMENT",
        "VARIABLE_DEFINITION",
    }
)


def filter_document(
    document: DocumentNode,
    skip: AbstractSet[str],
    drop: Callable[[DefinitionNode], bool] = lambda d: False,
    plain: Callable[[DefinitionNode], bool] = lambda d: False,
) -> DocumentNode:
    """``document`` without the definitions ``drop`` selects, without the elements whose schema coordinates are in
    ``skip`` ("Type", "Type.field", "Type.field(arg:)", "Enum.VALUE", "Input.field"), and without applied
    directives other than @deprecated/@specifiedBy/@oneOf. Works on the AST: no printing and parsing again. The
    definitions ``plain`` selects are known to hold none of those: they are kept as they are, unwalked."""

    # A node that loses nothing is kept as it is (most of a big document): rebuilding every node cost a tenth of
    # composing a 3 MB OpenAPI spec.
    def kept(node: Any) -> bool:
        return all(d.name.value in _KEPT_DIRECTIVES for d in node.directives or ())

    def directives(node: Any) -> tuple[ConstDirectiveNode, ...]:
        return tuple(d for d in node.directives or () if d.name.value in _KEPT_DIRECTIVES)

    def same(node: Any) -> Any:
        return node

    def stripped(node: Any) -> Any:
        return node if kept(node) else dataclasses.replace(node, directives=directives(node))

    def members(nodes: Any, prefix: str, strip: Callable[[Any], Any], suffix: str = "") -> tuple[Any, ...] | None:
        """``nodes`` without the skipped ones (coordinate: prefix, name, suffix), each stripped; None when that is
        ``nodes`` unchanged."""
        given = tuple(nodes or ())
        out = tuple(strip(n) for n in given if not skip or f"{prefix}{n.name.value}{suffix}" not in skip)
        return None if len(out) == len(given) and all(a is b for a, b in zip(out, given, strict=True)) else out

    def field(type_name: str, f: Any) -> Any:
        arguments = members(f.arguments, f"{type_name}.{f.name.value}(", stripped, ":)")
        if arguments is None:
            return stripped(f)
        return dataclasses.replace(f, directives=directives(f), arguments=arguments)

    out: list[DefinitionNode] = []
    for definition in document.definitions:
        if drop(definition) or isinstance(definition, DirectiveDefinitionNode):
            continue
        if plain(definition):
            out.append(definition)
            continue
        if isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
            out.append(dataclasses.replace(definition, directives=()))
            continue
        if not isinstance(definition, TypeDefinitionNode | TypeExtensionNode):
            out.append(definition)
            continue
        name = definition.name.value
        if name in skip:
            continue
        changes: dict[str, Any] = {} if kept(definition) else {"directives": directives(definition)}
        found: dict[str, tuple[Any, ...] | None] = {}
        if isinstance(
            definition,
            ObjectTypeDefinitionNode
            | ObjectTypeExtensionNode
            | InterfaceTypeDefinitionNode
            | InterfaceTypeExtensionNode,
        ):
            found["interfaces"] = members(definition.interfaces, "", same)
            found["fields"] = members(definition.fields, f"{name}.", functools.partial(field, name))
        elif isinstance(definition, UnionTypeDefinitionNode | UnionTypeExtensionNode):
            found["types"] = members(definition.types, "", same)
        elif isinstance(definition, EnumTypeDefinitionNode | EnumTypeExtensionNode):
            found["values"] = members(definition.values, f"{name}.", stripped)
        elif isinstance(definition, InputObjectTypeDefinitionNode | InputObjectTypeExtensionNode):
            found["fields"] = members(definition.fields, f"{name}.", stripped)
        changes.update((key, value) for key, value in found.items() if value is not None)
        out.append(dataclasses.replace(definition, **changes) if changes else definition)
    return DocumentNode(definitions=tuple(out))


def schema_from_document(document: DocumentNode, warnings: list[str] | None = None) -> GraphQLSchema:
    """Build a schema from a (filtered) document; ValueError lists every problem of the result. What graphql-js 16
    accepts is accepted (the draft-spec rules of graphql-core 3.3 become ``warnings``)."""
    from stitcher.graphql_source import validate_like_graphql_js  # graphql_source imports this module

    try:
        schema = build_ast_schema(document, assume_valid_sdl=True)
    except (GraphQLError, TypeError) as exc:
        raise ValueError(str(exc)) from exc
    errors, found = validate_like_graphql_js(schema)
    if errors:
        raise ValueError("; ".join(format_graphql_error(e) for e in errors))
    if warnings is not None:
        warnings.extend(w for w in found if w not in warnings)
    return schema


def distinct(items: Iterable[str]) -> list[str]:
    """``items`` without repeats, in their first order."""
    return list(dict.fromkeys(items))


def print_product_sdl(sg: Supergraph) -> str:
    """The product's API schema as SDL, in a stable order, with the applications of the directives composed by
    ``@composeDirective``."""
    if not sg.directive_usages:
        return print_schema_sdl(sg.schema)
    usages = sg.directive_usages

    def applied(coordinate: str) -> str:
        return "".join(f" {usage}" for usage in usages.get(coordinate, ()))

    hooks = Hooks(
        type_directives=lambda named: applied(named.name),
        field_directives=lambda type_name, field_name: applied(f"{type_name}.{field_name}"),
        enum_value_directives=lambda enum_name, value: applied(f"{enum_name}.{value}"),
        argument_directives=applied,
        schema_directives=applied(SCHEMA_COORDINATE),
        extra=_directive_definitions(sg.schema, applied),
    )
    return print_with_hooks(sg.schema, hooks)


# --- supergraph SDL ----------------------------------------------------------------------------------------------
