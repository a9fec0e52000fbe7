"""A source's transforms (prefix, renames, hide) applied to its subgraph, in product names."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
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
    parse,
    print_schema,
    visit,
)

from stitcher.composition.state import _is_builtin
from stitcher.errors import SchemaError
from stitcher.federation import (
    parse_field_set,
    print_field_set,
)
from stitcher.ir import (
    EntityResolver,
    FieldDirectives,
    Renames,
    Subgraph,
)
from stitcher.sources import Transforms

_OPERATION_ROOTS = {"query": "Query", "mutation": "Mutation", "subscription": "Subscription"}


_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")


def _compiled(patterns: Mapping[str, str], label: str, problems: list[str]) -> list[tuple[re.Pattern[str], str]]:
    compiled: list[tuple[re.Pattern[str], str]] = []
    for pattern, replacement in patterns.items():
        try:
            compiled.append((re.compile(pattern), replacement))
        except re.error as exc:
            problems.append(f"{label}: {pattern!r} is not a regular expression: {exc}")
    return compiled


def _by_pattern(patterns: list[tuple[re.Pattern[str], str]], name: str) -> str | None:
    """The name the first fully matching pattern gives, None when none matches."""
    for pattern, replacement in patterns:
        match = pattern.fullmatch(name)
        if match is not None:
            return match.expand(replacement)
    return None


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
    type_patterns = _compiled(transforms.type_patterns, "type_patterns", problems)
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
        elif (patterned := _by_pattern(type_patterns, name)) is not None:
            new = patterned
        elif transforms.prefix:
            new = f"{transforms.prefix}{name}"
        else:
            new = name
        if new != name:
            type_map[name] = new
    problems.extend(
        f"type_patterns: {n} becomes {m!r}, not a name" for n, m in type_map.items() if not _NAME.fullmatch(m)
    )
    for name in transforms.rename_types:
        if name not in schema.type_map:
            problems.append(f"rename_types: type {name} does not exist")
    clash = [n for n in set(type_map.values()) if n in schema.type_map and n not in type_map]
    problems.extend(f"renaming gives two types the name {n}" for n in clash)
    if len(set(type_map.values())) != len(type_map):
        problems.append("two types are renamed to the same name")

    field_map: dict[tuple[str, str], str] = {}
    root_patterns = _compiled(transforms.root_field_patterns, "root_field_patterns", problems)
    for root_name in root_names if root_patterns else ():
        root_type = schema.get_type(root_name)
        assert isinstance(root_type, GraphQLObjectType)
        for field_name in root_type.fields:
            patterned = _by_pattern(root_patterns, field_name)
            if (
                patterned is not None
                and patterned != field_name
                and f"{root_name}.{field_name}" not in (transforms.rename_fields)
            ):
                if not _NAME.fullmatch(patterned):
                    problems.append(f"root_field_patterns: {root_name}.{field_name} becomes {patterned!r}, not a name")
                elif patterned in root_type.fields or patterned in field_map.values():
                    problems.append(f"root_field_patterns: {root_name} already has a field {patterned}")
                else:
                    field_map[(root_name, field_name)] = patterned
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
    hidden_types = frozenset(type_map.get(t, t) for t in hidden_other if "." not in t)
    changed = dataclasses.replace(
        subgraph,
        fields=fields,
        inaccessible=inaccessible,
        hidden_fields=subgraph.hidden_fields | hidden_coordinates,
        hidden_types=subgraph.hidden_types | hidden_types,
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
        directive_usages={_rename_coordinate(c, t, f): d for c, d in subgraph.directive_usages.items()},
        renames=renames,
        rest=rest,
    )


def _rename_coordinate(coordinate: str, t: Callable[[str], str], f: Callable[[str, str], str]) -> str:
    type_name, dot, rest = coordinate.partition(".")
    if not dot:
        return t(type_name) if type_name else coordinate  # the schema's own (SCHEMA_COORDINATE) stays
    member, paren, arg = rest.partition("(")
    if paren:
        return f"{t(type_name)}.{f(type_name, member)}({arg}"
    return f"{t(type_name)}.{f(type_name, member)}"
