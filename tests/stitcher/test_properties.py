"""Property test: any query over the shop's product schema returns through the stitcher exactly what the monolith
returns for it: the same data and errors at the same paths. Run for each kind of source on loopback: Federation
subgraphs, plain GraphQL services with merge config, and plain GraphQL + a REST service (queries are drawn from
that product's own schema, restricted to what the monolith also serves)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from graphql import (
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    execute_sync,
    get_named_type,
    is_leaf_type,
    parse,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stitcher.execution import ExecutionOptions, Executor
from stitcher.transport import AiohttpTransport
from tests.stitcher.upstreams.shops import ShopUpstreams

ARGUMENTS: dict[str, st.SearchStrategy[str]] = {
    "topProducts": st.one_of(st.just(""), st.integers(0, 6).map(lambda n: f"(first: {n})")),
    "product": st.sampled_from(["1", "2", "5", "9"]).map(lambda upc: f'(upc: "{upc}")'),
    "user": st.sampled_from(["1", "3", "7"]).map(lambda id_: f'(id: "{id_}")'),
    "search": st.sampled_from(["a", "o", "ch", "zz"]).map(lambda text: f'(text: "{text}")'),
}
MAX_DEPTH = 3


@st.composite
def selection(draw: st.DrawFn, schema: GraphQLSchema, type_name: str, depth: int, reference: GraphQLSchema) -> str:
    named = schema.get_type(type_name)
    served = reference.get_type(type_name)
    assert isinstance(served, GraphQLObjectType | GraphQLUnionType)
    parts: list[str] = []
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(["__typename", "kind: __typename"])))
    if isinstance(named, GraphQLUnionType):
        for member in named.types:
            if draw(st.booleans()):
                parts.append(f"... on {member.name} {draw(selection(schema, member.name, depth, reference))}")
        parts.append("__typename")
        return "{ " + " ".join(parts) + " }"
    assert isinstance(named, GraphQLObjectType)
    names = sorted(
        n
        for n, f in named.fields.items()
        if (depth < MAX_DEPTH or is_leaf_type(get_named_type(f.type))) and n in getattr(served, "fields", {})
    )
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True))
    for index, name in enumerate(chosen):
        field = named.fields[name]
        alias = f"{type_name[:2].lower()}{depth}_{index}: " if draw(st.integers(0, 3)) == 0 else ""
        arguments = draw(ARGUMENTS[name]) if name in ARGUMENTS and type_name == "Query" else ""
        directive = draw(st.sampled_from(["", "", "", " @skip(if: true)", " @include(if: true)"]))
        sub = ""
        inner = get_named_type(field.type)
        if not is_leaf_type(inner):
            sub = " " + draw(selection(schema, inner.name, depth + 1, reference))
        parts.append(f"{alias}{name}{arguments}{directive}{sub}")
    return "{ " + " ".join(parts) + " }"


@pytest.fixture(scope="module")
def shop() -> Iterator[ShopUpstreams]:
    with ShopUpstreams() as servers:
        yield servers


@pytest.fixture(scope="module")
def stitched(shop: ShopUpstreams) -> Iterator[tuple[asyncio.AbstractEventLoop, dict[str, Executor]]]:
    loop = asyncio.new_event_loop()
    transport = loop.run_until_complete(AiohttpTransport.create())
    # Cost limits are the gateway's policy, not part of the comparison.
    options = ExecutionOptions(max_cost=0, max_aliases=0)
    products = {"federation": shop.federation(), "graphql": shop.graphql(), "openapi": shop.openapi()}
    yield loop, {kind: Executor(supergraph, transport, options) for kind, supergraph in products.items()}
    loop.run_until_complete(transport.aclose())
    loop.close()


def _error_paths(errors: Any) -> list[str]:
    return sorted(str(e.get("path")) for e in errors or ())


@pytest.mark.parametrize(("kind", "examples"), [("federation", 80), ("graphql", 40), ("openapi", 40)])
def test_stitched_equals_monolith(
    shop: ShopUpstreams, stitched: tuple[asyncio.AbstractEventLoop, dict[str, Executor]], kind: str, examples: int
) -> None:
    loop, executors = stitched
    executor = executors[kind]
    monolith = shop.apps["monolith"]

    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(query=selection(executor.supergraph.schema, "Query", 1, monolith.schema))
    def check(query: str) -> None:
        reference = execute_sync(monolith.schema, parse(query), monolith.root_value)
        response = loop.run_until_complete(executor.execute(query))
        assert not response.request_error, (query, response.errors)
        assert response.data == reference.data, query
        assert _error_paths(response.errors) == _error_paths([e.formatted for e in reference.errors or ()]), query

    check()
