"""Merging unions, enums, input objects and scalars."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    get_named_type,
    is_non_null_type,
    is_required_input_field,
)
from graphql.language.print_string import print_string
from graphql.utilities.get_default_value_ast import get_default_value_ast

from stitcher.composition.fields import _deprecated, _description, _first, _merge_input_value, _optional_deprecation
from stitcher.composition.state import _Composer, _Def

# ``own_node``: the composed document takes the type's own AST node (state's ``_own_node``), so where the merge can
# neither conflict, warn nor leave a value out, it makes no SDL lines (``composer.sdl[name]`` is empty).


def _merge_union(composer: _Composer, name: str, defs: list[_Def], *, own_node: bool) -> None:
    members: dict[str, None] = {}
    for d in defs:
        assert isinstance(d.type, GraphQLUnionType)
        members.update((t.name, None) for t in d.type.types)
    if own_node and members:
        composer.sdl[name] = ""
        return
    description = _first([d.type.description for d in defs])
    composer.sdl[name] = f"{_description(description, '')}union {name} = {' | '.join(members)}"


def _merge_enum(composer: _Composer, name: str, defs: list[_Def], *, own_node: bool) -> None:
    value_sets = []
    for d in defs:
        assert isinstance(d.type, GraphQLEnumType)
        value_sets.append(list(d.type.values))
    if own_node and value_sets[0]:
        composer.sdl[name] = ""
        return
    input_types, output_types = _usage(composer)
    as_input, as_output = name in input_types, name in output_types
    if as_input and as_output:
        first = defs[0]
        for d, values in zip(defs[1:], value_sets[1:], strict=True):
            if set(values) != set(value_sets[0]):
                hint = composer.prefer_hint(name, first.sub.name).strip(" ()")
                composer.conflicts.append(
                    f'{name}: values {" ".join(value_sets[0])} in service "{first.sub.name}" vs {" ".join(values)} '
                    f'in service "{d.sub.name}" (an enum used as input and output must be the same everywhere'
                    + (f"; {hint})" if hint else ")")
                )
        chosen = value_sets[0]
    elif as_input:
        chosen = [v for v in value_sets[0] if all(v in vs for vs in value_sets)]
        dropped = sorted({v for vs in value_sets for v in vs} - set(chosen))
        if not chosen:
            composer.conflicts.append(
                f"{name}: input enum has no value common to services "
                + " and ".join(f'"{d.sub.name}"' for d in defs)
                + composer.prefer_hint(name, defs[0].sub.name)
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


def _usage(composer: _Composer) -> tuple[set[str], set[str]]:
    """The types some subgraph takes as input (arguments, input fields) and returns (fields); found once, when an
    enum's merge first needs them."""
    if composer.usage is None:
        input_types: set[str] = set()
        output_types: set[str] = set()
        for sub in composer.subgraphs:
            assert sub.schema is not None
            for directive in sub.schema.directives:
                input_types.update(get_named_type(a.type).name for a in directive.args.values())
            for named in sub.schema.type_map.values():
                if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
                    for gql_field in named.fields.values():
                        output_types.add(get_named_type(gql_field.type).name)
                        input_types.update(get_named_type(a.type).name for a in gql_field.args.values())
                elif isinstance(named, GraphQLInputObjectType):
                    input_types.update(get_named_type(f.type).name for f in named.fields.values())
        composer.usage = (input_types, output_types)
    return composer.usage


def _merge_input(composer: _Composer, name: str, defs: list[_Def], *, own_node: bool) -> None:
    field_names: dict[str, None] = {}
    for d in defs:
        assert isinstance(d.type, GraphQLInputObjectType)
        field_names.update((f, None) for f in d.type.fields)
    # @oneOf anywhere makes the product's input @oneOf: a value with exactly one member set suits every service.
    one_of = [d.sub.name for d in defs if isinstance(d.type, GraphQLInputObjectType) and d.type.is_one_of]
    if own_node and _merges_as_it_is(defs[0].type, one_of=bool(one_of)):
        composer.sdl[name] = ""
        return
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
            f"{name}: input type has no field common to services "
            + " and ".join(f'"{d.sub.name}"' for d in defs)
            + composer.prefer_hint(name, defs[0].sub.name)
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


def _merges_as_it_is(named: GraphQLNamedType, *, one_of: bool) -> bool:
    """Whether one definition of an input type merges into itself: it has fields, none deprecated (a required one
    would lose its deprecation, with a warning), and, when @oneOf, none required or with a default (a conflict)."""
    assert isinstance(named, GraphQLInputObjectType)
    fields = named.fields.values()
    if not fields or any(f.deprecation_reason is not None for f in fields):
        return False
    return not one_of or not any(is_non_null_type(f.type) or get_default_value_ast(f) is not None for f in fields)


def _merge_scalar(composer: _Composer, name: str, defs: list[_Def], *, own_node: bool) -> None:
    if own_node:
        composer.sdl[name] = ""
        return
    urls = [d.type.specified_by_url for d in defs if isinstance(d.type, GraphQLScalarType)]
    url = _first(urls)
    specified = f" @specifiedBy(url: {print_string(url)})" if url else ""
    description = _first([d.type.description for d in defs])
    composer.sdl[name] = f"{_description(description, '')}scalar {name}{specified}"
