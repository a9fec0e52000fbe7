"""Composition: sources -> subgraphs (with transforms) -> one :class:`Supergraph` (type merging, join info).

Rules, after Apollo Federation v2 where it has one:

* Object and interface types merge by name; entities carry their keys per subgraph.
* A field resolved by several Federation subgraphs must be ``@shareable`` in each (key fields are shareable);
  fields of plain GraphQL and OpenAPI sources count as shareable, except root fields, which no plain source
  shares. ``@external`` fields and fields moved away with ``@override`` do not count as resolving.
* Every field must be resolvable wherever its type is returned: by that subgraph, or after entity jumps through
  resolvable keys (``@key`` or merge configuration) that the subgraphs reached so far can provide.
* Output field types must match up to nullability (the merged field is nullable where any subgraph's is);
  argument and input field types too (the merged one is non-null where any subgraph's is).
* Arguments and input object fields: the intersection, and a required one missing anywhere is a conflict.
* Enums: the union of values when only used as output, the intersection when only used as input, else equal.
* ``@inaccessible`` elements stay in the join info and the supergraph but not in the API schema.
* Fields an ``@interfaceObject`` adds to interface I become fields of every implementation of I, resolved by the
  interface object's subgraph (``Supergraph.fields`` lists it although ``Supergraph.types`` of the implementation
  does not: the planner fetches them through I's key, with ``__typename: I``).

Subgraphs are in product names: transforms rename the schema, keys, field sets, resolvers and REST bindings, and
``Subgraph.renames`` maps product names back to the upstream's.

Every conflict is collected; :class:`CompositionError` lists them all, each naming both services.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import re
import threading
from collections.abc import Callable, Iterator, Sequence, Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DefinitionNode,
    DirectiveDefinitionNode,
    DirectiveLocation,
    DocumentNode,
    FieldNode,
    GraphQLArgument,
    GraphQLDirective,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    InterfaceTypeDefinitionNode,
    NamedTypeNode,
    NameNode,
    Node,
    ObjectTypeDefinitionNode,
    OperationType,
    SelectionSetNode,
    TypeDefinitionNode,
    Visitor,
    build_ast_schema,
    get_named_type,
    get_nullable_type,
    is_introspection_type,
    is_list_type,
    is_non_null_type,
    is_required_argument,
    is_required_input_field,
    is_specified_directive,
    is_specified_scalar_type,
    parse,
    print_ast,
    print_schema,
    visit,
)
from graphql.language.print_string import print_string
from graphql.utilities.get_default_value_ast import get_default_value_ast

from stitcher.errors import CompositionError, SchemaError
from stitcher.federation import (
    field_set_fields,
    format_graphql_error,
    parse_field_set,
    print_field_set,
    subgraph_from_federation,
)
from stitcher.graphql_source import subgraph_from_graphql, type_definition_node, validate_like_graphql_js
from stitcher.ir import (
    EntityResolver,
    FieldDirectives,
    FieldJoin,
    Renames,
    SourceKind,
    Subgraph,
    Supergraph,
    TypeJoin,
)
from stitcher.sources import SourceSpec, Transforms
from stitcher.supergraph import ROOT_TYPE_NAMES, filter_document

__all__ = ["apply_transforms", "build_subgraph", "compose", "compose_subgraphs", "graph_enum_names"]

_OPERATION_ROOTS = {"query": "Query", "mutation": "Mutation", "subscription": "Subscription"}


# --- sources -> subgraphs ------------------------------------------------------------------------------------------


def build_subgraph(spec: SourceSpec) -> Subgraph:
    """One source as a subgraph in product names (transforms applied; ``renames`` maps back to upstream names)."""
    if spec.protocol is SourceKind.FEDERATION:
        subgraph = subgraph_from_federation(spec)
        if not _FEDERATION_2_LINK.search(spec.schema):
            subgraph.federation_v1 = True
    elif spec.protocol is SourceKind.GRAPHQL:
        subgraph = subgraph_from_graphql(spec)
    elif spec.protocol is SourceKind.OPENAPI:
        from stitcher.openapi import subgraph_from_openapi  # written separately; imported only when needed

        subgraph = subgraph_from_openapi(spec)
    else:  # pragma: no cover - SourceKind is closed
        raise SchemaError(f"unknown protocol {spec.protocol!r}", service=spec.name)
    if subgraph.url is None:
        subgraph.url = spec.url
    return apply_transforms(subgraph, spec.transforms)


# What makes a subgraph a Federation 2 one: ``@link`` to the federation spec (``.../federation/v2.x``), usually
# ``extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: [...])``. Apollo refuses the
# Federation 2 directives below in a Federation 1 subgraph; we take a subgraph using them as Federation 2 (its
# author thinks in Federation 2: what is not @shareable is not shared). Read from the text: the subgraph reader does
# not keep schema extensions, and parsing a large SDL twice would cost more than this search.
_FEDERATION_2_LINK = re.compile(r"@link\s*\([^)]*/federation/v2|@(?:shareable|override|interfaceObject)\b")


def _is_builtin(named: GraphQLNamedType) -> bool:
    return is_introspection_type(named) or is_specified_scalar_type(named)


def apply_transforms(subgraph: Subgraph, transforms: Transforms) -> Subgraph:
    """Prefix/rename types, rename fields, hide elements; root types are always named Query/Mutation/Subscription.

    Hidden elements become @inaccessible: gone from the API schema, still usable in keys and @requires.
    """
    schema = subgraph.schema
    if schema is None:
        return subgraph
    service = subgraph.name
    problems: list[str] = []
    root_names = {}
    for operation, canonical in _OPERATION_ROOTS.items():
        root = schema.get_root_type(OperationType(operation))
        if root is not None:
            root_names[root.name] = canonical
    type_map: dict[str, str] = {}
    for name, schema_type in schema.type_map.items():
        if _is_builtin(schema_type):
            continue
        if name in root_names:
            new = root_names[name]
            if name in transforms.rename_types:
                problems.append(f"rename_types: {name} is a root type and cannot be renamed")
        elif name in transforms.rename_types:
            new = transforms.rename_types[name]
        elif transforms.prefix:
            new = f"{transforms.prefix}{name}"
        else:
            new = name
        if new != name:
            type_map[name] = new
    for name in transforms.rename_types:
        if name not in schema.type_map:
            problems.append(f"rename_types: type {name} does not exist")
    clash = [n for n in set(type_map.values()) if n in schema.type_map and n not in type_map]
    problems.extend(f"renaming gives two types the name {n}" for n in clash)
    if len(set(type_map.values())) != len(type_map):
        problems.append("two types are renamed to the same name")

    field_map: dict[tuple[str, str], str] = {}
    for coordinate, new_name in transforms.rename_fields.items():
        type_name, _, field_name = coordinate.partition(".")
        owner = schema.get_type(type_name)
        if not isinstance(owner, GraphQLObjectType | GraphQLInterfaceType) or field_name not in owner.fields:
            problems.append(f"rename_fields: {coordinate} is not a field of an object or interface type")
            continue
        if new_name in owner.fields:
            problems.append(f"rename_fields: {type_name} already has a field {new_name}")
        field_map[(type_name, field_name)] = new_name

    hidden_fields: set[tuple[str, str]] = set()
    hidden_other: set[str] = set()
    for coordinate in transforms.hide:
        type_name, _, member = coordinate.partition(".")
        named = schema.get_type(type_name)
        if named is None or _is_builtin(named):
            problems.append(f"hide: type {type_name} does not exist")
        elif not member:
            if type_name in root_names:
                problems.append(f"hide: {type_name} is a root type; hide its fields instead")
            hidden_other.add(type_name)
        elif isinstance(named, GraphQLObjectType | GraphQLInterfaceType) and member in named.fields:
            hidden_fields.add((type_name, member))
        elif (isinstance(named, GraphQLEnumType) and member in named.values) or (
            isinstance(named, GraphQLInputObjectType) and member in named.fields
        ):
            hidden_other.add(coordinate)
        else:
            problems.append(f"hide: {coordinate} does not exist")
    if problems:
        raise SchemaError("transforms: " + "; ".join(problems), service=service)

    fields = dict(subgraph.fields)
    for hidden in hidden_fields:
        fields[hidden] = dataclasses.replace(fields.get(hidden, FieldDirectives()), inaccessible=True)
    inaccessible = subgraph.inaccessible | hidden_other
    # in product names, which the fields of the merge use
    hidden_coordinates = frozenset(f"{type_map.get(t, t)}.{field_map.get((t, f), f)}" for t, f in hidden_fields)
    changed = dataclasses.replace(
        subgraph, fields=fields, inaccessible=inaccessible, hidden_fields=subgraph.hidden_fields | hidden_coordinates
    )
    if not type_map and not field_map:
        return changed
    return _renamed(changed, type_map, field_map)


class _Renamer(Visitor):
    def __init__(self, type_map: dict[str, str], field_map: dict[tuple[str, str], str]) -> None:
        super().__init__()
        self.type_map = type_map
        self.field_map = field_map

    def enter_named_type(self, node: NamedTypeNode, *_: object) -> Node | None:
        new = self.type_map.get(node.name.value)
        return dataclasses.replace(node, name=NameNode(value=new)) if new else None

    def _definition(self, node: TypeDefinitionNode, *_: object) -> Node | None:
        old = node.name.value
        changes: dict[str, object] = {}
        if old in self.type_map:
            changes["name"] = NameNode(value=self.type_map[old])
        if isinstance(node, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode) and node.fields:
            renamed = tuple(
                dataclasses.replace(f, name=NameNode(value=self.field_map[(old, f.name.value)]))
                if (old, f.name.value) in self.field_map
                else f
                for f in node.fields
            )
            if any(a is not b for a, b in zip(renamed, node.fields, strict=True)):
                changes["fields"] = renamed
        return dataclasses.replace(node, **changes) if changes else None  # type: ignore[arg-type]

    enter_object_type_definition = _definition
    enter_interface_type_definition = _definition
    enter_union_type_definition = _definition
    enter_enum_type_definition = _definition
    enter_input_object_type_definition = _definition
    enter_scalar_type_definition = _definition


def _rename_field_set(
    schema: GraphQLSchema,
    type_name: str,
    field_set: str,
    type_map: dict[str, str],
    field_map: dict[tuple[str, str], str],
) -> str:
    def rename(selection_set: SelectionSetNode, parent: str) -> SelectionSetNode:
        named = schema.get_type(parent)
        out: list[FieldNode | InlineFragmentNode] = []
        for selection in selection_set.selections:
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition.name.value if selection.type_condition else parent
                new_condition = (
                    NamedTypeNode(name=NameNode(value=type_map.get(condition, condition)))
                    if selection.type_condition
                    else None
                )
                out.append(
                    dataclasses.replace(
                        selection,
                        type_condition=new_condition,
                        selection_set=rename(selection.selection_set, condition),
                    )
                )
                continue
            assert isinstance(selection, FieldNode)
            name = selection.name.value
            fields = getattr(named, "fields", {})
            child = (
                rename(selection.selection_set, get_named_type(fields[name].type).name)
                if (selection.selection_set and name in fields)
                else selection.selection_set
            )
            out.append(
                dataclasses.replace(
                    selection, name=NameNode(value=field_map.get((parent, name), name)), selection_set=child
                )
            )
        return dataclasses.replace(selection_set, selections=tuple(out))

    return print_field_set(rename(parse_field_set(field_set), type_name))


def _renamed(subgraph: Subgraph, type_map: dict[str, str], field_map: dict[tuple[str, str], str]) -> Subgraph:
    schema = subgraph.schema
    assert schema is not None
    document = parse(print_schema(schema), no_location=True)  # the visitor renames the types and fields
    new_document = visit(document, _Renamer(type_map, field_map))
    assert isinstance(new_document, DocumentNode)
    new_schema = build_ast_schema(new_document, assume_valid_sdl=True)

    def t(name: str) -> str:
        return type_map.get(name, name)

    def f(type_name: str, field_name: str) -> str:
        return field_map.get((type_name, field_name), field_name)

    def fs(type_name: str, field_set: str) -> str:
        return _rename_field_set(schema, type_name, field_set, type_map, field_map)

    def field_type(type_name: str, field_name: str) -> str:
        named = schema.get_type(type_name)
        field_def = getattr(named, "fields", {}).get(field_name)
        return get_named_type(field_def.type).name if field_def is not None else type_name

    keys = {
        t(name): tuple(dataclasses.replace(k, fields=fs(name, k.fields)) for k in value)
        for name, value in subgraph.keys.items()
    }
    resolvers = {
        t(name): EntityResolver(
            type_name=t(r.type_name),
            key=fs(r.type_name, r.key),
            field=f(schema.query_type.name if schema.query_type else "Query", r.field),
            argument=r.argument,
            batched=r.batched,
            key_arguments=r.key_arguments,
        )
        for name, r in subgraph.resolvers.items()
    }
    fields = {
        (t(type_name), f(type_name, field_name)): dataclasses.replace(
            d,
            requires=fs(type_name, d.requires) if d.requires else None,
            provides=fs(field_type(type_name, field_name), d.provides) if d.provides else None,
        )
        for (type_name, field_name), d in subgraph.fields.items()
    }
    inaccessible = frozenset(_rename_coordinate(c, t, f) for c in subgraph.inaccessible)
    renames = Renames(
        types={**subgraph.renames.types, **{new: subgraph.renames.upstream_type(old) for old, new in type_map.items()}},
        fields=dict(subgraph.renames.fields),
    )
    for (type_name, field_name), new in field_map.items():
        renames.fields[(t(type_name), new)] = subgraph.renames.upstream_field(type_name, field_name)
    rest = subgraph.rest
    if rest is not None:
        rest = dataclasses.replace(
            rest,
            operations={(t(root), f(root, name)): op for (root, name), op in rest.operations.items()},
            json_names={
                **{(t(tn), new): fn for (tn, fn), new in field_map.items()},
                **{(t(tn), f(tn, fn)): json for (tn, fn), json in rest.json_names.items()},
            },
            discriminators={
                t(name): dataclasses.replace(
                    d,
                    mapping={k: t(v) for k, v in d.mapping.items()},
                    required={t(k): v for k, v in d.required.items()},
                )
                for name, d in rest.discriminators.items()
            },
            enum_values={t(name): values for name, values in rest.enum_values.items()},
        )
    return dataclasses.replace(
        subgraph,
        schema=new_schema,
        keys=keys,
        resolvers=resolvers,
        fields=fields,
        interface_objects=frozenset(t(n) for n in subgraph.interface_objects),
        inaccessible=inaccessible,
        tags={_rename_coordinate(c, t, f): names for c, names in subgraph.tags.items()},
        renames=renames,
        rest=rest,
    )


def _rename_coordinate(coordinate: str, t: Callable[[str], str], f: Callable[[str, str], str]) -> str:
    type_name, dot, rest = coordinate.partition(".")
    if not dot:
        return t(type_name)
    member, paren, arg = rest.partition("(")
    if paren:
        return f"{t(type_name)}.{f(type_name, member)}({arg}"
    return f"{t(type_name)}.{f(type_name, member)}"


# --- composition ---------------------------------------------------------------------------------------------------


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


def compose(specs: Sequence[SourceSpec]) -> Supergraph:
    """Compose a product from its sources; raises SchemaError for a bad source, CompositionError for conflicts."""
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CompositionError([f'service "{n}" is listed more than once' for n in duplicates])
    if not specs:
        raise CompositionError(["a product needs at least one source"])
    with _without_gc_pauses():
        return compose_subgraphs([build_subgraph(spec) for spec in specs])


_gc_lock = threading.Lock()
_gc_holders = 0
_gc_was_enabled = False


@contextlib.contextmanager
def _without_gc_pauses() -> Iterator[None]:
    """Composing a big schema allocates millions of long-lived objects (AST nodes, types), and each of CPython's
    full collections walks all of them again: measured, half of the CPU time of composing a 1,600-type schema
    (``make bench-compose``). What composition builds lives until it returns, and its intermediate garbage is freed
    by reference counting, so the cyclic collector pauses meanwhile (process-wide; concurrent compositions share one
    pause) and runs as usual after."""
    global _gc_holders, _gc_was_enabled
    with _gc_lock:
        if _gc_holders == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_holders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0 and _gc_was_enabled:
                gc.enable()


@dataclass
class _Def:
    """One subgraph's definition of a type."""

    sub: Subgraph
    type: GraphQLNamedType


@dataclass
class _Composer:
    subgraphs: list[Subgraph]
    conflicts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sdl: dict[str, str] = field(default_factory=dict)  # type name -> merged definition
    types: dict[str, tuple[TypeJoin, ...]] = field(default_factory=dict)
    fields: dict[tuple[str, str], tuple[FieldJoin, ...]] = field(default_factory=dict)
    inaccessible: set[str] = field(default_factory=set)
    # (subgraph, type, field) triples that are part of a key in that subgraph: shareable by definition.
    key_fields: set[tuple[str, str, str]] = field(default_factory=set)
    input_types: set[str] = field(default_factory=set)
    output_types: set[str] = field(default_factory=set)
    implements: dict[str, list[str]] = field(default_factory=dict)  # object type -> its merged interfaces
    # Extra fields (name -> SDL line) that interface objects add to implementing object types.
    added_fields: dict[str, dict[str, str]] = field(default_factory=dict)
    directives: dict[str, str] = field(default_factory=dict)  # "@name" -> merged executable directive definition


def compose_subgraphs(subgraphs: Sequence[Subgraph]) -> Supergraph:
    """Merge subgraphs (already in product names) into a supergraph."""
    composer = _Composer(list(subgraphs))
    definitions: dict[str, list[_Def]] = {}
    for sub in subgraphs:
        assert sub.schema is not None, f"subgraph {sub.name} has no schema"
        composer.warnings.extend(f'service "{sub.name}": {w}' for w in sub.warnings)
        composer.inaccessible.update(sub.inaccessible)
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
        _record_usage(composer, sub.schema)
        for name, named in sub.schema.type_map.items():
            if not _is_builtin(named):
                definitions.setdefault(name, []).append(_Def(sub, named))
    if "Query" not in definitions:
        composer.conflicts.append("no service defines a Query type: a product needs at least one Query field")

    for name in _type_order(definitions):
        defs = definitions[name]
        kind = _kind_of(defs)
        if kind is None:
            continue
        composer.types[name] = _type_joins(name, defs)
        if kind in ("object", "interface"):
            _merge_composite(composer, name, kind, defs)
        elif kind == "union":
            _merge_union(composer, name, defs)
        elif kind == "enum":
            _merge_enum(composer, name, defs)
        elif kind == "input":
            _merge_input(composer, name, defs)
        else:
            _merge_scalar(composer, name, defs)
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
    try:
        document = _composed_document(composer, definitions)
        api = filter_document(document, composer.inaccessible)  # it leaves out every directive definition
        kept = tuple(d for d in document.definitions if isinstance(d, DirectiveDefinitionNode))
        schema = _api_schema(composer, DocumentNode(definitions=(*api.definitions, *kept)))
        full = build_ast_schema(document, assume_valid_sdl=True) if composer.inaccessible else None
    except (GraphQLError, ValueError, TypeError) as exc:
        message = format_graphql_error(exc) if isinstance(exc, GraphQLError) else str(exc)
        raise CompositionError([f"the composed schema is invalid: {message}"]) from exc
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
    )


def _composed_document(composer: _Composer, definitions: dict[str, list[_Def]]) -> DocumentNode:
    """The merged definitions as one document. A type that one service alone defines, in one definition, is its
    own AST node (the merge would print it as it is, and parsing the print again was a third of composing a large
    schema); the merged ones are parsed from their printed SDL in one go."""
    reused: dict[str, DefinitionNode] = {}
    printed: list[str] = []
    for name, block in composer.sdl.items():
        defs = definitions.get(name, [])
        if len(defs) != 1 or defs[0].type.extension_ast_nodes or name in composer.added_fields:
            printed.append(block)
            continue
        named = defs[0].type
        # An OpenAPI source or an introspection result has no AST: one is made from the type, as it is.
        reused[name] = named.ast_node or type_definition_node(named)
    printed.extend(composer.directives.values())
    parsed = parse("\n\n".join(printed) + "\n", no_location=True).definitions if printed else ()
    by_name = {d.name.value: d for d in parsed if isinstance(d, TypeDefinitionNode)}
    ordered = [reused[name] if name in reused else by_name[name] for name in composer.sdl]
    directives = [d for d in parsed if isinstance(d, DirectiveDefinitionNode)]
    return DocumentNode(definitions=(*ordered, *directives))


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


def _record_usage(composer: _Composer, schema: GraphQLSchema) -> None:
    for directive in schema.directives:
        composer.input_types.update(get_named_type(a.type).name for a in directive.args.values())
    for named in schema.type_map.values():
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for gql_field in named.fields.values():
                composer.output_types.add(get_named_type(gql_field.type).name)
                composer.input_types.update(get_named_type(a.type).name for a in gql_field.args.values())
        elif isinstance(named, GraphQLInputObjectType):
            composer.input_types.update(get_named_type(f.type).name for f in named.fields.values())


def _strip(type_: GraphQLInputType | GraphQLOutputType) -> str:
    return str(type_).replace("!", "")


def _merge_type(types: list[GraphQLInputType | GraphQLOutputType], output: bool) -> str:
    """Types equal up to nullability -> merged: output nullable where any is; input non-null where any is."""
    non_null = [is_non_null_type(t) for t in types]
    inner: list[Any] = [get_nullable_type(t) for t in types]
    text = "[" + _merge_type([i.of_type for i in inner], output) + "]" if is_list_type(inner[0]) else inner[0].name
    bang = all(non_null) if output else any(non_null)
    return text + ("!" if bang else "")


def _description(text: str | None, indent: str) -> str:
    return f"{indent}{print_string(text)}\n" if text else ""


def _deprecated(reason: str | None) -> str:
    if reason is None:
        return ""
    return f" @deprecated(reason: {print_string(reason)})"


def _default(value: GraphQLArgument | GraphQLInputField) -> str:
    node = get_default_value_ast(value)
    return f" = {print_ast(node)}" if node is not None else ""


def _first(values: list[str | None]) -> str | None:
    return next((v for v in values if v), None)


def _is_shareable(composer: _Composer, sub: Subgraph, type_name: str, field_name: str) -> bool:
    if sub.federation_v1:
        return True
    if sub.kind is not SourceKind.FEDERATION:
        return type_name not in ROOT_TYPE_NAMES
    directives = sub.fields.get((type_name, field_name), FieldDirectives())
    return directives.shareable or (sub.name, type_name, field_name) in composer.key_fields


def _merge_composite(composer: _Composer, name: str, kind: str, defs: list[_Def]) -> None:
    names: dict[str, list[tuple[Subgraph, GraphQLField]]] = {}
    interfaces: dict[str, None] = {}
    for d in defs:
        assert isinstance(d.type, GraphQLObjectType | GraphQLInterfaceType)
        for field_name, gql_field in d.type.fields.items():
            names.setdefault(field_name, []).append((d.sub, gql_field))
        if not (isinstance(d.type, GraphQLObjectType) and name in d.sub.interface_objects):
            interfaces.update((i.name, None) for i in d.type.interfaces)
    lines: list[str] = []
    subgraph_names = {s.name for s in composer.subgraphs}
    for field_name, all_defs in names.items():
        coordinate = f"{name}.{field_name}"
        field_defs = _unhidden(composer, name, field_name, all_defs)
        first_sub, first = field_defs[0]
        mismatch = False
        for sub, gql_field in field_defs[1:]:
            if _strip(gql_field.type) != _strip(first.type):
                mismatch = True
                composer.conflicts.append(
                    f'{coordinate}: "{first.type}" in service "{first_sub.name}" vs "{gql_field.type}" '
                    f'in service "{sub.name}"'
                )
        if mismatch:
            continue
        merged_type = _merge_type([f.type for _, f in field_defs], output=True)
        args = _merge_arguments(composer, coordinate, field_defs)
        joins: list[FieldJoin] = []
        types_differ = len({str(f.type) for _, f in field_defs}) > 1
        overridden: dict[str, str] = {}
        for sub, _ in field_defs:
            directives = sub.fields.get((name, field_name), FieldDirectives())
            source = directives.override_from
            if source is not None:
                if source == sub.name:
                    composer.conflicts.append(f'{coordinate}: service "{sub.name}" cannot @override itself')
                elif source not in subgraph_names:
                    composer.warnings.append(
                        f'{coordinate}: service "{sub.name}" overrides unknown service "{source}"; ignored'
                    )
                else:
                    overridden[source] = sub.name
                    if all(other.name != source for other, _ in field_defs):
                        composer.warnings.append(
                            f'{coordinate}: service "{sub.name}" overrides service "{source}", which does not '
                            "define the field; the @override has no effect"
                        )
        for sub, gql_field in field_defs:
            directives = sub.fields.get((name, field_name), FieldDirectives())
            external = directives.external
            if sub.name in overridden and not external:
                if (sub.name, name, field_name) not in composer.key_fields:
                    continue  # moved to the overriding service
                external = True  # still part of this service's key: it receives it, no longer resolves it
            own_type = str(gql_field.type)
            joins.append(
                FieldJoin(
                    graph=sub.name,
                    requires=directives.requires,
                    provides=directives.provides,
                    external=external,
                    override_from=directives.override_from if directives.override_from in subgraph_names else None,
                    type=own_type if types_differ else None,  # like Apollo: on every join once types differ
                )
            )
        composer.fields[(name, field_name)] = tuple(joins)
        if kind == "object":  # interface fields are implemented by object types, not resolved themselves
            _check_sharing(composer, name, field_name, field_defs, joins)
            if joins and all(j.external for j in joins):
                composer.conflicts.append(
                    f"{coordinate}: @external in service "
                    + " and ".join(f'"{j.graph}"' for j in joins)
                    + " but no service resolves it; define it without @external in the service that owns it"
                )
        description = _first([f.description for _, f in field_defs])
        deprecation = _first([f.deprecation_reason for _, f in field_defs])
        lines.append(f"{_description(description, '  ')}  {field_name}{args}: {merged_type}{_deprecated(deprecation)}")
    description = _first([d.type.description for d in defs])
    implements = f" implements {' & '.join(interfaces)}" if interfaces else ""
    keyword = "type" if kind == "object" else "interface"
    if kind == "object":
        composer.implements[name] = list(interfaces)
    composer.sdl[name] = f"{_description(description, '')}{keyword} {name}{implements} {{\n" + "\n".join(lines) + "\n}"


def _unhidden(
    composer: _Composer, type_name: str, field_name: str, field_defs: list[tuple[Subgraph, GraphQLField]]
) -> list[tuple[Subgraph, GraphQLField]]:
    """The definitions of a field that take part in the product: a source whose transforms hide the field gives it
    up where another source exposes it (unless it is part of that source's key, which the gateway still needs);
    hidden everywhere, it stays as an @inaccessible field (usable in keys and @requires)."""
    coordinate = f"{type_name}.{field_name}"
    visible = [(sub, f) for sub, f in field_defs if coordinate not in sub.hidden_fields]
    if len(visible) == len(field_defs):
        return field_defs
    if not visible:
        composer.inaccessible.add(coordinate)
        return field_defs
    return [
        (sub, f)
        for sub, f in field_defs
        if coordinate not in sub.hidden_fields or (sub.name, type_name, field_name) in composer.key_fields
    ]


def _check_sharing(
    composer: _Composer,
    type_name: str,
    field_name: str,
    field_defs: list[tuple[Subgraph, GraphQLField]],
    joins: list[FieldJoin],
) -> None:
    by_name = {sub.name: (sub, f) for sub, f in field_defs}
    resolving = [j.graph for j in joins if not j.external]
    if type_name not in ROOT_TYPE_NAMES:
        # Only Federation subgraphs declare sharing; plain GraphQL and OpenAPI fields are shareable by nature.
        resolving = [g for g in resolving if by_name[g][0].kind is SourceKind.FEDERATION]
    if len(resolving) < 2:
        return
    not_shareable = [g for g in resolving if not _is_shareable(composer, by_name[g][0], type_name, field_name)]
    if not not_shareable:
        return
    first = not_shareable[0]
    other = next(g for g in resolving if g != first)
    hint = (
        "root fields of plain GraphQL and OpenAPI services are never shareable; rename or hide one"
        if by_name[first][0].kind is not SourceKind.FEDERATION
        else f'mark it @shareable in every service that resolves it, or use @override(from: "{other}")'
    )
    composer.conflicts.append(
        f'{type_name}.{field_name}: "{by_name[first][1].type}" in service "{first}" vs "{by_name[other][1].type}" '
        f'in service "{other}": both resolve it but it is not shareable in service "{first}" ({hint})'
    )


def _merge_arguments(composer: _Composer, coordinate: str, field_defs: list[tuple[Subgraph, GraphQLField]]) -> str:
    arg_names: dict[str, None] = {}
    for _, gql_field in field_defs:
        arg_names.update((a, None) for a in gql_field.args)
    parts: list[str] = []
    for arg_name in arg_names:
        present = [(sub, f.args[arg_name]) for sub, f in field_defs if arg_name in f.args]
        missing = [sub for sub, f in field_defs if arg_name not in f.args]
        value = _merge_input_value(
            composer, f"{coordinate}({arg_name}:)", present, missing, is_required_argument, warn_left_out=True
        )
        if value is None:
            continue
        merged, default, description, deprecation = value
        described = f"{print_string(description)} " if description else ""
        deprecated = _optional_deprecation(composer, f"{coordinate}({arg_name}:)", merged, default, deprecation)
        parts.append(f"{described}{arg_name}: {merged}{default}{deprecated}")
    return f"({', '.join(parts)})" if parts else ""


def _optional_deprecation(composer: _Composer, coordinate: str, merged: str, default: str, reason: str | None) -> str:
    """``@deprecated`` for an argument or input field, unless the merge made it required (the spec forbids
    deprecating what a client must send): then a warning."""
    if reason is None:
        return ""
    if merged.endswith("!") and not default:
        composer.warnings.append(
            f"{coordinate}: deprecated in a service but required in the product (another service requires it), and "
            "a required argument or input field cannot be deprecated: the deprecation is left out"
        )
        return ""
    return _deprecated(reason)


def _merge_input_value(
    composer: _Composer,
    coordinate: str,
    present: Sequence[tuple[Subgraph, GraphQLArgument | GraphQLInputField]],
    missing: Sequence[Subgraph],
    is_required: Callable[[Any], bool],
    *,
    warn_left_out: bool,
) -> tuple[str, str, str | None, str | None] | None:
    """Merge one argument or input field over the services that define it: it must have one type everywhere, and
    one that a service lacks is left out (a conflict when it is required). Returns (type, printed default,
    description, deprecation reason), or None when it is left out or in conflict (recorded on ``composer``)."""
    if missing:
        required = [(sub, v) for sub, v in present if is_required(v)]
        if required:
            composer.conflicts.append(
                f'{coordinate}: "{required[0][1].type}" required in service "{required[0][0].name}" but missing '
                f'in service "{missing[0].name}"'
            )
        elif warn_left_out:
            composer.warnings.append(
                f'{coordinate}: left out of the product because service "{missing[0].name}" lacks it'
            )
        return None
    first_sub, first = present[0]
    other = next(((sub, v) for sub, v in present if _strip(v.type) != _strip(first.type)), None)
    if other is not None:
        composer.conflicts.append(
            f'{coordinate}: "{first.type}" in service "{first_sub.name}" vs "{other[1].type}" in service '
            f'"{other[0].name}"'
        )
        return None
    merged = _merge_type([v.type for _, v in present], output=False)
    default = next((_default(v) for _, v in present if get_default_value_ast(v) is not None), "")
    return (
        merged,
        default,
        _first([v.description for _, v in present]),
        _first([v.deprecation_reason for _, v in present]),
    )


def _merge_union(composer: _Composer, name: str, defs: list[_Def]) -> None:
    members: dict[str, None] = {}
    for d in defs:
        assert isinstance(d.type, GraphQLUnionType)
        members.update((t.name, None) for t in d.type.types)
    description = _first([d.type.description for d in defs])
    composer.sdl[name] = f"{_description(description, '')}union {name} = {' | '.join(members)}"


def _merge_enum(composer: _Composer, name: str, defs: list[_Def]) -> None:
    value_sets = []
    for d in defs:
        assert isinstance(d.type, GraphQLEnumType)
        value_sets.append(list(d.type.values))
    as_input, as_output = name in composer.input_types, name in composer.output_types
    if as_input and as_output:
        first = defs[0]
        for d, values in zip(defs[1:], value_sets[1:], strict=True):
            if set(values) != set(value_sets[0]):
                composer.conflicts.append(
                    f'{name}: values {" ".join(value_sets[0])} in service "{first.sub.name}" vs {" ".join(values)} '
                    f'in service "{d.sub.name}" (an enum used as input and output must be the same everywhere)'
                )
        chosen = value_sets[0]
    elif as_input:
        chosen = [v for v in value_sets[0] if all(v in vs for vs in value_sets)]
        dropped = sorted({v for vs in value_sets for v in vs} - set(chosen))
        if not chosen:
            composer.conflicts.append(
                f"{name}: input enum has no value common to services " + " and ".join(f'"{d.sub.name}"' for d in defs)
            )
        elif dropped:
            composer.warnings.append(
                f"{name}: input enum values {', '.join(dropped)} are not in every service: left out"
            )
    else:
        chosen = list(dict.fromkeys(v for vs in value_sets for v in vs))
    lines = []
    for value in chosen:
        descriptions = [
            d.type.values[value].description
            for d in defs
            if isinstance(d.type, GraphQLEnumType) and value in d.type.values
        ]
        deprecations = [
            d.type.values[value].deprecation_reason
            for d in defs
            if isinstance(d.type, GraphQLEnumType) and value in d.type.values
        ]
        lines.append(f"{_description(_first(descriptions), '  ')}  {value}{_deprecated(_first(deprecations))}")
    description = _first([d.type.description for d in defs])
    composer.sdl[name] = f"{_description(description, '')}enum {name} {{\n" + "\n".join(lines) + "\n}"


def _merge_input(composer: _Composer, name: str, defs: list[_Def]) -> None:
    field_names: dict[str, None] = {}
    for d in defs:
        assert isinstance(d.type, GraphQLInputObjectType)
        field_names.update((f, None) for f in d.type.fields)
    # @oneOf anywhere makes the product's input @oneOf: a value with exactly one member set suits every service.
    one_of = [d.sub.name for d in defs if isinstance(d.type, GraphQLInputObjectType) and d.type.is_one_of]
    lines: list[str] = []
    for field_name in field_names:
        present = [
            (d.sub, d.type.fields[field_name])
            for d in defs
            if isinstance(d.type, GraphQLInputObjectType) and field_name in d.type.fields
        ]
        missing = [
            d.sub for d in defs if isinstance(d.type, GraphQLInputObjectType) and field_name not in d.type.fields
        ]
        coordinate = f"{name}.{field_name}"
        value = _merge_input_value(composer, coordinate, present, missing, is_required_input_field, warn_left_out=True)
        if value is None:
            continue
        merged, default, description, deprecation = value
        if one_of and (merged.endswith("!") or default):
            required_in = next(
                sub.name for sub, v in present if is_non_null_type(v.type) or get_default_value_ast(v) is not None
            )
            composer.conflicts.append(
                f'{coordinate}: {name} is @oneOf in service "{one_of[0]}", so its fields must be nullable without a '
                f'default, but service "{required_in}" gives "{merged}{default}" (make it @oneOf there too, or '
                "rename one of the two inputs)"
            )
            continue
        deprecated = _optional_deprecation(composer, coordinate, merged, default, deprecation)
        lines.append(f"{_description(description, '  ')}  {field_name}: {merged}{default}{deprecated}")
    if not lines:
        composer.conflicts.append(
            f"{name}: input type has no field common to services " + " and ".join(f'"{d.sub.name}"' for d in defs)
        )
        return
    if one_of and len(one_of) < len(defs):
        composer.warnings.append(
            f'{name}: @oneOf in service "{one_of[0]}" but not in service '
            f'"{next(d.sub.name for d in defs if d.sub.name not in one_of)}": the product\'s input is @oneOf'
        )
    description = _first([d.type.description for d in defs])
    directive = " @oneOf" if one_of else ""
    composer.sdl[name] = f"{_description(description, '')}input {name}{directive} {{\n" + "\n".join(lines) + "\n}"


def _merge_scalar(composer: _Composer, name: str, defs: list[_Def]) -> None:
    urls = [d.type.specified_by_url for d in defs if isinstance(d.type, GraphQLScalarType)]
    url = _first(urls)
    specified = f" @specifiedBy(url: {print_string(url)})" if url else ""
    description = _first([d.type.description for d in defs])
    composer.sdl[name] = f"{_description(description, '')}scalar {name}{specified}"


_EXECUTABLE_LOCATIONS = frozenset(
    {
        DirectiveLocation.QUERY,
        DirectiveLocation.MUTATION,
        DirectiveLocation.SUBSCRIPTION,
        DirectiveLocation.FIELD,
        DirectiveLocation.FRAGMENT_DEFINITION,
        DirectiveLocation.FRAGMENT_SPREAD,
        DirectiveLocation.INLINE_FRAGMENT,
        DirectiveLocation.VARIABLE_DEFINITION,
    }
)


def _merge_directives(composer: _Composer) -> None:
    """Custom directive definitions. Executable ones (``@inContext(country:) on QUERY``) are kept in the product
    schema, so client operations may use them; the gateway forwards them to the services that define them. Where
    several services define one, the product takes the locations all of them accept and merges the arguments like
    a field's. Type-system directives (on fields, types, ...) are the services' own metadata: the product schema
    carries only @deprecated, @specifiedBy and @oneOf, so each is reported as left out, never dropped silently."""
    by_name: dict[str, list[tuple[Subgraph, GraphQLDirective]]] = {}
    for sub in composer.subgraphs:
        assert sub.schema is not None
        for directive in sub.schema.directives:
            if not is_specified_directive(directive):
                by_name.setdefault(directive.name, []).append((sub, directive))
    for name, defs in by_name.items():
        for sub, directive in defs:
            system = [loc.name for loc in directive.locations if loc not in _EXECUTABLE_LOCATIONS]
            if system:
                uses = _directive_uses(sub, name)
                used = f"applied {uses} time{'s' if uses != 1 else ''}" if uses else "not applied"
                composer.warnings.append(
                    f'@{name}: a type-system directive of service "{sub.name}" (on {" | ".join(system)}; {used}) '
                    "is left out of the product schema, which carries only @deprecated, @specifiedBy and @oneOf"
                )
        executable = [(sub, d) for sub, d in defs if any(loc in _EXECUTABLE_LOCATIONS for loc in d.locations)]
        if executable:
            _merge_executable_directive(composer, name, executable)


def _merge_executable_directive(composer: _Composer, name: str, defs: list[tuple[Subgraph, GraphQLDirective]]) -> None:
    locations = [loc for loc in defs[0][1].locations if all(loc in d.locations for _, d in defs)]
    locations = [loc for loc in locations if loc in _EXECUTABLE_LOCATIONS]
    everywhere = {loc for _, d in defs for loc in d.locations if loc in _EXECUTABLE_LOCATIONS}
    services = " and ".join(f'"{sub.name}"' for sub, _ in defs)
    if not locations:
        composer.warnings.append(
            f"@{name}: services {services} define it on different locations, none common to all: left out of the "
            "product (rename it in one service, or define it alike)"
        )
        return
    if len(locations) < len(everywhere):
        left = sorted(loc.name for loc in everywhere - set(locations))
        composer.warnings.append(
            f"@{name}: locations {', '.join(left)} are not accepted by every service of {services}: left out"
        )
    parts: list[str] = []
    arg_names = dict.fromkeys(a for _, d in defs for a in d.args)
    for arg_name in arg_names:
        present = [(sub, d.args[arg_name]) for sub, d in defs if arg_name in d.args]
        missing = [sub for sub, d in defs if arg_name not in d.args]
        coordinate = f"@{name}({arg_name}:)"
        value = _merge_input_value(composer, coordinate, present, missing, is_required_argument, warn_left_out=True)
        if value is None:
            continue
        merged, default, description, deprecation = value
        described = f"{print_string(description)} " if description else ""
        deprecated = _optional_deprecation(composer, coordinate, merged, default, deprecation)
        parts.append(f"{described}{arg_name}: {merged}{default}{deprecated}")
    args = f"({', '.join(parts)})" if parts else ""
    repeatable = " repeatable" if all(d.is_repeatable for _, d in defs) else ""
    description = _first([d.description for _, d in defs])
    composer.directives[f"@{name}"] = (
        f"{_description(description, '')}directive @{name}{args}{repeatable} on "
        + " | ".join(loc.name for loc in locations)
    )


def _directive_uses(sub: Subgraph, name: str) -> int:
    """How often a subgraph applies directive ``name`` in its SDL (an introspection result carries none)."""
    assert sub.schema is not None
    count = 0

    def applied(node: Any) -> int:
        return sum(1 for d in getattr(node, "directives", None) or () if d.name.value == name)

    nodes: list[Any] = [sub.schema.ast_node, *sub.schema.extension_ast_nodes]
    for named in sub.schema.type_map.values():
        nodes.append(named.ast_node)
        nodes.extend(named.extension_ast_nodes)
    for node in nodes:
        if node is None:
            continue
        count += applied(node)
        for member in (*(getattr(node, "fields", None) or ()), *(getattr(node, "values", None) or ())):
            count += applied(member)
            count += sum(applied(a) for a in getattr(member, "arguments", None) or ())
    return count


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
            # Only fields the type's own subgraphs do not resolve: those are what the interface object adds.
            own_fields = {f for (t, f) in composer.fields if t == type_name}
            for d in object_defs:
                assert isinstance(d.type, GraphQLObjectType)
                for field_name in d.type.fields:
                    if field_name in own_fields or field_name not in interface_lines:
                        continue
                    joins = composer.fields.get((type_name, field_name), ())
                    if all(j.graph != d.sub.name for j in joins):
                        composer.fields[(type_name, field_name)] = (*joins, FieldJoin(d.sub.name))
                    composer.added_fields.setdefault(type_name, {})[field_name] = interface_lines[field_name]
    for type_name, extra in composer.added_fields.items():
        block = composer.sdl[type_name]
        composer.sdl[type_name] = block[: block.rindex("}")] + "\n".join(extra.values()) + "\n}"


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
                    + f', but no @key of {type_name} there can be provided by service "{sub.name}" '
                    f"(add a resolvable @key to {type_name} in "
                    + " or ".join(f'"{o}"' for o in owners)
                    + f', or resolve the field in "{sub.name}" too)'
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
) -> set[str]:
    """Subgraphs an entity of ``type_name`` can reach from ``start`` by entity jumps."""
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
            for source in list(reached):
                schema = subs[source].schema
                if source not in graphs_by_type.get(on_type, ()) or schema is None:
                    continue
                try:
                    needed = field_set_fields(schema, on_type, key)
                except ValueError:
                    continue
                if all(f in resolving.get((t, source), set()) for t, f in needed):
                    reached.add(graph)
                    changed = True
                    break
    return reached
