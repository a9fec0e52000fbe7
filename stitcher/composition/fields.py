"""Merging object and interface types: fields, arguments, input values and shareability."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLOutputType,
    get_nullable_type,
    is_list_type,
    is_non_null_type,
    is_required_argument,
    print_ast,
)
from graphql.language.print_string import print_string
from graphql.utilities.get_default_value_ast import get_default_value_ast

from stitcher.composition.state import _Composer, _Def, _own_node
from stitcher.ir import (
    FieldDirectives,
    FieldJoin,
    SourceKind,
    Subgraph,
)
from stitcher.supergraph.sdl import ROOT_TYPE_NAMES


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


# A field without Federation directives (frozen: one value serves every lookup that finds none).
_NO_DIRECTIVES = FieldDirectives()


def _is_shareable(composer: _Composer, sub: Subgraph, type_name: str, field_name: str) -> bool:
    if sub.federation_v1:
        return True
    if sub.kind is not SourceKind.FEDERATION:
        return type_name not in ROOT_TYPE_NAMES
    directives = sub.fields.get((type_name, field_name), _NO_DIRECTIVES)
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
    # A type that one service alone defines, in one definition, is its own AST node in the composed document (see
    # assembly's _composed_document): its printed field lines would never be read, so they are not made. Interface
    # objects add printed lines to such types, so with any of them the lines are always made.
    unprinted = _own_node(defs) and not any(s.interface_objects for s in composer.subgraphs)
    for field_name, all_defs in names.items():
        coordinate = f"{name}.{field_name}"
        field_defs = _unhidden(composer, name, field_name, all_defs)
        preferred = composer.prefer.get(name)
        if preferred is not None:
            field_defs = _preferred(field_defs, preferred)
        first_sub, first = field_defs[0]
        mismatch = False
        for sub, gql_field in field_defs[1:]:
            if _strip(gql_field.type) != _strip(first.type):
                mismatch = True
                composer.conflicts.append(
                    f'{coordinate}: "{first.type}" in service "{first_sub.name}" vs "{gql_field.type}" '
                    f'in service "{sub.name}"' + composer.prefer_hint(name, first_sub.name)
                )
        if mismatch:
            continue
        # (An argument's deprecation may warn while merging the arguments: such a field is merged as always.)
        printed = not unprinted or any(a.deprecation_reason is not None for a in first.args.values())
        if printed:
            merged_type = _merge_type([f.type for _, f in field_defs], output=True)
            args = _merge_arguments(composer, coordinate, field_defs)
        joins: list[FieldJoin] = []
        types_differ = len(field_defs) > 1 and len({str(f.type) for _, f in field_defs}) > 1
        overridden: dict[str, str] = {}
        found = [sub.fields.get((name, field_name), _NO_DIRECTIVES) for sub, _ in field_defs]
        for (sub, _), directives in zip(field_defs, found, strict=True):
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
        for (sub, gql_field), directives in zip(field_defs, found, strict=True):
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
            if len(joins) > 1:  # one service's field is never shared
                _check_sharing(composer, name, field_name, field_defs, joins)
            if (
                joins
                and all(j.external for j in joins)
                and not _added_by_interface_object(composer, interfaces, field_name)
            ):
                composer.conflicts.append(
                    f"{coordinate}: @external in service "
                    + " and ".join(f'"{j.graph}"' for j in joins)
                    + " but no service resolves it; define it without @external in the service that owns it"
                )
        if printed:
            description = _first([f.description for _, f in field_defs])
            deprecation = _first([f.deprecation_reason for _, f in field_defs])
            line = f"{_description(description, '  ')}  {field_name}{args}: {merged_type}{_deprecated(deprecation)}"
            lines.append(line)
    description = _first([d.type.description for d in defs])
    implements = f" implements {' & '.join(interfaces)}" if interfaces else ""
    keyword = "type" if kind == "object" else "interface"
    if kind == "object":
        composer.implements[name] = list(interfaces)
    if unprinted:
        composer.sdl[name] = ""  # _composed_document takes the type's own AST node
        return
    composer.sdl[name] = f"{_description(description, '')}{keyword} {name}{implements} {{\n" + "\n".join(lines) + "\n}"


def _added_by_interface_object(composer: _Composer, interfaces: dict[str, None], field_name: str) -> bool:
    """Whether an @interfaceObject of one of ``interfaces`` adds ``field_name`` (and so resolves it): a link's
    subgraph receives such a field, @external, as its key."""
    for sub in composer.subgraphs:
        for interface in interfaces:
            named = sub.schema.get_type(interface) if interface in sub.interface_objects and sub.schema else None
            if isinstance(named, GraphQLObjectType) and field_name in named.fields:
                return True
    return False


def _preferred(field_defs: list[tuple[Subgraph, GraphQLField]], service: str) -> list[tuple[Subgraph, GraphQLField]]:
    """The definitions of a field of a type whose ``service`` definition wins (the product's ``prefer``): that
    service's first, then the others that agree with it (the same type up to nullability, arguments that fit);
    a service whose definition differs no longer resolves the field. A field that ``service`` lacks is merged as
    usual."""
    winner = next((f for sub, f in field_defs if sub.name == service), None)
    if winner is None:
        return field_defs
    agreeing = [(sub, f) for sub, f in field_defs if sub.name != service and _agrees(f, winner)]
    return [(sub, f) for sub, f in field_defs if sub.name == service] + agreeing


def _agrees(candidate: GraphQLField, winner: GraphQLField) -> bool:
    if _strip(candidate.type) != _strip(winner.type):
        return False
    for arg_name in {*candidate.args, *winner.args}:
        mine, theirs = candidate.args.get(arg_name), winner.args.get(arg_name)
        if mine is None or theirs is None:
            present = mine or theirs
            if present is not None and is_required_argument(present):
                return False
        elif _strip(mine.type) != _strip(theirs.type) or (
            is_required_argument(mine) and not is_required_argument(theirs)
        ):
            return False  # another type, or required where the product's is not
    return True


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
    type_name = coordinate.partition(".")[0]
    if missing:
        required = [(sub, v) for sub, v in present if is_required(v)]
        if required:
            composer.conflicts.append(
                f'{coordinate}: "{required[0][1].type}" required in service "{required[0][0].name}" but missing '
                f'in service "{missing[0].name}"' + composer.prefer_hint(type_name, required[0][0].name)
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
            f'"{other[0].name}"' + composer.prefer_hint(type_name, first_sub.name)
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
