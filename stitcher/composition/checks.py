"""Checks on the merged result: @inaccessible references and reachability of every field."""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from graphql import (
    FieldNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InterfaceTypeDefinitionNode,
    ObjectTypeDefinitionNode,
    get_named_type,
    parse,
    print_ast,
)

from stitcher.composition.state import _Composer, _Def, _is_builtin
from stitcher.federation import (
    field_set_fields,
    parse_field_set,
)
from stitcher.ir import (
    SourceKind,
    Subgraph,
    TypeJoin,
)
from stitcher.supergraph.sdl import ROOT_TYPE_NAMES


def _field_lines(composer: _Composer, type_name: str) -> dict[str, str]:
    """The printed field lines of a merged type, by field name (for copying interface fields to implementations)."""
    block = composer.sdl.get(type_name)
    if block is None:
        return {}
    definition = parse(block).definitions[0]
    if isinstance(definition, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode):
        return {f.name.value: "  " + print_ast(f) for f in definition.fields or ()}
    return {}


def _check_inaccessible(composer: _Composer, definitions: dict[str, list[_Def]]) -> None:
    hidden = composer.inaccessible
    if not hidden:
        return  # nothing is @inaccessible, so nothing refers to what is
    if "Query" in hidden:
        composer.conflicts.append("Query: the Query type cannot be @inaccessible")
    for (type_name, field_name), _joins in composer.fields.items():
        coordinate = f"{type_name}.{field_name}"
        if type_name in hidden or coordinate in hidden:
            continue
        for d in definitions.get(type_name, []):
            gql_field = getattr(d.type, "fields", {}).get(field_name)
            if gql_field is None:
                continue
            for arg_name, arg in gql_field.args.items():
                arg_type = get_named_type(arg.type).name
                if arg_type in hidden and f"{coordinate}({arg_name}:)" not in hidden:
                    composer.conflicts.append(
                        f"{coordinate}({arg_name}:): takes {arg_type}, which is @inaccessible in service "
                        f'"{_hider(definitions, arg_type)}", but the argument is not (service "{d.sub.name}")'
                    )
            returned = get_named_type(gql_field.type).name
            if returned in hidden:
                composer.conflicts.append(
                    f"{coordinate}: returns {returned}, which is @inaccessible in service "
                    f'"{_hider(definitions, returned)}", but the field is not; mark {coordinate} @inaccessible '
                    f'(or hide it) in service "{d.sub.name}" too'
                )
                break


def _hider(definitions: dict[str, list[_Def]], type_name: str) -> str:
    return next((d.sub.name for d in definitions.get(type_name, []) if type_name in d.sub.inaccessible), "?")


def _check_reachability(
    composer: _Composer, definitions: dict[str, list[_Def]], skip: AbstractSet[str] = frozenset()
) -> None:
    """Every field of an object type must be resolvable from every subgraph that returns that type: by the
    subgraph itself, or after entity jumps to subgraphs whose resolvable key the subgraphs reached so far can
    provide (Apollo calls this satisfiability; without it a query fails only when it is run)."""
    graphs_by_type = {name: _distinct_graphs(joins) for name, joins in composer.types.items()}
    resolving: dict[tuple[str, str], set[str]] = {}  # (type, graph) -> fields that graph resolves itself
    for (type_name, field_name), joins in composer.fields.items():
        for join in joins:
            if not join.external:
                resolving.setdefault((type_name, join.graph), set()).add(field_name)
    subs = {s.name: s for s in composer.subgraphs}
    fields_by_type: dict[str, list[str]] = {}
    for type_name, field_name in composer.fields:
        fields_by_type.setdefault(type_name, []).append(field_name)
    implementations = composer.implements
    for sub in composer.subgraphs:
        assert sub.schema is not None
        reached_types, provided = _types_returned(sub.schema, sub)
        for type_name in sorted(reached_types):
            defs = definitions.get(type_name, [])
            if type_name in ROOT_TYPE_NAMES or type_name in composer.inaccessible or type_name in skip:
                continue
            if not any(isinstance(d.type, GraphQLObjectType) and d.sub is sub for d in defs):
                continue
            if any(type_name in d.sub.interface_objects for d in defs):
                continue
            fields = [f for f in fields_by_type.get(type_name, ()) if f"{type_name}.{f}" not in composer.inaccessible]
            interfaces = implementations.get(type_name, [])
            reached = _reached_graphs(composer, subs, type_name, interfaces, sub.name, graphs_by_type, resolving)
            available = set(provided.get(type_name, set()))
            for graph in reached:
                available |= resolving.get((type_name, graph), set())
            for field_name in fields:
                if field_name in available:
                    continue
                owners = [j.graph for j in composer.fields[(type_name, field_name)] if not j.external]
                composer.conflicts.append(
                    f"{type_name}.{field_name}: cannot be resolved for a {type_name} returned by service "
                    f'"{sub.name}": it is resolved by service '
                    + " and ".join(f'"{o}"' for o in owners)
                    + f', but no key of {type_name} there can be provided by service "{sub.name}" ('
                    + " or ".join(_key_hint(subs[o], type_name) for o in owners)
                    + f', or resolve the field in "{sub.name}" too)'
                )


def _key_hint(owner: Subgraph, type_name: str) -> str:
    """What gives ``type_name`` a key in ``owner``: @key in a Federation subgraph, an entity lookup otherwise."""
    if owner.kind is SourceKind.FEDERATION:
        return f'add a resolvable @key to {type_name} in "{owner.name}"'
    lookup = "a Query field" if owner.kind is SourceKind.GRAPHQL else "an operation"
    return (
        f'declare {type_name} an entity of service "{owner.name}" (spec.entities.{type_name}: a key '
        f"and {lookup} that fetches it by that key)"
    )


def _distinct_graphs(joins: tuple[TypeJoin, ...]) -> list[str]:
    return list(dict.fromkeys(j.graph for j in joins))


def _types_returned(schema: GraphQLSchema, sub: Subgraph) -> tuple[set[str], dict[str, set[str]]]:
    """Object types a subgraph can return (field results and the possible types of abstract ones), and the
    fields its @provides make available per type."""
    returned: set[str] = set()
    provided: dict[str, set[str]] = {}
    for type_name, named in schema.type_map.items():
        if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType) or _is_builtin(named):
            continue
        for field_name, gql_field in named.fields.items():
            target = get_named_type(gql_field.type)
            if isinstance(target, GraphQLObjectType):
                returned.add(target.name)
            elif isinstance(target, GraphQLInterfaceType | GraphQLUnionType):
                returned.update(t.name for t in schema.get_possible_types(target))
            directives = sub.fields.get((type_name, field_name))
            if directives is not None and directives.provides:
                selection = parse_field_set(directives.provides)
                provided.setdefault(target.name, set()).update(
                    s.name.value for s in selection.selections if isinstance(s, FieldNode)
                )
    return returned, provided


def _reached_graphs(
    composer: _Composer,
    subs: dict[str, Subgraph],
    type_name: str,
    interfaces: list[str],
    start: str,
    graphs_by_type: dict[str, list[str]],
    resolving: dict[tuple[str, str], set[str]],
    visiting: frozenset[str] = frozenset(),
) -> set[str]:
    """Subgraphs an entity of ``type_name`` can reach from ``start`` by entity jumps. A key's fields may come from
    several of the subgraphs reached so far, and a nested key field (``books { isbn }``) from a subgraph that the
    nested entity reaches by its own jumps, as Apollo's satisfiability allows (the planner fetches them first)."""
    visiting = visiting | {type_name}

    def available(reached: set[str], t: str, f: str) -> bool:
        if any(f in resolving.get((t, g), set()) for g in reached):
            return True
        if t in visiting:
            return False
        for source in reached:
            if source in graphs_by_type.get(t, ()):
                nested = _reached_graphs(composer, subs, t, [], source, graphs_by_type, resolving, visiting)
                if any(f in resolving.get((t, g), set()) for g in nested):
                    return True
        return False

    targets: list[tuple[str, str, str]] = [  # (graph, key, type the key is on)
        (j.graph, j.key, type_name) for j in composer.types.get(type_name, ()) if j.key and j.resolvable
    ]
    for interface in interfaces:  # interface objects resolve implementations through the interface's key
        targets.extend(
            (j.graph, j.key, type_name)
            for j in composer.types.get(interface, ())
            if j.is_interface_object and j.key and j.resolvable
        )
    reached = {start}
    changed = True
    while changed:
        changed = False
        for graph, key, on_type in targets:
            if graph in reached:
                continue
            # read the key where it is declared, else (an interface object's key) in a reached subgraph of the type
            readers = [graph, *(s for s in sorted(reached) if s in graphs_by_type.get(on_type, ()))]
            needed = None
            for reader in readers:
                schema = subs[reader].schema
                if schema is None or schema.get_type(on_type) is None:
                    continue
                try:
                    needed = field_set_fields(schema, on_type, key)
                    break
                except ValueError:
                    continue
            if needed is None or not any(s in graphs_by_type.get(on_type, ()) for s in reached):
                continue
            if all(available(reached, t, f) for t, f in needed):
                reached.add(graph)
                changed = True
    return reached
