"""Load a Federation v2 supergraph SDL (ours, Apollo's or Hive's) into the IR, recomposing the sources a Loom
supergraph carries (:mod:`.carried`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
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
    GraphQLError,
    GraphQLSchema,
    InputObjectTypeDefinitionNode,
    InputObjectTypeExtensionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
    ListValueNode,
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
    parse,
    parse_type,
    print_ast,
)

from stitcher.errors import SchemaError
from stitcher.federation import format_graphql_error
from stitcher.ir import (
    SCHEMA_COORDINATE,
    EntityKey,
    FieldDirectives,
    FieldJoin,
    SourceKind,
    Subgraph,
    Supergraph,
    TypeJoin,
)
from stitcher.supergraph.carried import LOOM_SPEC, recomposed
from stitcher.supergraph.printer import print_supergraph_sdl
from stitcher.supergraph.sdl import (
    EXECUTABLE_LOCATIONS,
    Hooks,
    distinct,
    filter_document,
    print_with_hooks,
    schema_from_document,
)


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

    Everything is read from the one parsed document (parsing is the costly part for big supergraphs). A Loom
    supergraph is the composition of the sources it carries: when printing that composition gives the SDL back
    exactly, nothing else is built from the supergraph (its own schemas would only be compared and dropped: they
    were more than half of a gateway's start-up on a 3,200-type supergraph)."""
    from stitcher.composition._gc import _without_gc_pauses  # composition imports this package

    with _without_gc_pauses():  # the parsed document and the schemas live on: collecting meanwhile finds nothing
        try:
            document = parse(sdl, no_location=True)
        except GraphQLError as exc:
            raise SchemaError(f"supergraph SDL is invalid: {format_graphql_error(exc)}") from exc
        return _load(sdl, document)


def _load(sdl: str, document: DocumentNode) -> Supergraph:
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
    composed = recomposed(document, graph_directives)
    if composed is not None and print_supergraph_sdl(composed) == sdl:
        return composed  # exactly what Loom prints for these sources: the same schema, no need to build it again

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
    kept_directives = _composed_directives(schema_nodes, directive_names)
    usages: dict[str, tuple[str, ...]] = {}

    def read_tags(coordinate: str, nodes: Iterable[Any]) -> None:
        """@tag, and the applications of directives composed with @composeDirective, of one coordinate."""
        tagged = [t for d in _named(nodes, tag_name) if isinstance(t := _argument_value(d, "name"), str)]
        if tagged:
            tags[coordinate] = tuple(dict.fromkeys(tagged))
        found = [print_ast(d) for node in nodes for d in node.directives or () if d.name.value in kept_directives]
        if found:
            usages[coordinate] = tuple(dict.fromkeys(found))

    read_tags(SCHEMA_COORDINATE, schema_nodes)  # only composed directives: @tag is not on SCHEMA
    for definition in document.definitions:  # ``directive @x(a: Int @foo) on FIELD``
        if isinstance(definition, DirectiveDefinitionNode):
            for argument in definition.arguments or ():
                read_tags(f"@{definition.name.value}({argument.name.value}:)", [argument])
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
        type_graphs = distinct(j.graph for j in type_joins)
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
    # subgraph defines it); the planner forwards them to the subgraphs. Those composed with @composeDirective are
    # kept whatever their locations.
    executable = tuple(
        d
        for d in document.definitions
        if isinstance(d, DirectiveDefinitionNode)
        and (all(loc.value in EXECUTABLE_LOCATIONS for loc in d.locations) or d.name.value in kept_directives)
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
    if composed is not None:  # Loom's own supergraph, edited or printed by another version: the product its sources
        # compose into, checked against it.
        # Types only: the SDL prints only the executable directives every subgraph defines (Apollo's rule), the
        # composition knows which subgraph defines each.
        if print_with_hooks(composed.schema, Hooks()) != print_with_hooks(api, Hooks()):
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
        composed_directives=kept_directives,
        directive_usages=usages,
    )


def _composed_directives(schema_nodes: list[Any], defined: set[str]) -> dict[str, str]:
    """Directives a supergraph carries from a spec of its own (``@link(url:, import: ["@foo"])`` to anything but
    Apollo's and Loom's specs), as composition writes those a subgraph listed in @composeDirective: name -> URL."""
    out: dict[str, str] = {}
    for link in _named(schema_nodes, "link"):
        url = str(_argument_value(link, "url") or "")
        if url.startswith(("https://specs.apollo.dev/", LOOM_SPEC)):
            continue
        for argument in link.arguments or ():
            if argument.name.value == "import" and isinstance(argument.value, ListValueNode):
                for item in argument.value.values:
                    name = item.value.lstrip("@") if isinstance(item, StringValueNode) else ""
                    if name in defined:
                        out[name] = url
    return out


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
