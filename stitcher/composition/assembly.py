"""Subgraphs -> one supergraph: collect definitions, merge each type, check, build the API schema."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from graphql import (
    DefinitionNode,
    DirectiveDefinitionNode,
    DocumentNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    TypeDefinitionNode,
    build_ast_schema,
    get_named_type,
    parse,
)

from stitcher.composition.checks import _check_inaccessible, _check_reachability, _field_lines
from stitcher.composition.directives import _merge_directives
from stitcher.composition.fields import _merge_composite
from stitcher.composition.state import _Composer, _Def, _is_builtin, _own_node
from stitcher.composition.values import _merge_enum, _merge_input, _merge_scalar, _merge_union
from stitcher.errors import CompositionError
from stitcher.federation import (
    field_set_fields,
    format_graphql_error,
)
from stitcher.graphql_source import SharedNodes, type_definition_node, validate_like_graphql_js
from stitcher.ir import (
    FieldDirectives,
    FieldJoin,
    Subgraph,
    Supergraph,
    TypeJoin,
)
from stitcher.supergraph.sdl import ROOT_TYPE_NAMES, filter_document


def graph_enum_names(names: Sequence[str]) -> dict[str, str]:
    """Subgraph name -> ``join__Graph`` member: upper snake case, a valid GraphQL name, unique."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        base = re.sub(r"[^A-Za-z0-9]+", "_", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)).strip("_").upper() or "G"
        if base[0].isdigit():
            base = f"_{base}"
        member, n = base, 1
        while member in used:
            n += 1
            member = f"{base}_{n}"
        used.add(member)
        out[name] = member
    return out


def _left_out_types(composer: _Composer, subgraphs: Sequence[Subgraph]) -> set[tuple[str, str]]:
    """(service, type) pairs where the service hides the type and another service exposes it: that service's
    definition takes no part in the merge or its conflicts. Its visible fields must not return the type (the
    product's type would then be resolved with the hiding service's shape): a conflict that says so."""
    exposed = {
        name
        for sub in subgraphs
        if sub.schema is not None
        for name in sub.schema.type_map
        if name not in sub.hidden_types and name not in sub.inaccessible
    }
    left_out: set[tuple[str, str]] = set()
    for sub in subgraphs:
        if sub.schema is None:
            continue
        for name in sorted(sub.hidden_types & exposed):
            left_out.add((sub.name, name))
            for owner in sub.schema.type_map.values():
                if _is_builtin(owner) or owner.name in sub.hidden_types:
                    continue
                if not isinstance(owner, GraphQLObjectType | GraphQLInterfaceType):
                    continue
                for field_name, fld in owner.fields.items():
                    visible = not (
                        f"{owner.name}.{field_name}" in sub.hidden_fields
                        or sub.fields.get((owner.name, field_name), FieldDirectives()).inaccessible
                    )
                    if visible and get_named_type(fld.type).name == name:
                        composer.conflicts.append(
                            f'service "{sub.name}" hides type {name} but its field {owner.name}.{field_name} '
                            f"returns it: hide {owner.name}.{field_name} too"
                        )
    return left_out


def compose_subgraphs(
    subgraphs: Sequence[Subgraph], prefer: Mapping[str, str] | None = None, *, reuse_types: bool = True
) -> Supergraph:
    """Merge subgraphs (already in product names) into a supergraph; ``prefer`` names, per shared type, the service
    whose definition wins (:class:`stitcher.sources.Stitching`). ``reuse_types=False`` always builds the API schema
    from the composed document, never from a lone subgraph's own types (:func:`_unchanged_api_schema`); the two
    give the same schema, which the tests check."""
    composer = _Composer(list(subgraphs), prefer=dict(prefer or {}))
    definitions: dict[str, list[_Def]] = {}
    left_out = _left_out_types(composer, subgraphs)
    for sub in subgraphs:
        assert sub.schema is not None, f"subgraph {sub.name} has no schema"
        composer.warnings.extend(f'service "{sub.name}": {w}' for w in sub.warnings)
        composer.inaccessible.update(c for c in sub.inaccessible if (sub.name, c) not in left_out)
        composer.inaccessible.update(
            f"{t}.{f}" for (t, f), d in sub.fields.items() if d.inaccessible and f"{t}.{f}" not in sub.hidden_fields
        )
        for type_name, keys in sub.keys.items():
            for key in keys:
                try:
                    composer.key_fields.update(
                        (sub.name, t, f) for t, f in field_set_fields(sub.schema, type_name, key.fields)
                    )
                except ValueError as exc:
                    composer.conflicts.append(f'service "{sub.name}": @key on {type_name}: {exc}')
        for name, named in sub.schema.type_map.items():
            if not _is_builtin(named) and (sub.name, name) not in left_out:
                definitions.setdefault(name, []).append(_Def(sub, named))
    if "Query" not in definitions:
        composer.conflicts.append("no service defines a Query type: a product needs at least one Query field")

    _check_prefer(composer, definitions)
    for name in _type_order(definitions):
        defs = definitions[name]
        kind = _kind_of(defs)
        if kind is None:
            continue
        composer.types[name] = _type_joins(name, defs)
        own_node = _own_node(defs)  # before a prefer leaves one of several definitions
        defs = _preferred_first(composer, name, kind, defs)
        if kind in ("object", "interface"):
            _merge_composite(composer, name, kind, defs)
        elif kind == "union":
            _merge_union(composer, name, defs, own_node=own_node)
        elif kind == "enum":
            _merge_enum(composer, name, defs, own_node=own_node)
        elif kind == "input":
            _merge_input(composer, name, defs, own_node=own_node)
        else:
            _merge_scalar(composer, name, defs, own_node=own_node)
        if (
            kind in ("object", "interface")
            and any(isinstance(d.type, GraphQLObjectType) and name in d.sub.interface_objects for d in defs)
            and kind != "interface"
        ):
            composer.conflicts.append(
                f"{name}: @interfaceObject in service "
                + ", ".join(f'"{d.sub.name}"' for d in defs if name in d.sub.interface_objects)
                + " but no service defines an interface with that name"
            )
    for name, defs in definitions.items():
        kinds = {_kind(d) for d in defs}
        if len(kinds) > 1:
            first = defs[0]
            for other in defs[1:]:
                if _kind(other) != _kind(first):
                    composer.conflicts.append(
                        f'{name}: {_kind(first)} in service "{first.sub.name}" vs {_kind(other)} '
                        f'in service "{other.sub.name}"'
                    )
    _propagate_interface_objects(composer, definitions)
    _merge_directives(composer)
    if "Query" in composer.types:  # every Federation subgraph has a Query root (for _entities), as Apollo records
        query_graphs = {j.graph for j in composer.types["Query"]}
        composer.types["Query"] = tuple(
            sorted(
                (*composer.types["Query"], *(TypeJoin(s.name) for s in subgraphs if s.name not in query_graphs)),
                key=lambda j: [s.name for s in subgraphs].index(j.graph),
            )
        )
    _check_inaccessible(composer, definitions)
    # Reachability too, so one run reports every conflict (it skips the types already in conflict, whose joins
    # are incomplete and would only add noise).
    in_conflict = {re.split(r"[.:(]", c, maxsplit=1)[0] for c in composer.conflicts}
    _check_reachability(composer, definitions, skip=in_conflict)
    if composer.conflicts:
        raise CompositionError(list(dict.fromkeys(composer.conflicts)))
    if reuse_types and (schema := _unchanged_api_schema(composer, definitions)) is not None:
        return _supergraph(composer, subgraphs, schema, None)
    try:
        document, made = _composed_document(composer, definitions)
        # The definitions made from OpenAPI or introspected types apply no directive the API schema leaves out:
        # with nothing @inaccessible, filtering them is walking them for nothing.
        plain = (lambda d: id(d) in made) if not composer.inaccessible else (lambda d: False)
        api = filter_document(document, composer.inaccessible, plain=plain)  # it leaves out directive definitions
        kept = tuple(d for d in document.definitions if isinstance(d, DirectiveDefinitionNode))
        schema = _api_schema(composer, DocumentNode(definitions=(*api.definitions, *kept)))
        full = build_ast_schema(document, assume_valid_sdl=True) if composer.inaccessible else None
    except (GraphQLError, ValueError, TypeError) as exc:
        message = format_graphql_error(exc) if isinstance(exc, GraphQLError) else str(exc)
        raise CompositionError([f"the composed schema is invalid: {message}"]) from exc
    return _supergraph(composer, subgraphs, schema, full)


def _supergraph(
    composer: _Composer, subgraphs: Sequence[Subgraph], schema: GraphQLSchema, full: GraphQLSchema | None
) -> Supergraph:
    return Supergraph(
        schema=schema,
        subgraphs={s.name: s for s in subgraphs},
        types=composer.types,
        fields=composer.fields,
        warnings=composer.warnings,
        graph_enum=graph_enum_names([s.name for s in subgraphs]),
        full_schema=full,
        inaccessible=frozenset(composer.inaccessible),
        tags=_tags(subgraphs),
        composed_directives=composer.composed_directives,
        directive_usages=composer.directive_usages,
    )


def _check_prefer(composer: _Composer, definitions: dict[str, list[_Def]]) -> None:
    """Each ``prefer`` entry names a type that the named source defines, and that is not a root type."""
    sources = [s.name for s in composer.subgraphs]
    for type_name, service in composer.prefer.items():
        where = f"prefer.{type_name}"
        if service not in sources:
            listed = ", ".join(sources)
            composer.conflicts.append(f"{where}: {service} is not a source of the product (sources: {listed})")
        elif type_name in ROOT_TYPE_NAMES:
            composer.conflicts.append(
                f"{where}: {type_name} is a root type, merged field by field; rename or hide the root fields that clash"
            )
        elif type_name not in definitions:
            composer.conflicts.append(f"{where}: no source defines a type {type_name} (names are the product's)")
        elif all(d.sub.name != service for d in definitions[type_name]):
            defined = ", ".join(f'"{d.sub.name}"' for d in definitions[type_name])
            composer.conflicts.append(
                f'{where}: service "{service}" does not define {type_name} (defined by {defined})'
            )


def _preferred_first(composer: _Composer, name: str, kind: str, defs: list[_Def]) -> list[_Def]:
    """The definitions that take part in the merge of ``name``: with a ``prefer``, the preferred one first (its
    descriptions win), and for an enum, input, union or scalar that one alone."""
    service = composer.prefer.get(name)
    chosen = [d for d in defs if d.sub.name == service]
    if not chosen:
        return defs
    if kind in ("object", "interface"):
        return chosen + [d for d in defs if d.sub.name != service]
    return chosen


def _composed_document(composer: _Composer, definitions: dict[str, list[_Def]]) -> tuple[DocumentNode, set[int]]:
    """The merged definitions as one document. A type that one service alone defines, in one definition, is its
    own AST node (the merge would print it as it is, and parsing the print again was a third of composing a large
    schema); the merged ones are parsed from their printed SDL in one go. Also returns the ids of the definitions
    made from types (:func:`type_definition_node`)."""
    reused: dict[str, DefinitionNode] = {}
    shared = SharedNodes()
    made: set[int] = set()
    printed: list[str] = []
    for name, block in composer.sdl.items():
        # A link's copy of its target's type merges into what the target has (the linked type and the interface a
        # link on an interface adds its field to aside).
        defs = [d for d in definitions.get(name, []) if d.sub.link_of is None or name in _linked_types(d.sub)]
        if len(defs) != 1 or defs[0].type.extension_ast_nodes or name in composer.added_fields:
            assert block, f"{name}: merged without its printed fields but not one definition"
            printed.append(block)
            continue
        named = defs[0].type
        # An OpenAPI source or an introspection result has no AST: one is made from the type, as it is.
        if named.ast_node is not None:
            reused[name] = named.ast_node
        else:
            reused[name] = type_definition_node(named, shared)
            made.add(id(reused[name]))
    printed.extend(composer.directives.values())
    parsed = parse("\n\n".join(printed) + "\n", no_location=True).definitions if printed else ()
    by_name = {d.name.value: d for d in parsed if isinstance(d, TypeDefinitionNode)}
    ordered = [reused[name] if name in reused else by_name[name] for name in composer.sdl]
    directives = [d for d in parsed if isinstance(d, DirectiveDefinitionNode)]
    return DocumentNode(definitions=(*ordered, *directives)), made


def _unchanged_api_schema(composer: _Composer, definitions: dict[str, list[_Def]]) -> GraphQLSchema | None:
    """The API schema over a lone subgraph's own type objects, when composing would give back exactly those types:
    one service, nothing merged, added, filtered or printed, and types made without AST (an OpenAPI translation,
    an introspection result), which :func:`_composed_document` would turn into AST for ``build_ast_schema`` to turn
    back into the same types. For the largest OpenAPI specs that round trip and its validation were a third of
    composing, and its second copy of every type doubled the objects the cyclic collector walks after. The schema
    is new (in the composed order, with the specified directives alone, as ``build_ast_schema`` makes it); its
    types are shared with the subgraph's schema, which nothing changes once built. None: take the usual path."""
    if len(composer.subgraphs) != 1 or composer.inaccessible or composer.directives or composer.added_fields:
        return None
    sub = composer.subgraphs[0]
    own = sub.schema
    # Validated without errors (graphql-core caches the result), with the roots the composed document would name.
    if own is None or own._validation_errors != [] or sub.link_of is not None:
        return None
    # build_ast_schema takes the types named Query, Mutation and Subscription as the roots: the subgraph's roots
    # must be exactly those (a root named otherwise, or a type with a root's name that is not one: the usual path).
    roots = {"Query": own.query_type, "Mutation": own.mutation_type, "Subscription": own.subscription_type}
    if any(root is not None and (root.name != role or role not in composer.sdl) for role, root in roots.items()):
        return None
    types: list[GraphQLNamedType] = []
    for name in composer.sdl:
        defs = definitions.get(name, ())
        if len(defs) != 1 or defs[0].sub is not sub:
            return None
        named = defs[0].type
        if named.ast_node is not None or named.extension_ast_nodes or (name in roots and roots[name] is not named):
            return None
        types.append(named)
    schema = GraphQLSchema(
        query=own.query_type, mutation=own.mutation_type, subscription=own.subscription_type, types=types
    )
    if set(schema.type_map) != set(own.type_map):  # a type the composition left out is still referenced
        return None
    schema._validation_errors = []  # the same types and roots as the subgraph's schema, which was validated
    return schema


def _linked_types(sub: Subgraph) -> set[str]:
    """The types a link's subgraph adds a field to: the linked type and the interface it implements there."""
    assert sub.schema is not None
    out = set(sub.resolvers)
    for name in sub.resolvers:
        linked = sub.schema.get_type(name)
        if isinstance(linked, GraphQLObjectType):
            out.update(i.name for i in linked.interfaces)
    return out


def _api_schema(composer: _Composer, document: DocumentNode) -> GraphQLSchema:
    """The product's schema, validated like graphql-js 16 validates (draft-spec rules are warnings, reported once
    when a subgraph already reported them); ValueError lists every problem."""
    schema = build_ast_schema(document, assume_valid_sdl=True)
    errors, warnings = validate_like_graphql_js(schema)
    if errors:
        raise ValueError("; ".join(format_graphql_error(e) for e in errors))
    for warning in warnings:
        message = warning.partition(" (graphql-js 16")[0]
        if not any(message in w for w in composer.warnings):
            composer.warnings.append(f"composed schema: {warning}")
    return schema


def _tags(subgraphs: Sequence[Subgraph]) -> dict[str, tuple[str, ...]]:
    """Every subgraph's ``@tag`` names (fields, types, arguments, enum values, input fields), merged per coordinate
    (Apollo keeps the union)."""
    tags: dict[str, tuple[str, ...]] = {}
    for sub in subgraphs:
        found = [(f"{t}.{f}", d.tags) for (t, f), d in sub.fields.items() if d.tags]
        for coordinate, names in (*found, *sub.tags.items()):
            tags[coordinate] = tuple(dict.fromkeys((*tags.get(coordinate, ()), *names)))
    return tags


def _type_order(definitions: dict[str, list[_Def]]) -> list[str]:
    roots = [r for r in ROOT_TYPE_NAMES if r in definitions]
    return roots + sorted(n for n in definitions if n not in ROOT_TYPE_NAMES)


def _kind(d: _Def) -> str:
    named = d.type
    if isinstance(named, GraphQLObjectType):
        return "interface" if named.name in d.sub.interface_objects else "object type"
    if isinstance(named, GraphQLInterfaceType):
        return "interface"
    if isinstance(named, GraphQLUnionType):
        return "union"
    if isinstance(named, GraphQLEnumType):
        return "enum"
    if isinstance(named, GraphQLInputObjectType):
        return "input type"
    return "scalar"


def _kind_of(defs: list[_Def]) -> str | None:
    kinds = {_kind(d) for d in defs}
    if len(kinds) != 1:
        return None  # reported as a conflict
    kind = kinds.pop()
    if kind == "interface" and all(isinstance(d.type, GraphQLObjectType) for d in defs):
        return "object"  # only interface objects: reported as a conflict below
    return {"object type": "object", "input type": "input"}.get(kind, kind)


def _type_joins(name: str, defs: list[_Def]) -> tuple[TypeJoin, ...]:
    joins: list[TypeJoin] = []
    for d in defs:
        is_object = name in d.sub.interface_objects
        keys = d.sub.keys.get(name, ())
        if keys:
            joins.extend(
                TypeJoin(d.sub.name, key=k.fields, resolvable=k.resolvable, is_interface_object=is_object) for k in keys
            )
        else:
            joins.append(TypeJoin(d.sub.name, is_interface_object=is_object))
    return tuple(joins)


def _propagate_interface_objects(composer: _Composer, definitions: dict[str, list[_Def]]) -> None:
    """A field that an @interfaceObject adds to interface I is a field of every object type implementing I, and
    the interface object's subgraph resolves it for them (through ``_entities`` with ``__typename: I``)."""
    implementations: dict[str, list[str]] = {}
    for name, defs in definitions.items():
        for d in defs:
            if isinstance(d.type, GraphQLObjectType) and name not in d.sub.interface_objects:
                for interface in d.type.interfaces:
                    if name not in implementations.setdefault(interface.name, []):
                        implementations[interface.name].append(name)
    for interface, defs in definitions.items():
        object_defs = [d for d in defs if interface in d.sub.interface_objects]
        if not object_defs:
            continue
        interface_lines = _field_lines(composer, interface)
        for type_name in implementations.get(interface, []):
            # Only fields the type's own subgraphs do not resolve: those are what the interface object adds. (A
            # link's subgraph may receive one, @external, as its key: the field is the type's already.)
            own_fields = {f: joins for (t, f), joins in composer.fields.items() if t == type_name}
            for d in object_defs:
                assert isinstance(d.type, GraphQLObjectType)
                for field_name in d.type.fields:
                    own = own_fields.get(field_name)
                    if field_name not in interface_lines or (own is not None and not all(j.external for j in own)):
                        continue
                    joins = composer.fields.get((type_name, field_name), ())
                    if all(j.graph != d.sub.name for j in joins):
                        composer.fields[(type_name, field_name)] = (*joins, FieldJoin(d.sub.name))
                    if own is None:
                        composer.added_fields.setdefault(type_name, {})[field_name] = interface_lines[field_name]
    for type_name, extra in composer.added_fields.items():
        block = composer.sdl[type_name]
        composer.sdl[type_name] = block[: block.rindex("}")] + "\n".join(extra.values()) + "\n}"
