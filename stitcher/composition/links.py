"""Links: fields a product adds to one source's type, resolved by another source's operation (:class:`Link`).

A link compiles into the IR the planner already knows, so the planner needs nothing new: one more subgraph per link
(``"members (link Loan.member)"``), served by the target service (its URL, kind, renames and REST binding), whose
schema is the linked type with the new field (and the key fields, ``@external`` there), the operation as its only
Query field (hidden: the target itself serves it to clients), and the types the operation returns, copied from the
target. The linked type is an entity of that subgraph keyed by the fields the arguments come from, resolved by the
operation (:class:`EntityResolver` with ``link`` set: the operation's result is the value of the new field, not the
entity itself). So ``{ loans { member { name } } }`` is planned as loans' root fetch, then an entity fetch to the
link subgraph with each loan's ``memberId`` (one request; batched when the operation takes a list), and the fields
of the members it returns are planned there, or beyond through the members' own keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import cast

from graphql import (
    DocumentNode,
    FieldDefinitionNode,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLUnionType,
    InterfaceTypeDefinitionNode,
    NamedTypeNode,
    NameNode,
    ObjectTypeDefinitionNode,
    StringValueNode,
    TypeDefinitionNode,
    build_ast_schema,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
    is_required_argument,
    parse_type,
)

from stitcher.composition.state import _is_builtin
from stitcher.graphql_source import type_definition_node
from stitcher.ir import EntityKey, EntityResolver, FieldDirectives, SourceKind, Subgraph
from stitcher.sources import Link

__all__ = ["link_subgraph_name", "link_subgraphs"]

# A key value may go to an argument of a compatible scalar: an ID takes a String or an Int, as GraphQL coerces.
_COMPATIBLE = {("ID", "String"), ("ID", "Int"), ("String", "ID")}


def link_subgraph_name(link: Link) -> str:
    return f"{link.service} (link {link.type_name}.{link.field})"


def link_subgraphs(subgraphs: Sequence[Subgraph], links: Sequence[Link]) -> tuple[list[Subgraph], list[str]]:
    """One subgraph per link, and the problems of the links that do not fit (each names ``links[i].<field>``)."""
    out: list[Subgraph] = []
    problems: list[str] = []
    for index, link in enumerate(links):
        where = f"links[{index}]"
        implementations = _implementations(subgraphs, link.type_name)
        if implementations is None:
            found = _link_subgraph(subgraphs, link, where, problems)
            out.extend([found] if found is not None else [])
            continue
        # A link on an interface: a field of the interface, and of each implementation (one link subgraph each, so
        # it is planned per concrete type).
        if not implementations:
            problems.append(f"{where}.type: no object type implements the interface {link.type_name}")
        taken = [s.name for s in subgraphs if link.field in _fields(s, link.type_name, interface=True)]
        if taken:
            problems.append(
                f'{where}.field: {link.type_name}.{link.field} exists already (in service "{taken[0]}"); choose a '
                "free name for the link"
            )
            continue
        for implementation in implementations:
            each = dataclasses.replace(link, type_name=implementation)
            found = _link_subgraph(subgraphs, each, where, problems, interface=link.type_name)
            out.extend([found] if found is not None else [])
    return out, list(dict.fromkeys(problems))  # an interface's implementations may share a problem


def _implementations(subgraphs: Sequence[Subgraph], name: str) -> list[str] | None:
    """The object types implementing interface ``name`` in any source (None when no source has that interface)."""
    found: dict[str, None] | None = None
    for sub in subgraphs:
        interface = sub.schema.get_type(name) if sub.schema is not None else None
        if not isinstance(interface, GraphQLInterfaceType) or name in sub.hidden_types:
            continue
        assert sub.schema is not None
        found = found if found is not None else {}
        for possible in sub.schema.get_possible_types(interface):
            if _object_type(sub, possible.name) is not None:
                found[possible.name] = None
    return list(found) if found is not None else None


def _link_subgraph(
    subgraphs: Sequence[Subgraph], link: Link, where: str, problems: list[str], interface: str | None = None
) -> Subgraph | None:
    """The subgraph of one link (``interface``: the interface the link is on, ``link.type_name`` one of its
    implementations)."""
    before = len(problems)
    by_name = {s.name: s for s in subgraphs}
    target = by_name.get(link.service)
    if target is None or target.schema is None:
        problems.append(f"{where}.service: {link.service} is not a source of the product ({', '.join(by_name)})")
        return None
    owners = [s for s in subgraphs if _object_type(s, link.type_name) is not None]
    if not owners:
        problems.append(
            f"{where}.type: no source defines an object type or interface {link.type_name} (names are the product's)"
        )
        return None
    taken = [s.name for s in owners if link.field in _fields(s, link.type_name)]
    if taken:
        problems.append(
            f'{where}.field: {link.type_name}.{link.field} exists already (in service "{taken[0]}"); choose a free '
            "name for the link"
        )
    operation = _operation(target, link.operation)
    if operation is None:
        query = target.schema.query_type
        known = ", ".join(list(query.fields)[:20]) if query is not None else "none"
        problems.append(
            f'{where}.operation: service "{target.name}" has no Query field or operation {link.operation} (its Query '
            f"fields: {known})"
        )
        return None
    field_name, definition = operation
    coordinate = f"Query.{field_name} of service {target.name!r}"
    source_fields = _source_fields(owners, link.type_name)
    for added, added_field in _interface_object_fields(subgraphs, owners, link.type_name).items():
        source_fields.setdefault(added, added_field)
    for argument, source in link.arguments.items():
        arg = definition.args.get(argument)
        if arg is None:
            problems.append(
                f"{where}.arguments.{argument}: {coordinate} has no argument {argument} (arguments: "
                f"{', '.join(definition.args) or 'none'})"
            )
            continue
        given = source_fields.get(source)
        if given is None:
            problems.append(f"{where}.arguments.{argument}: {link.type_name} has no field {source}")
            continue
        if not is_leaf_type(get_named_type(given.type)):
            problems.append(
                f"{where}.arguments.{argument}: {link.type_name}.{source} is {given.type}; a link passes scalar or "
                "enum fields"
            )
            continue
        wanted, value = get_named_type(arg.type).name, get_named_type(given.type).name
        if wanted != value and (wanted, value) not in _COMPATIBLE:
            problems.append(
                f"{where}.arguments.{argument}: {link.type_name}.{source} is {given.type} but "
                f"{field_name}({argument}:) takes {arg.type}"
            )
    missing = [n for n, a in definition.args.items() if n not in link.arguments and is_required_argument(a)]
    if missing:
        problems.append(f"{where}.arguments: {coordinate} also requires {', '.join(missing)}; map it to a field")
    sources = list(link.arguments.values())
    if len(set(sources)) != len(sources):
        problems.append(f"{where}.arguments: each argument needs a field of its own")
    if len(problems) > before:
        return None
    # One list argument taking a scalar field: every object's value in one call, the results in the same order.
    only = next(iter(link.arguments)) if len(link.arguments) == 1 else None
    batched = (
        only is not None
        and _takes_a_list(definition, only)
        and not is_list_type(get_nullable_type(source_fields[link.arguments[only]].type))
    )
    # The new field's type: the operation's (its item type when batched), nullable (a link may find nothing).
    result = cast(GraphQLOutputType, get_nullable_type(definition.type))
    if batched:
        if not isinstance(result, GraphQLList):
            problems.append(
                f"{where}.operation: {coordinate} takes a list ({only}:) but returns {definition.type}, not a list "
                "in the order of the values"
            )
            return None
        result = cast(GraphQLOutputType, get_nullable_type(result.of_type))
    if link.returns is not None and get_named_type(result).name != link.returns:
        problems.append(
            f"{where}.returns: {coordinate} returns {get_named_type(result).name}"
            + (f" ({definition.type})" if str(definition.type) != get_named_type(result).name else "")
            + f", not {link.returns}"
        )
        return None
    reachable = _reachable(target.schema, get_named_type(definition.type))
    # A self-link (``User.manager`` from ``user(id: managerId)``): the operation returns the linked type itself, so
    # the link's subgraph has the target's whole type plus the new field. There the new field is resolved only as
    # the object of the link's own fetch (as a field with @requires is), never in place inside a result: a
    # manager's manager is one more call.
    itself = link.type_name in reachable
    if interface is not None and (itself or interface in reachable):
        problems.append(
            f"{where}.type: {coordinate} returns {interface} objects itself (through {definition.type}); a link on "
            f"an interface cannot return it: link each implementation instead"
        )
        return None
    if itself and any(
        _object_type(target, link.type_name) is None or s not in _fields(target, link.type_name) for s in sources
    ):
        problems.append(
            f"{where}.type: {coordinate} returns {link.type_name} objects itself (through {definition.type}), but "
            f'service "{target.name}" does not define the fields the arguments come from on its {link.type_name}'
        )
        return None
    schema = _link_schema(target.schema, link, field_name, result, source_fields, reachable, interface)
    name = link_subgraph_name(link)
    key = " ".join(sources)
    fields = {k: v for k, v in target.fields.items() if k[0] in reachable}
    fields[("Query", field_name)] = FieldDirectives(inaccessible=True)
    if itself:
        fields[(link.type_name, link.field)] = FieldDirectives(requires=key)
    for source in () if itself else sources:
        fields[(link.type_name, source)] = FieldDirectives(external=True)
    return Subgraph(
        name=name,
        kind=SourceKind.OPENAPI if target.kind is SourceKind.OPENAPI else SourceKind.GRAPHQL,
        schema=schema,
        url=target.url,
        keys={link.type_name: (EntityKey(key),)},
        resolvers={
            link.type_name: EntityResolver(
                type_name=link.type_name,
                key=key,
                field=field_name,
                argument=only or "",
                batched=batched,
                key_arguments=() if only is not None else tuple(link.arguments),
                link=link.field,
            )
        },
        fields=fields,
        rest=target.rest,
        renames=target.renames,
        inaccessible=frozenset(c for c in target.inaccessible if c.partition(".")[0] in reachable),
        tags={c: t for c, t in target.tags.items() if c.partition(".")[0] in reachable},
        hidden_fields=frozenset({f"Query.{field_name}"})
        | {c for c in target.hidden_fields if c.partition(".")[0] in reachable},
        hidden_types=frozenset(t for t in target.hidden_types if t in reachable),
        link_of=target.name,
    )


def _object_type(sub: Subgraph, name: str) -> GraphQLObjectType | None:
    found = sub.schema.get_type(name) if sub.schema is not None else None
    if isinstance(found, GraphQLObjectType) and name not in sub.hidden_types and name not in sub.interface_objects:
        return found
    return None


def _fields(sub: Subgraph, type_name: str, interface: bool = False) -> dict[str, GraphQLField]:
    """The fields of object type ``type_name`` of ``sub`` (``interface``: of interface ``type_name``); an interface
    object's fields when ``sub`` knows ``type_name`` only as an @interfaceObject."""
    if type_name in sub.interface_objects and sub.schema is not None:
        named = sub.schema.get_type(type_name)
        return dict(named.fields) if isinstance(named, GraphQLObjectType) else {}
    found = _object_type(sub, type_name)
    if interface and sub.schema is not None and type_name not in sub.hidden_types:
        named = sub.schema.get_type(type_name)
        found = named if isinstance(named, GraphQLInterfaceType) else None  # type: ignore[assignment]
    return dict(found.fields) if found is not None else {}


def _source_fields(owners: Sequence[Subgraph], type_name: str) -> dict[str, GraphQLField]:
    """The fields of the linked type the product has (any source's, first definition)."""
    out: dict[str, GraphQLField] = {}
    for sub in owners:
        for name, definition in _fields(sub, type_name).items():
            if f"{type_name}.{name}" not in sub.hidden_fields:
                out.setdefault(name, definition)
    return out


def _interface_object_fields(
    subgraphs: Sequence[Subgraph], owners: Sequence[Subgraph], type_name: str
) -> dict[str, GraphQLField]:
    """The fields an @interfaceObject adds to object type ``type_name`` (through an interface it implements in the
    services defining it): a link may pass them too, the planner fetches them through the interface's key first,
    as it fetches a key the source lacks."""
    interfaces = {i.name for sub in owners if (found := _object_type(sub, type_name)) for i in found.interfaces}
    out: dict[str, GraphQLField] = {}
    for interface in sorted(interfaces):
        through = [s for s in subgraphs if interface in s.interface_objects]
        for name, definition in _source_fields(through, interface).items():
            out.setdefault(name, definition)
    return out


def _operation(target: Subgraph, operation: str) -> tuple[str, GraphQLField] | None:
    """(Query field, definition) of ``operation``: a Query field, or for REST the field bound to that operationId."""
    assert target.schema is not None
    query = target.schema.query_type
    if query is None:
        return None
    if operation in query.fields:
        return operation, query.fields[operation]
    if target.rest is not None:
        for (root, field_name), bound in target.rest.operations.items():
            if root == "Query" and bound.operation_id == operation and field_name in query.fields:
                return field_name, query.fields[field_name]
    return None


def _takes_a_list(definition: GraphQLField, argument: str) -> bool:
    return is_list_type(get_nullable_type(definition.args[argument].type))


def _reachable(schema: GraphQLSchema, start: GraphQLNamedType) -> set[str]:
    """The types a result of type ``start`` may hold: field types, argument types, interfaces, possible types."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        named = todo.pop()
        if named.name in seen or _is_builtin(named):
            continue
        seen.add(named.name)
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for definition in named.fields.values():
                todo.append(get_named_type(definition.type))
                todo.extend(get_named_type(a.type) for a in definition.args.values())
            todo.extend(named.interfaces)
            if isinstance(named, GraphQLInterfaceType):
                todo.extend(schema.get_possible_types(named))
        elif isinstance(named, GraphQLUnionType):
            todo.extend(named.types)
        elif isinstance(named, GraphQLInputObjectType):
            todo.extend(get_named_type(f.type) for f in named.fields.values())
    return seen


def _link_schema(
    schema: GraphQLSchema,
    link: Link,
    field_name: str,
    result: GraphQLOutputType,
    source_fields: dict[str, GraphQLField],
    reachable: set[str],
    interface: str | None = None,
) -> GraphQLSchema:
    query = schema.query_type
    assert query is not None
    query_node = type_definition_node(query)
    assert isinstance(query_node, ObjectTypeDefinitionNode)
    operation_node = next(f for f in query_node.fields or () if f.name.value == field_name)
    query_node = ObjectTypeDefinitionNode(name=NameNode(value="Query"), fields=(operation_node,), interfaces=())
    passed = ", ".join(f"{a}: {interface or link.type_name}.{s}" for a, s in link.arguments.items())
    description = link.description or f"Linked by the product: {field_name}({passed}) of service {link.service}"
    linked_fields = [
        FieldDefinitionNode(
            name=NameNode(value=link.field),
            type=parse_type(str(result), no_location=True),
            arguments=(),
            directives=(),
            description=StringValueNode(value=description),
        ),
        *(
            FieldDefinitionNode(
                name=NameNode(value=source),
                type=parse_type(str(source_fields[source].type), no_location=True),
                arguments=(),
                directives=(),
            )
            for source in link.arguments.values()
        ),
    ]
    implements = (NamedTypeNode(name=NameNode(value=interface)),) if interface is not None else ()
    linked = ObjectTypeDefinitionNode(
        name=NameNode(value=link.type_name), fields=tuple(linked_fields), interfaces=implements
    )
    if link.type_name in reachable:  # a self-link: the target's own type, with the new field
        own = type_definition_node(schema.type_map[link.type_name])
        assert isinstance(own, ObjectTypeDefinitionNode)
        linked = dataclasses.replace(own, fields=(*(own.fields or ()), linked_fields[0]), directives=())
    definitions: list[TypeDefinitionNode] = [query_node, linked]
    if interface is not None:  # the interface gets the field too (each implementation's link subgraph says so)
        definitions.append(InterfaceTypeDefinitionNode(name=NameNode(value=interface), fields=(linked_fields[0],)))
    definitions.extend(type_definition_node(schema.type_map[n]) for n in sorted(reachable - {link.type_name}))
    return build_ast_schema(DocumentNode(definitions=tuple(definitions)), assume_valid_sdl=True)
