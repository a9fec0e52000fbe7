"""Print a composed product as a Federation v2 supergraph SDL (link v1.0, join v0.3), the shape Apollo's composition
prints, so Apollo Gateway or Hive Gateway can load it; Loom's own sources ride along (:mod:`.carried`)."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLUnionType,
    is_specified_directive,
)
from graphql.language.print_string import print_string

from stitcher.ir import SCHEMA_COORDINATE, FieldJoin, SourceKind, Supergraph
from stitcher.supergraph.carried import carried_definitions, graph_directive, schema_directive
from stitcher.supergraph.sdl import Hooks, distinct, print_directive_definition, print_with_hooks

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
        out += "".join(_directive("tag", name=tag) for tag in sg.tags.get(coordinate, ()))
        return out + "".join(f" {usage}" for usage in sg.directive_usages.get(coordinate, ()))

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
        type_graphs = distinct(j.graph for j in sg.types.get(type_name, ()))
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
    for url in distinct(sg.composed_directives.values()):  # the specs of the @composeDirective ones, as Apollo
        imported = ", ".join(f'"@{name}"' for name, spec in sorted(sg.composed_directives.items()) if spec == url)
        links.append(f"\n  @link(url: {print_string(url)}, import: [{imported}])")
    links.extend(f"\n  {usage}" for usage in sg.directive_usages.get(SCHEMA_COORDINATE, ()))
    links.append(schema_directive(sg))  # the sources, for Loom's gateway (stitcher.supergraph.carried)
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
        if not defining or len(defining) == len(graphql_subgraphs) or directive.name in sg.composed_directives:
            extra.append(print_directive_definition(directive, marks))
    hooks = Hooks(
        skip=lambda coordinate: False,
        type_directives=type_directives,
        field_directives=field_directives,
        enum_value_directives=enum_value_directives,
        argument_directives=marks,
        schema_directives="".join(links) + "\n",  # the block's brace goes on its own line
        extra=extra,
    )
    return print_with_hooks(full, hooks)


def _graphs_of(sg: Supergraph, type_name: str) -> list[str]:
    return distinct(j.graph for j in sg.types.get(type_name, ()))


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
