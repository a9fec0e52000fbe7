"""Entities of a REST subgraph (``spec.entities``): which GET operation fetches an entity by its key, checked
against the operation's parameters and result; refusals say what to change."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from graphql import GraphQLField, GraphQLObjectType, get_named_type, is_list_type, is_non_null_type

from stitcher.errors import SchemaError
from stitcher.ir import EntityKey, EntityResolver, RestBinding, RestParameter, Subgraph
from stitcher.sources import EntityConfig

__all__ = ["bind_entities"]

_Fail = Callable[[str], SchemaError]


def bind_entities(
    subgraph: Subgraph,
    binding: RestBinding,
    query_fields: dict[str, GraphQLField],
    spec_name: str,
    entities: Mapping[str, EntityConfig],
) -> None:
    """Add a resolver and key to ``subgraph`` for each entity of ``spec.entities``."""
    by_operation: dict[str, tuple[str, str]] = {}
    for (root, name), op in binding.operations.items():
        if op.operation_id:
            by_operation.setdefault(op.operation_id, (root, name))
        by_operation.setdefault(name, (root, name))
    for entity, config in entities.items():
        operation = config.operation

        def fail(reason: str, entity: str = entity, operation: str = operation) -> SchemaError:
            return SchemaError(f"entity {entity!r} (operation {operation!r}): {reason}", service=spec_name)

        if operation not in by_operation:
            raise fail("no operation with this operationId; check the spelling against the OpenAPI document")
        root, field = by_operation[operation]
        if root != "Query":
            raise fail(f"the operation is a {binding.operations[(root, field)].method}; only GET can fetch")
        gql_field = query_fields[field]
        _entity(subgraph, binding, gql_field, entity, config.key, field, config.argument, config.batched, fail)


def _entity(
    subgraph: Subgraph,
    binding: RestBinding,
    gql_field: GraphQLField,
    entity: str,
    key: str,
    field: str,
    argument: str | None,
    batched: bool | None,
    fail: _Fail,
) -> None:
    named = get_named_type(gql_field.type)
    if named.name != entity:
        raise fail(f"it returns {gql_field.type}, not {entity}")
    if not isinstance(named, GraphQLObjectType):
        raise fail(f"{entity} is not an object type")
    missing = [k for k in re.findall(r"[_A-Za-z][_0-9A-Za-z]*", key.split("{")[0]) if k not in named.fields]
    if missing:
        raise fail(f"key field {missing[0]!r} is not a field of {entity} (fields: {', '.join(named.fields)})")
    op = binding.operations[("Query", field)]
    params = [p for p in op.parameters if p.location in ("path", "query")]
    key_fields = key.split()
    if "{" in key:
        raise fail(f"key {key!r} has nested fields; a REST operation takes flat key fields as parameters")
    if len(key_fields) > 1:
        _compound_entity(subgraph, gql_field, entity, key, key_fields, field, params, argument, batched, fail)
        return
    arg = _entity_argument(argument, key, params, fail)
    arg_type = gql_field.args[arg].type
    arg_is_list = is_list_type(arg_type.of_type if is_non_null_type(arg_type) else arg_type)
    result_is_list = is_list_type(gql_field.type)
    batched = arg_is_list if batched is None else batched
    if batched and not (arg_is_list and result_is_list):
        raise fail(f"batched needs a list argument and a list result; {field}({arg}: {arg_type}): {gql_field.type}")
    if not batched and (arg_is_list or result_is_list):
        raise fail(f"a single fetch needs a scalar argument and one result; got {arg_type} -> {gql_field.type}")
    subgraph.resolvers[entity] = EntityResolver(entity, key, field, arg, batched)
    subgraph.keys[entity] = (*subgraph.keys.get(entity, ()), EntityKey(key))


def _compound_entity(
    subgraph: Subgraph,
    gql_field: GraphQLField,
    entity: str,
    key: str,
    key_fields: list[str],
    field: str,
    params: list[RestParameter],
    argument: str | None,
    batched: bool | None,
    fail: _Fail,
) -> None:
    """A compound key: each key field goes to the path or query parameter named like it, one request per entity
    (a REST operation has no standard way to take a list of compound keys)."""
    if batched or argument is not None:
        raise fail(
            f"compound key {key!r}: REST entities take one path/query parameter per key field, one entity per "
            "request; remove `batched` and `argument`"
        )
    if is_list_type(gql_field.type.of_type if is_non_null_type(gql_field.type) else gql_field.type):
        raise fail(f"compound key {key!r}: the operation must return one {entity}, not {gql_field.type}")
    by_name = {p.name: p for p in params} | {p.argument: p for p in params}
    missing = [k for k in key_fields if k not in by_name]
    if missing:
        names = ", ".join(p.name for p in params) or "none"
        raise fail(
            f"compound key {key!r}: no path or query parameter named {', '.join(missing)} (parameters: {names}); "
            "each key field needs a parameter of the same name"
        )
    arguments = tuple(by_name[k].argument for k in key_fields)
    required = [p.name for p in params if p.required and p.argument not in arguments]
    if required:
        raise fail(f"the operation also requires {', '.join(required)}, which the key {key!r} does not give")
    subgraph.resolvers[entity] = EntityResolver(entity, key, field, "", False, arguments)
    subgraph.keys[entity] = (*subgraph.keys.get(entity, ()), EntityKey(key))


def _entity_argument(argument: str | None, key: str, params: list[RestParameter], fail: _Fail) -> str:
    if argument is not None:
        for p in params:
            if argument in (p.argument, p.name):
                return p.argument
        raise fail(f"argument {argument!r} is not a path or query parameter of the operation")
    wanted = {key.lower(), key.lower() + "s", key.lower() + "es"}
    named = [p for p in params if p.name.lower() in wanted or p.argument.lower() in wanted]
    if len(named) == 1:
        return named[0].argument
    if len(params) == 1:
        return params[0].argument
    names = ", ".join(p.name for p in params) or "none"
    raise fail(f"cannot tell which parameter receives the key {key!r} (parameters: {names}); set `argument`")
