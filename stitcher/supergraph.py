"""Print a composed product as SDL (the API schema) or as a Federation v2 supergraph, and load a supergraph SDL.

The supergraph is the shape Apollo's composition prints (``@link`` to link v1.0 and join v0.3, ``join__Graph``,
``@join__type``/``@join__field``/``@join__implements``/``@join__unionMember``/``@join__enumValue``), so Apollo
Gateway or Hive Gateway can load what we print, and :func:`load_supergraph` reads what they print.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    BooleanValueNode,
    ConstDirectiveNode,
    DefinitionNode,
    DirectiveDefinitionNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    EnumTypeExtensionNode,
    EnumValueNode,
    GraphQLArgument,
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
    NamedTypeNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    ScalarTypeDefinitionNode,
    ScalarTypeExtensionNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    StringValueNode,
    TypeDefinitionNode,
    TypeExtensionNode,
    UnionTypeDefinitionNode,
    UnionTypeExtensionNode,
    build_ast_schema,
    is_introspection_type,
    is_specified_directive,
    is_specified_scalar_type,
    parse,
    parse_type,
    print_ast,
    print_directive,
)
from graphql.language.print_string import print_string
from graphql.utilities.get_default_value_ast import get_default_value_ast

from stitcher.carried import carried_definitions, graph_directive, recomposed, schema_directive
from stitcher.errors import SchemaError
from stitcher.federation import format_graphql_error
from stitcher.ir import EntityKey, FieldDirectives, FieldJoin, SourceKind, Subgraph, Supergraph, TypeJoin

__all__ = [
    "filter_document",
    "load_supergraph",
    "print_product_sdl",
    "print_schema_sdl",
    "print_supergraph_sdl",
    "schema_from_document",
]

ROOT_TYPE_NAMES = ("Query", "Mutation", "Subscription")
_DEFAULT_DEPRECATION = "No longer supported"


# --- a small SDL printer with hooks (graphql-core's printer cannot add directives or skip elements) -----------------


@dataclass
class _Hooks:
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


def _print_args(coordinate: str, args: dict[str, GraphQLArgument], hooks: _Hooks) -> str:
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


def _print_type(named: GraphQLNamedType, hooks: _Hooks) -> str:
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


def _print_field(type_name: str, field_name: str, gql_field: GraphQLField, hooks: _Hooks) -> str:
    args = _print_args(f"{type_name}.{field_name}", gql_field.args, hooks)
    return (
        f"{_description(gql_field.description, '  ')}  {field_name}{args}: {gql_field.type}"
        f"{_deprecated(gql_field.deprecation_reason)}{hooks.field_directives(type_name, field_name)}"
    )


def _ordered_types(schema: GraphQLSchema, hooks: _Hooks) -> list[GraphQLNamedType]:
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
    return _print(schema, _Hooks(skip=hidden.__contains__, extra=_directive_definitions(schema)))


# The gateway's own directives in a supergraph (printed with the machinery) and the ones every schema has.
_MACHINERY_DIRECTIVE = re.compile(r"^(join__|link$|inaccessible$|tag$|loom__)")


def _directive_definitions(schema: GraphQLSchema) -> list[str]:
    """The custom directive definitions of ``schema`` (``@inContext``...), by name; the specified ones and the
    supergraph's machinery are left out."""
    out = []
    for directive in sorted(schema.directives, key=lambda d: d.name):
        if is_specified_directive(directive) or _MACHINERY_DIRECTIVE.match(directive.name):
            continue
        args = _print_args(f"@{directive.name}", directive.args, _Hooks())
        repeatable = " repeatable" if directive.is_repeatable else ""
        locations = " | ".join(location.name for location in directive.locations)
        out.append(
            f"{_description(directive.description, '')}directive @{directive.name}{args}{repeatable} on {locations}"
        )
    return out


def _print(schema: GraphQLSchema, hooks: _Hooks) -> str:
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
_EXECUTABLE_LOCATIONS = frozenset(
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
    document: DocumentNode, skip: AbstractSet[str], drop: Callable[[DefinitionNode], bool] = lambda d: False
) -> DocumentNode:
    """``document`` without the definitions ``drop`` selects, without the elements whose schema coordinates are in
    ``skip`` ("Type", "Type.field", "Type.field(arg:)", "Enum.VALUE", "Input.field"), and without applied
    directives other than @deprecated/@specifiedBy/@oneOf. Works on the AST: no printing and parsing again."""

    def directives(node: Any) -> tuple[ConstDirectiveNode, ...]:
        return tuple(d for d in node.directives or () if d.name.value in _KEPT_DIRECTIVES)

    def named(nodes: Any) -> tuple[Any, ...]:
        return tuple(n for n in nodes or () if n.name.value not in skip)

    out: list[DefinitionNode] = []
    for definition in document.definitions:
        if drop(definition) or isinstance(definition, DirectiveDefinitionNode):
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
        changes: dict[str, Any] = {"directives": directives(definition)}
        if isinstance(
            definition,
            ObjectTypeDefinitionNode
            | ObjectTypeExtensionNode
            | InterfaceTypeDefinitionNode
            | InterfaceTypeExtensionNode,
        ):
            changes["interfaces"] = named(definition.interfaces)
            changes["fields"] = tuple(
                dataclasses.replace(
                    f,
                    directives=directives(f),
                    arguments=tuple(
                        dataclasses.replace(a, directives=directives(a))
                        for a in f.arguments or ()
                        if f"{name}.{f.name.value}({a.name.value}:)" not in skip
                    ),
                )
                for f in definition.fields or ()
                if f"{name}.{f.name.value}" not in skip
            )
        elif isinstance(definition, UnionTypeDefinitionNode | UnionTypeExtensionNode):
            changes["types"] = named(definition.types)
        elif isinstance(definition, EnumTypeDefinitionNode | EnumTypeExtensionNode):
            changes["values"] = tuple(
                dataclasses.replace(v, directives=directives(v))
                for v in definition.values or ()
                if f"{name}.{v.name.value}" not in skip
            )
        elif isinstance(definition, InputObjectTypeDefinitionNode | InputObjectTypeExtensionNode):
            changes["fields"] = tuple(
                dataclasses.replace(f, directives=directives(f))
                for f in definition.fields or ()
                if f"{name}.{f.name.value}" not in skip
            )
        out.append(dataclasses.replace(definition, **changes))
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


def print_product_sdl(sg: Supergraph) -> str:
    """The product's API schema as SDL, in a stable order."""
    return print_schema_sdl(sg.schema)


# --- supergraph SDL ----------------------------------------------------------------------------------------------

_LINK_SPEC = "https://specs.apollo.dev/link/v1.0"
_JOIN_SPEC = "https://specs.apollo.dev/join/v0.3"
_INACCESSIBLE_SPEC = "https://specs.apollo.dev/inaccessible/v0.2"
_TAG_SPEC = "https://specs.apollo.dev/tag/v0.3"
_TAG_DIRECTIVE = (
    "directive @tag(name: String!) repeatable on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION"
    " | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION | SCHEMA"
)
_MACHINERY = """directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE

directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, \
external: Boolean, override: String, usedOverridden: Boolean) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION

directive @join__graph(name: String!, url: String!) on ENUM_VALUE

directive @join__implements(graph: join__Graph!, interface: String!) repeatable on OBJECT | INTERFACE

directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, \
resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM \
| INPUT_OBJECT | SCALAR

directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION

directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA

scalar join__FieldSet

scalar link__Import

enum link__Purpose {
  \"\"\"`SECURITY` features provide metadata necessary to securely resolve fields.\"\"\"
  SECURITY

  \"\"\"`EXECUTION` features provide metadata necessary for operation execution.\"\"\"
  EXECUTION
}"""
_INACCESSIBLE_DIRECTIVE = (
    "directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM"
    " | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION"
)


def _directive(directive: str, /, **arguments: object) -> str:
    """``@name(arg: value, ...)``; None is left out, ``graph`` is an enum member, booleans print as literals."""
    shown = []
    for key, value in arguments.items():
        if value is None:
            continue
        if isinstance(value, bool):
            literal = "true" if value else "false"
        else:
            literal = str(value) if key == "graph" else print_string(str(value))
        shown.append(f"{key}: {literal}")
    return f" @{directive}({', '.join(shown)})" if shown else f" @{directive}"


def print_supergraph_sdl(sg: Supergraph) -> str:
    """A Federation v2 supergraph SDL (join v0.3) for the product, with @inaccessible elements kept and marked."""
    full = sg.full_schema or sg.schema
    inaccessible = sg.inaccessible
    enum_of = sg.graph_enum
    mark = " @inaccessible"

    def marks(coordinate: str) -> str:
        """@inaccessible and @tag of one schema coordinate."""
        out = mark if coordinate in inaccessible else ""
        return out + "".join(_directive("tag", name=tag) for tag in sg.tags.get(coordinate, ()))

    def type_directives(named: GraphQLNamedType) -> str:
        joins = sg.types.get(named.name, ())
        out = []
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for interface in named.interfaces:
                for graph in _graphs_implementing(sg, named.name, interface.name):
                    out.append(_directive("join__implements", graph=enum_of[graph], interface=interface.name))
        for join in joins:
            out.append(
                _directive(
                    "join__type",
                    graph=enum_of[join.graph],
                    key=join.key,
                    extension=True if join.extension else None,
                    resolvable=None if join.resolvable else False,
                    isInterfaceObject=True if join.is_interface_object else None,
                )
            )
        if isinstance(named, GraphQLUnionType):
            for member in named.types:
                for graph in _graphs_with_member(sg, named.name, member.name):
                    out.append(_directive("join__unionMember", graph=enum_of[graph], member=member.name))
        out.append(marks(named.name))
        return "".join(out)

    def field_directives(type_name: str, field_name: str) -> str:
        suffix = marks(f"{type_name}.{field_name}")
        joins = sg.fields.get((type_name, field_name))
        if joins is None:
            return suffix
        type_graphs = _distinct(j.graph for j in sg.types.get(type_name, ()))
        plain = all(j == FieldJoin(j.graph) for j in joins)
        if plain and [j.graph for j in joins] == type_graphs:
            return suffix  # resolvable by every subgraph that defines the type: no @join__field needed
        out = []
        for join in joins:
            if join.graph not in type_graphs:  # resolved through an @interfaceObject: Apollo prints a bare one
                if " @join__field" not in out:
                    out.append(" @join__field")
                continue
            out.append(
                _directive(
                    "join__field",
                    graph=enum_of[join.graph],
                    requires=join.requires,
                    provides=join.provides,
                    type=join.type,
                    external=True if join.external else None,
                    override=join.override_from,
                )
            )
        return "".join(out) + suffix

    def enum_value_directives(enum_name: str, value: str) -> str:
        out = [_directive("join__enumValue", graph=enum_of[g]) for g in _graphs_with_value(sg, enum_name, value)]
        out.append(marks(f"{enum_name}.{value}"))
        return "".join(out)

    links = [f'\n  @link(url: "{_LINK_SPEC}")', f'\n  @link(url: "{_JOIN_SPEC}", for: EXECUTION)']
    extra = []
    if inaccessible:
        links.append(f'\n  @link(url: "{_INACCESSIBLE_SPEC}", for: SECURITY)')
        extra.append(_INACCESSIBLE_DIRECTIVE)
    if sg.tags:
        links.append(f'\n  @link(url: "{_TAG_SPEC}")')
        extra.append(_TAG_DIRECTIVE)
    links.append(schema_directive(sg))  # the sources, for Loom's gateway (stitcher.carried)
    extra.extend(carried_definitions(sg))
    extra.append(_MACHINERY)
    graph_lines = "\n".join(
        f"  {enum_of[name]}{_directive('join__graph', name=name, url=sub.url or '')}{graph_directive(sg, name)}"
        for name, sub in sg.subgraphs.items()
    )
    extra.append(f"enum join__Graph {{\n{graph_lines}\n}}")
    # Executable directives every GraphQL subgraph defines, as Apollo composes them: a loaded supergraph forwards
    # them to every subgraph (one that only some subgraphs define stays in the composed product only). A loaded
    # supergraph's subgraph schemas hold no directive definitions: its own are printed again.
    graphql_subgraphs = [sub for sub in sg.subgraphs.values() if sub.kind is not SourceKind.OPENAPI]
    for directive in sg.schema.directives:
        if is_specified_directive(directive):
            continue
        defining = [s for s in graphql_subgraphs if s.schema is not None and s.schema.get_directive(directive.name)]
        if not defining or len(defining) == len(graphql_subgraphs):
            extra.append(print_directive(directive))
    hooks = _Hooks(
        skip=lambda coordinate: False,
        type_directives=type_directives,
        field_directives=field_directives,
        enum_value_directives=enum_value_directives,
        argument_directives=marks,
        schema_directives="".join(links) + "\n",  # the block's brace goes on its own line
        extra=extra,
    )
    return _print(full, hooks)


def _distinct(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _graphs_of(sg: Supergraph, type_name: str) -> list[str]:
    return _distinct(j.graph for j in sg.types.get(type_name, ()))


def _subgraph_type(sg: Supergraph, graph: str, type_name: str) -> GraphQLNamedType | None:
    schema = sg.subgraphs[graph].schema
    return schema.get_type(type_name) if schema is not None else None


def _graphs_implementing(sg: Supergraph, type_name: str, interface: str) -> list[str]:
    out = []
    for graph in _graphs_of(sg, type_name):
        if sg.subgraphs[graph].schema is None:
            if graph in _graphs_of(sg, interface):
                out.append(graph)
            continue
        own = _subgraph_type(sg, graph, type_name)
        if isinstance(own, GraphQLObjectType | GraphQLInterfaceType) and any(
            i.name == interface for i in own.interfaces
        ):
            out.append(graph)
    return out


def _graphs_with_member(sg: Supergraph, union: str, member: str) -> list[str]:
    out = []
    for graph in _graphs_of(sg, union):
        own = _subgraph_type(sg, graph, union)
        if own is None and sg.subgraphs[graph].schema is None:
            if graph in _graphs_of(sg, member):
                out.append(graph)
        elif isinstance(own, GraphQLUnionType) and any(t.name == member for t in own.types):
            out.append(graph)
    return out


def _graphs_with_value(sg: Supergraph, enum: str, value: str) -> list[str]:
    out = []
    for graph in _graphs_of(sg, enum):
        own = _subgraph_type(sg, graph, enum)
        if (own is None and sg.subgraphs[graph].schema is None) or (
            isinstance(own, GraphQLEnumType) and value in own.values
        ):
            out.append(graph)
    return out


# --- loading a supergraph SDL --------------------------------------------------------------------------------------


def _argument_value(node: ConstDirectiveNode, name: str) -> Any:
    for argument in node.arguments or ():
        if argument.name.value == name:
            value = argument.value
            if isinstance(value, StringValueNode | BooleanValueNode):
                return value.value
            if isinstance(value, EnumValueNode):
                return value.value
    return None


_COMPOSITE_NODES = (
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
)


def _named(nodes: Iterable[Any], name: str) -> list[ConstDirectiveNode]:
    """The applied directives called ``name`` on AST nodes (a definition and its extensions)."""
    return [d for node in nodes for d in node.directives or () if d.name.value == name]


def load_supergraph(sdl: str) -> Supergraph:
    """Read a Federation v2 supergraph SDL (ours, Apollo's or Hive's) into the IR; SchemaError says what is wrong.

    Everything is read from the one parsed document (parsing is the costly part for big supergraphs)."""
    try:
        document = parse(sdl, no_location=True)
    except GraphQLError as exc:
        raise SchemaError(f"supergraph SDL is invalid: {format_graphql_error(exc)}") from exc
    by_name: dict[str, list[Any]] = {}
    schema_nodes: list[Any] = []
    directive_names: set[str] = set()
    for definition in document.definitions:
        if isinstance(definition, TypeDefinitionNode | TypeExtensionNode):
            by_name.setdefault(definition.name.value, []).append(definition)
        elif isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
            schema_nodes.append(definition)
        elif isinstance(definition, DirectiveDefinitionNode):
            directive_names.add(definition.name.value)
    join, inaccessible_name, tag_name = _spec_names(schema_nodes)
    if f"{join}__owner" in directive_names:
        raise SchemaError(
            "this is a Federation 1 supergraph (join v0.1, @join__owner): recompose it with Federation 2 tooling"
        )
    graph_nodes = by_name.get(f"{join}__Graph", [])
    if not graph_nodes or not all(isinstance(n, EnumTypeDefinitionNode | EnumTypeExtensionNode) for n in graph_nodes):
        raise SchemaError(f"supergraph SDL has no {join}__Graph enum: is it a Federation v2 supergraph?")
    graph_name: dict[str, str] = {}
    subgraphs: dict[str, Subgraph] = {}
    graph_directives: list[tuple[str, str | None, list[ConstDirectiveNode]]] = []
    for node in graph_nodes:
        for value in node.values or ():
            member = value.name.value
            found = _named([value], f"{join}__graph")
            if not found:
                raise SchemaError(f"{join}__Graph.{member} has no @{join}__graph(name:, url:)")
            name = str(_argument_value(found[0], "name"))
            graph_name[member] = name
            url = _argument_value(found[0], "url")
            subgraphs[name] = Subgraph(name=name, kind=SourceKind.FEDERATION, schema=None, url=url or None)
            graph_directives.append((name, url or None, list(value.directives or ())))

    def is_machinery(type_name: str) -> bool:
        return type_name.startswith((f"{join}__", "link__"))

    def graph_of(directive: ConstDirectiveNode, where: str) -> str:
        member = _argument_value(directive, "graph")
        if member not in graph_name:
            raise SchemaError(f"{where}: @{directive.name.value}(graph: {member}) is not a member of {join}__Graph")
        return graph_name[member]

    types: dict[str, tuple[TypeJoin, ...]] = {}
    fields: dict[tuple[str, str], tuple[FieldJoin, ...]] = {}
    inaccessible: set[str] = set()
    tags: dict[str, tuple[str, ...]] = {}

    def read_tags(coordinate: str, nodes: Iterable[Any]) -> None:
        tagged = [t for d in _named(nodes, tag_name) if isinstance(t := _argument_value(d, "name"), str)]
        if tagged:
            tags[coordinate] = tuple(dict.fromkeys(tagged))

    interfaces_of: dict[str, list[str]] = {}
    bare: list[tuple[str, str]] = []
    field_nodes: dict[str, dict[str, list[Any]]] = {}
    for type_name, nodes in by_name.items():
        if is_machinery(type_name):
            continue
        if _named(nodes, inaccessible_name):
            inaccessible.add(type_name)
        read_tags(type_name, nodes)
        type_joins = tuple(
            TypeJoin(
                graph=graph_of(d, type_name),
                key=_argument_value(d, "key"),
                resolvable=_argument_value(d, "resolvable") is not False,
                extension=_argument_value(d, "extension") is True,
                is_interface_object=_argument_value(d, "isInterfaceObject") is True,
            )
            for d in _named(nodes, f"{join}__type")
        )
        if type_joins:
            types[type_name] = type_joins
        members = [m for node in nodes for m in getattr(node, "values", None) or getattr(node, "fields", None) or ()]
        is_composite = isinstance(
            nodes[0],
            ObjectTypeDefinitionNode
            | ObjectTypeExtensionNode
            | InterfaceTypeDefinitionNode
            | InterfaceTypeExtensionNode,
        )
        if not is_composite:
            inaccessible.update(f"{type_name}.{m.name.value}" for m in members if _named([m], inaccessible_name))
            for member in members:
                read_tags(f"{type_name}.{member.name.value}", [member])
            continue
        interfaces_of[type_name] = [i.name.value for node in nodes for i in node.interfaces or ()]
        type_graphs = _distinct(j.graph for j in type_joins)
        for field_node in members:
            field_name = field_node.name.value
            field_nodes.setdefault(type_name, {})[field_name] = [field_node]
            read_tags(f"{type_name}.{field_name}", [field_node])
            if _named([field_node], inaccessible_name):
                inaccessible.add(f"{type_name}.{field_name}")
            for argument in field_node.arguments or ():
                coordinate = f"{type_name}.{field_name}({argument.name.value}:)"
                if _named([argument], inaccessible_name):
                    inaccessible.add(coordinate)
                read_tags(coordinate, [argument])
            applied = _named([field_node], f"{join}__field")
            if not applied:
                fields[(type_name, field_name)] = tuple(FieldJoin(g) for g in type_graphs)
                continue
            joins = []
            for d in applied:
                if _argument_value(d, "graph") is None:
                    bare.append((type_name, field_name))
                    continue
                joins.append(
                    FieldJoin(
                        graph=graph_of(d, f"{type_name}.{field_name}"),
                        requires=_argument_value(d, "requires"),
                        provides=_argument_value(d, "provides"),
                        external=_argument_value(d, "external") is True or _argument_value(d, "usedOverridden") is True,
                        override_from=_argument_value(d, "override"),
                        type=_argument_value(d, "type"),
                    )
                )
            fields[(type_name, field_name)] = tuple(joins)
    for type_name, field_name in bare:  # fields resolved through an @interfaceObject of one of the type's interfaces
        joins = list(fields[(type_name, field_name)])
        for interface in interfaces_of.get(type_name, ()):
            for type_join in types.get(interface, ()):
                graph = type_join.graph
                through = [j for j in fields.get((interface, field_name), ()) if j.graph == graph]
                if type_join.is_interface_object and through and all(j.graph != graph for j in joins):
                    joins.append(through[0])  # with its @requires / @provides / @external
        fields[(type_name, field_name)] = tuple(joins)

    _fill_subgraphs(subgraphs, types, fields)
    for name, schema in _subgraph_schemas(by_name, join, graph_name, is_machinery).items():
        subgraphs[name].schema = schema

    def machinery(definition: DefinitionNode) -> bool:
        return isinstance(definition, TypeDefinitionNode | TypeExtensionNode) and is_machinery(definition.name.value)

    warnings: list[str] = []
    # Executable directive definitions are the clients' to use (Apollo composes one into the supergraph when every
    # subgraph defines it); the planner forwards them to the subgraphs.
    executable = tuple(
        d
        for d in document.definitions
        if isinstance(d, DirectiveDefinitionNode) and all(loc.value in _EXECUTABLE_LOCATIONS for loc in d.locations)
    )

    def kept(filtered: DocumentNode) -> DocumentNode:
        return DocumentNode(definitions=(*filtered.definitions, *executable)) if executable else filtered

    try:
        full = schema_from_document(kept(filter_document(document, frozenset(), machinery)), warnings)
    except ValueError as exc:
        raise SchemaError(f"supergraph SDL is invalid: {exc}") from exc
    try:  # building a schema is costly for big supergraphs: only a second one when something is hidden
        api = (
            schema_from_document(kept(filter_document(document, inaccessible, machinery)), warnings)
            if inaccessible
            else full
        )
    except ValueError as exc:
        raise SchemaError(f"supergraph API schema is invalid: {exc}") from exc
    composed = recomposed(document, graph_directives)
    if composed is not None:  # Loom's own supergraph: the product its sources compose into, checked against it
        # Types only: the SDL prints only the executable directives every subgraph defines (Apollo's rule), the
        # composition knows which subgraph defines each.
        if _print(composed.schema, _Hooks()) != _print(api, _Hooks()):
            raise SchemaError(
                "the supergraph's schema is not what the sources it carries (@loom__source) compose into: was it "
                "edited? Print it again with loom compose --supergraph"
            )
        return composed
    return Supergraph(
        schema=api,
        subgraphs=subgraphs,
        types=types,
        fields=fields,
        warnings=warnings,
        graph_enum={name: member for member, name in graph_name.items()},
        full_schema=full if inaccessible else None,
        inaccessible=frozenset(inaccessible),
        tags=tags,
    )


def _subgraph_schemas(
    by_name: dict[str, list[Any]],
    join: str,
    graph_name: dict[str, str],
    is_machinery: Callable[[str], bool],
) -> dict[str, GraphQLSchema]:
    """Each subgraph's own schema as the ``join__*`` directives describe it: its types (an @interfaceObject as the
    object type it is there), its fields with their types there (``join__field(type:)``), the interfaces it says a
    type implements, its union members and enum values. The planner checks upstream selections against it; a
    subgraph whose schema cannot be rebuilt is left without one (the planner then falls back to the supergraph)."""
    documents: dict[str, list[DefinitionNode]] = {name: [] for name in graph_name.values()}

    def graphs(nodes: Iterable[Any], directive: str, **match: str) -> set[str] | None:
        applied = _named(nodes, f"{join}__{directive}")
        if not applied:
            return None
        return {
            graph_name.get(str(_argument_value(d, "graph")), "")
            for d in applied
            if all(_argument_value(d, k) == v for k, v in match.items())
        }

    for type_name, nodes in by_name.items():
        if is_machinery(type_name) or type_name.startswith("__"):
            continue
        first = nodes[0]
        type_graphs = graphs(nodes, "type")
        owners = type_graphs if type_graphs is not None else set(documents)
        interface_objects = {
            graph_name.get(str(_argument_value(d, "graph")), "")
            for d in _named(nodes, f"{join}__type")
            if _argument_value(d, "isInterfaceObject") is True
        }
        members = [m for node in nodes for m in getattr(node, "fields", None) or getattr(node, "values", None) or ()]
        for graph in owners & set(documents):
            if isinstance(first, ScalarTypeDefinitionNode | ScalarTypeExtensionNode):
                definition: DefinitionNode = ScalarTypeDefinitionNode(name=first.name, directives=())
            elif isinstance(first, EnumTypeDefinitionNode | EnumTypeExtensionNode):
                values = [v for v in members if (g := graphs([v], "enumValue")) is None or graph in g]
                definition = EnumTypeDefinitionNode(
                    name=first.name, directives=(), values=tuple(_copy(v, directives=()) for v in values)
                )
            elif isinstance(first, UnionTypeDefinitionNode | UnionTypeExtensionNode):
                all_members = [t for node in nodes for t in node.types or ()]
                chosen = [
                    t
                    for t in all_members
                    if (g := graphs(nodes, "unionMember", member=t.name.value)) is None or graph in g
                ]
                definition = UnionTypeDefinitionNode(name=first.name, directives=(), types=tuple(chosen))
            else:
                kept = []
                for member in members:
                    field_graphs = graphs([member], "field")
                    if field_graphs is not None and graph not in field_graphs:
                        continue
                    field_type = member.type
                    for d in _named([member], f"{join}__field"):
                        own_type = _argument_value(d, "type")
                        if graph_name.get(str(_argument_value(d, "graph"))) == graph and isinstance(own_type, str):
                            field_type = parse_type(own_type, no_location=True)
                    changes: dict[str, Any] = {"directives": (), "type": field_type}
                    if getattr(member, "arguments", None):
                        changes["arguments"] = tuple(_copy(a, directives=()) for a in member.arguments)
                    kept.append(_copy(member, **changes))
                if isinstance(first, InputObjectTypeDefinitionNode | InputObjectTypeExtensionNode):
                    definition = InputObjectTypeDefinitionNode(name=first.name, directives=(), fields=tuple(kept))
                elif graph in interface_objects:
                    definition = ObjectTypeDefinitionNode(
                        name=first.name, directives=(), interfaces=(), fields=tuple(kept)
                    )
                else:
                    interfaces = [i for node in nodes for i in getattr(node, "interfaces", None) or ()]
                    implements = [
                        i
                        for i in interfaces
                        if (g := graphs(nodes, "implements", interface=i.name.value)) is None or graph in g
                    ]
                    kind = (
                        InterfaceTypeDefinitionNode
                        if isinstance(first, InterfaceTypeDefinitionNode | InterfaceTypeExtensionNode)
                        else ObjectTypeDefinitionNode
                    )
                    definition = kind(name=first.name, directives=(), interfaces=tuple(implements), fields=tuple(kept))
            documents[graph].append(definition)
    schemas: dict[str, GraphQLSchema] = {}
    for graph, definitions in documents.items():
        try:
            schemas[graph] = build_ast_schema(DocumentNode(definitions=tuple(_closed(definitions))))
        except (GraphQLError, TypeError, ValueError):
            continue
    return schemas


def _closed(definitions: list[DefinitionNode]) -> list[DefinitionNode]:
    """Drop what refers to types the subgraph lacks (fields, interfaces, members) and types left empty."""
    while True:
        names = {d.name.value for d in definitions if hasattr(d, "name")} | _SPECIFIED_SCALARS
        out: list[DefinitionNode] = []
        for d in definitions:
            if isinstance(d, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode | InputObjectTypeDefinitionNode):
                fields = tuple(f for f in d.fields or () if _named_type(f.type) in names)
                interfaces = tuple(i for i in getattr(d, "interfaces", None) or () if i.name.value in names)
                if not fields:
                    continue
                if isinstance(d, InputObjectTypeDefinitionNode):
                    d = _copy(d, fields=fields)
                else:
                    d = _copy(d, fields=fields, interfaces=interfaces)
            elif isinstance(d, UnionTypeDefinitionNode):
                types = tuple(t for t in d.types or () if t.name.value in names)
                if not types:
                    continue
                d = _copy(d, types=types)
            out.append(d)
        if len(out) == len(definitions):
            return out
        definitions = out


_SPECIFIED_SCALARS = frozenset({"String", "Int", "Float", "Boolean", "ID"})


def _named_type(node: Any) -> str:
    while not isinstance(node, NamedTypeNode):
        node = node.type
    return str(node.name.value)


def _copy(node: Any, **changes: Any) -> Any:
    """An AST node with some attributes replaced (graphql-core nodes take their attributes as keywords)."""
    values = {key: getattr(node, key) for key in node.keys if key != "loc"}
    values.update(changes)
    return type(node)(**values)


def _spec_names(schema_nodes: list[Any]) -> tuple[str, str, str]:
    """The names the supergraph uses for the join, inaccessible and tag specs (``@link(url:, as:)`` may rename
    them)."""
    join, inaccessible, tag = "join", "inaccessible", "tag"
    for link in _named(schema_nodes, "link"):
        url = str(_argument_value(link, "url") or "")
        alias = _argument_value(link, "as")
        if alias and "/join/" in url:
            join = str(alias)
        elif alias and "/inaccessible/" in url:
            inaccessible = str(alias)
        elif alias and "/tag/" in url:
            tag = str(alias)
    return join, inaccessible, tag


def _fill_subgraphs(
    subgraphs: dict[str, Subgraph],
    types: dict[str, tuple[TypeJoin, ...]],
    fields: dict[tuple[str, str], tuple[FieldJoin, ...]],
) -> None:
    keys: dict[str, dict[str, list[EntityKey]]] = {name: {} for name in subgraphs}
    interface_objects: dict[str, set[str]] = {name: set() for name in subgraphs}
    for type_name, joins in types.items():
        for join in joins:
            if join.key is not None:
                keys[join.graph].setdefault(type_name, []).append(EntityKey(join.key, join.resolvable))
            if join.is_interface_object:
                interface_objects[join.graph].add(type_name)
    for (type_name, field_name), field_joins in fields.items():
        for j in field_joins:
            directives = FieldDirectives(
                external=j.external, requires=j.requires, provides=j.provides, override_from=j.override_from
            )
            if directives != FieldDirectives():
                subgraphs[j.graph].fields[(type_name, field_name)] = directives
    for name, sub in subgraphs.items():
        sub.keys = {t: tuple(k) for t, k in keys[name].items()}
        sub.interface_objects = frozenset(interface_objects[name])
