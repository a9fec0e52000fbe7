"""The admin schema (Strawberry) and every other GraphQL schema in the process introspect correctly side by side."""

from __future__ import annotations

from graphql import build_schema, graphql_sync

from portal.api.schema import schema

ONE_OF = "input Pick @oneOf { a: Int b: String } input Plain { a: Int } type Query { f(p: Pick, q: Plain): Int }"
QUERY = '{ pick: __type(name: "Pick") { isOneOf } plain: __type(name: "Plain") { isOneOf } }'


async def test_a_plain_graphql_schema_still_says_which_inputs_are_one_of() -> None:
    """Strawberry replaced the resolver of graphql-core's shared ``__Type.isOneOf`` when it built the admin schema,
    and every input of any other schema in the process then said it was not @oneOf (the gateway that `loom serve`
    embeds answered its products' introspection so; a composition test failed when portal tests ran first)."""
    assert schema is not None  # the admin schema is built in this process
    result = graphql_sync(build_schema(ONE_OF), QUERY)
    assert result.errors is None and result.data == {"pick": {"isOneOf": True}, "plain": {"isOneOf": False}}
    admin = await schema.execute('{ __type(name: "Query") { isOneOf } }')
    assert admin.errors is None and admin.data == {"__type": {"isOneOf": False}}
