"""Plain GraphQL services (SDL or an introspection result) with merge configuration -> :class:`Subgraph`.

Merge configuration (``SourceSpec.entities``) says, per entity type, its key and the Query field that fetches it:
``Loan: {key: id, operation: loan}`` (one key per call) or ``{key: id, operation: loansByIds}`` (batched: a list
argument, results in the same order). A compound key goes to one input-object argument, or to one argument per
key field (see :func:`entity_resolver`).
"""

from __future__ import annotations

import json
from typing import Any, cast

from graphql import (
    DocumentNode,
    GraphQLArgument,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLSchema,
    IntrospectionQuery,
    build_ast_schema,
    build_client_schema,
    get_named_type,
    get_nullable_type,
    is_list_type,
    is_object_type,
    is_required_argument,
    is_required_input_field,
    validate_schema,
)
from graphql.validation.validate import validate_sdl

from stitcher.errors import SchemaError
from stitcher.federation import field_set_fields, format_graphql_error, parse_sdl
from stitcher.ir import EntityKey, EntityResolver, SourceKind, Subgraph
from stitcher.sources import EntityConfig, SourceSpec

__all__ = ["schema_from_text", "subgraph_from_graphql"]


def schema_from_text(service: str, text: str) -> GraphQLSchema:
    """A schema from SDL or from an introspection result (``{"__schema": ...}`` or ``{"data": {"__schema": ...}}``)."""
    if text.lstrip().startswith("{") and '"__schema"' in text:
        return _schema_from_introspection(service, text)
    document = parse_sdl(service, text)
    errors = validate_sdl(document)
    if errors:
        raise SchemaError(
            "invalid SDL: " + "; ".join(format_graphql_error(e) for e in errors), service=service
        ) from errors[0]
    return _validated(service, build_ast_schema(DocumentNode(definitions=document.definitions), assume_valid_sdl=True))


def _schema_from_introspection(service: str, text: str) -> GraphQLSchema:
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"introspection result is not JSON: {exc}", service=service) from exc
    if isinstance(data, dict) and isinstance(data.get("data"), dict):
        data = data["data"]
    if not isinstance(data, dict) or not isinstance(data.get("__schema"), dict):
        raise SchemaError('introspection result has no "__schema" object', service=service)
    try:
        schema = build_client_schema(cast(IntrospectionQuery, data))
    except (GraphQLError, TypeError, KeyError, ValueError) as exc:
        raise SchemaError(f"introspection result is not a valid schema: {exc}", service=service) from exc
    return _validated(service, schema)


def _validated(service: str, schema: GraphQLSchema) -> GraphQLSchema:
    errors = validate_schema(schema)
    if errors:
        raise SchemaError(
            "invalid schema: " + "; ".join(format_graphql_error(e) for e in errors), service=service
        ) from errors[0]
    return schema


def subgraph_from_graphql(spec: SourceSpec) -> Subgraph:
    """Read a plain GraphQL service and its merge configuration into the IR."""
    schema = schema_from_text(spec.name, spec.schema)
    resolvers: dict[str, EntityResolver] = {}
    keys: dict[str, tuple[EntityKey, ...]] = {}
    problems: list[str] = []
    for type_name, config in spec.entities.items():
        try:
            resolvers[type_name] = entity_resolver(schema, type_name, config)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        keys[type_name] = (EntityKey(config.key),)
    if problems:
        raise SchemaError("merge configuration: " + "; ".join(problems), service=spec.name)
    return Subgraph(
        name=spec.name, kind=SourceKind.GRAPHQL, schema=schema, url=spec.url, keys=keys, resolvers=resolvers
    )


def entity_resolver(schema: GraphQLSchema, type_name: str, config: EntityConfig) -> EntityResolver:
    """Check one entity's merge configuration against the schema; ValueError says what does not fit.

    A compound key (``key: "sku vendor"``) is passed either as one input-object argument with fields named like
    the key fields (a list of them when batched), or, for single fetches, as one argument per key field named
    like it. Nested key fields are refused: a plain service has no standard way to receive them.
    """
    entity = schema.get_type(type_name)
    if not is_object_type(entity):
        raise ValueError(f"entity {type_name} is not an object type of the schema")
    try:
        key_fields = field_set_fields(schema, type_name, config.key)
    except ValueError as exc:
        raise ValueError(f"entity {type_name}: key {exc}") from exc
    query = schema.query_type
    field = query.fields.get(config.operation) if query else None
    if field is None:
        raise ValueError(f"entity {type_name}: Query.{config.operation} does not exist")
    coordinate = f"Query.{config.operation}"
    names = [name for _type, name in key_fields]
    key_arguments: tuple[str, ...] = ()
    if "{" in config.key:
        raise ValueError(
            f"entity {type_name}: key {config.key!r} has nested fields; a plain GraphQL resolver takes flat key "
            "fields (one argument each, or one input-object argument with those fields)"
        )
    if len(names) > 1:
        argument, key_arguments = _compound_argument(type_name, config, field.args, coordinate, names)
    elif config.argument is not None:
        argument = config.argument
        if argument not in field.args:
            raise ValueError(f"entity {type_name}: {coordinate} has no argument {argument!r}")
    elif len(field.args) == 1:
        argument = next(iter(field.args))
    else:
        key_name = names[0]
        candidates = [a for a in field.args if a in (key_name, f"{key_name}s") or a.lower().startswith(key_name)]
        if len(candidates) != 1:
            raise ValueError(
                f"entity {type_name}: cannot tell which argument of {coordinate} takes the key "
                f"(arguments: {', '.join(field.args) or 'none'}); set 'argument'"
            )
        argument = candidates[0]
    if argument:
        argument_is_list = is_list_type(get_nullable_type(field.args[argument].type))
        batched = argument_is_list if config.batched is None else config.batched
        if batched and not argument_is_list:
            raise ValueError(f"entity {type_name}: batched, but {coordinate}({argument}:) is not a list")
        taken = {argument}
    else:
        if config.batched:
            raise ValueError(
                f"entity {type_name}: a batched compound key needs one argument that is a list of input objects "
                f"with fields {', '.join(names)}; {coordinate} has none"
            )
        batched = False
        taken = set(key_arguments)
    required = [n for n, a in field.args.items() if n not in taken and is_required_argument(a)]
    if required:
        raise ValueError(f"entity {type_name}: {coordinate} also requires {', '.join(required)}")
    returned = get_nullable_type(field.type)
    returns_list = is_list_type(returned)
    named = get_named_type(field.type).name
    if named != type_name or returns_list != batched:
        wanted = f"[{type_name}]" if batched else type_name
        raise ValueError(f"entity {type_name}: {coordinate} returns {field.type}, expected {wanted}")
    return EntityResolver(
        type_name=type_name,
        key=config.key,
        field=config.operation,
        argument=argument,
        batched=batched,
        key_arguments=key_arguments,
    )


def _compound_argument(
    type_name: str, config: EntityConfig, args: dict[str, GraphQLArgument], coordinate: str, names: list[str]
) -> tuple[str, tuple[str, ...]]:
    """(argument, key_arguments) for a compound key: an input-object argument (``argument`` set, or the field's only
    argument), else one argument per key field (``argument`` is "")."""
    key = config.key
    candidate = config.argument
    if candidate is None and len(args) == 1:
        only = next(iter(args))
        if isinstance(get_named_type(args[only].type), GraphQLInputObjectType):
            candidate = only
    if candidate is None:
        missing = [n for n in names if n not in args]
        if missing:
            raise ValueError(
                f"entity {type_name}: compound key {key!r} needs an argument per key field on {coordinate} "
                f"(missing {', '.join(missing)}) or one input-object argument with fields {', '.join(names)}; "
                "set 'argument' to that input-object argument"
            )
        return "", tuple(names)
    if candidate not in args:
        raise ValueError(f"entity {type_name}: {coordinate} has no argument {candidate!r}")
    input_type = get_named_type(args[candidate].type)
    if not isinstance(input_type, GraphQLInputObjectType):
        raise ValueError(
            f"entity {type_name}: compound key {key!r} needs {coordinate}({candidate}:) to be an input object with "
            f"fields {', '.join(names)} (a list of them when batched), not {args[candidate].type}"
        )
    missing = [n for n in names if n not in input_type.fields]
    if missing:
        raise ValueError(
            f"entity {type_name}: input {input_type.name} of {coordinate}({candidate}:) lacks the key field(s) "
            f"{', '.join(missing)}"
        )
    extra = [n for n, f in input_type.fields.items() if n not in names and is_required_input_field(f)]
    if extra:
        raise ValueError(
            f"entity {type_name}: input {input_type.name} also requires {', '.join(extra)}, which the key "
            f"{key!r} does not give"
        )
    return candidate, tuple(names)
