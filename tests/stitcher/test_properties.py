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
    validate,
)
from hypothesis import assume, given, strategies as st

from stitcher.execution import Executor
from stitcher.options import GatewayOptions, Limits
from stitcher.transport import AiohttpTransport
from tests._hypothesis import across_upstreams
from tests.stitcher.upstreams.shops import ShopUpstreams

ARGUMENTS: dict[str, st.SearchStrategy[str]] = {
    "topProducts": st.one_of(st.just(""), st.integers(0, 6).map(lambda n: f"(first: {n})")),
    "product": st.sampled_from(["1", "2", "5", "9"]).map(lambda upc: f'(upc: "{upc}")'),
    "user": st.sampled_from(["1", "3", "7"]).map(lambda id_: f'(id: "{id_}")'),
    "search": st.sampled_from(["a", "o", "ch", "zz"]).map(lambda text: f'(text: "{text}")'),
}
MAX_DEPTH = 3


class _Document:
    """What one generated query needs besides its selections: named fragments and the Boolean variables that
    ``@skip``/``@include`` use (declared only when used: unused variables are a validation error)."""

    def __init__(self) -> None:
        self.fragments: list[str] = []
        self.aliases = 0
        self.variables: dict[str, bool] = {}  # name -> value sent
        self.defaults: dict[str, bool] = {}  # name -> default in the declaration (no value sent)


@st.composite
def _directive(draw: st.DrawFn, doc: _Document) -> str:
    choice = draw(st.integers(0, 9))
    if choice < 6:
        return ""
    name = draw(st.sampled_from(["skip", "include"]))
    if choice == 6:
        return f" @{name}(if: {draw(st.sampled_from(['true', 'false']))})"
    variable = f"c{len(doc.variables) + len(doc.defaults)}"
    if choice == 7:
        doc.defaults[variable] = draw(st.booleans())
    else:
        doc.variables[variable] = draw(st.booleans())
    return f" @{name}(if: ${variable})"


@st.composite
def _spread(draw: st.DrawFn, doc: _Document, condition: str | None, body: str) -> str:
    """A selection set's contents as an inline fragment (with or without a type condition) or a named fragment."""
    directive = draw(_directive(doc))
    if condition is None or draw(st.booleans()):
        on = f" on {condition}" if condition is not None else ""
        return f"...{on}{directive} {body}"
    name = f"F{len(doc.fragments)}"
    doc.fragments.append(f"fragment {name} on {condition} {body}")
    return f"...{name}{directive}"


@st.composite
def selection(
    draw: st.DrawFn, schema: GraphQLSchema, type_name: str, depth: int, reference: GraphQLSchema, doc: _Document
) -> str:
    named = schema.get_type(type_name)
    served = reference.get_type(type_name)
    assert isinstance(served, GraphQLObjectType | GraphQLUnionType)
    parts: list[str] = []
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(["__typename", "kind: __typename", "name: __typename"])))
    if isinstance(named, GraphQLUnionType):
        for member in named.types:
            if draw(st.booleans()):
                body = draw(selection(schema, member.name, depth, reference, doc))
                parts.append(draw(_spread(doc, member.name, body)))
        if draw(st.booleans()):  # a fragment on the union itself, nested fragments on its members inside
            member = draw(st.sampled_from(named.types)).name
            inner = draw(_spread(doc, member, draw(selection(schema, member, depth, reference, doc))))
            parts.append(draw(_spread(doc, type_name, "{ __typename " + inner + " }")))
        parts.append("__typename")
        return "{ " + " ".join(parts) + " }"
    assert isinstance(named, GraphQLObjectType)
    names = sorted(
        n
        for n, f in named.fields.items()
        if (depth < MAX_DEPTH or is_leaf_type(get_named_type(f.type))) and n in getattr(served, "fields", {})
    )
    if parts and parts[0] == "name: __typename" and "name" in names:
        parts[0] = "__typename"  # "name" is taken by the field of that name here
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True))
    # Aliases that collide with the names of fields not selected here (``name: upc``) must not be confused.
    free = [n for n in names if n not in chosen]
    for name in chosen:
        field = named.fields[name]
        alias_kind = draw(st.integers(0, 5))
        if alias_kind == 0:
            doc.aliases += 1
            alias = f"{type_name[:2].lower()}{doc.aliases}: "  # unique: a repeated field's sub-aliases never clash
        elif alias_kind == 1 and free:
            alias = f"{free.pop(draw(st.integers(0, len(free) - 1)))}: "
        else:
            alias = ""
        arguments = draw(ARGUMENTS[name]) if name in ARGUMENTS and type_name == "Query" else ""
        sub = ""
        inner = get_named_type(field.type)
        if not is_leaf_type(inner):
            sub = " " + draw(selection(schema, inner.name, depth + 1, reference, doc))
        parts.append(f"{alias}{name}{arguments}{draw(_directive(doc))}{sub}")
        if sub and draw(st.integers(0, 3)) == 0:
            # The same response key again with another sub-selection: the two must merge. Wrapped in a fragment
            # on this type half the time, so the merge crosses fragment boundaries.
            again = f"{alias}{name}{arguments} " + draw(selection(schema, inner.name, depth + 1, reference, doc))
            parts.append(draw(_spread(doc, type_name, "{ " + again + " }")) if draw(st.booleans()) else again)
    if draw(st.integers(0, 3)) == 0:  # part of this selection set moves into a fragment
        cut = draw(st.integers(0, len(parts) - 1))
        moved = draw(_spread(doc, type_name if draw(st.booleans()) else None, "{ " + " ".join(parts[cut:]) + " }"))
        parts = [*parts[:cut], moved]
    return "{ " + " ".join(parts) + " }"


@st.composite
def operation(draw: st.DrawFn, schema: GraphQLSchema, reference: GraphQLSchema) -> tuple[str, dict[str, bool] | None]:
    """A whole document (operation + fragments) and its variables."""
    doc = _Document()
    body = draw(selection(schema, "Query", 1, reference, doc))
    declared = [f"${n}: Boolean!" for n in doc.variables] + [
        f"${n}: Boolean = {str(v).lower()}" for n, v in doc.defaults.items()
    ]
    head = "query Q(" + ", ".join(declared) + ") " if declared else draw(st.sampled_from(["", "query ", "query Q "]))
    return " ".join([head + body, *doc.fragments]), (dict(doc.variables) or None)


@pytest.fixture(scope="module")
def shop() -> Iterator[ShopUpstreams]:
    with ShopUpstreams() as servers:
        yield servers


@pytest.fixture(scope="module")
def stitched(shop: ShopUpstreams) -> Iterator[tuple[asyncio.AbstractEventLoop, dict[str, Executor]]]:
    loop = asyncio.new_event_loop()
    transport = loop.run_until_complete(AiohttpTransport.create())
    # Cost limits are the gateway's policy, not part of the comparison.
    options = GatewayOptions(limits=Limits(max_cost=0, max_aliases=0))
    products = {"federation": shop.federation(), "graphql": shop.graphql(), "openapi": shop.openapi()}
    yield loop, {kind: Executor(supergraph, transport, options) for kind, supergraph in products.items()}
    loop.run_until_complete(transport.aclose())
    loop.close()


def _ordered(value: Any) -> Any:
    if isinstance(value, dict):
        return [(key, _ordered(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_ordered(item) for item in value]
    return value


def _error_paths(errors: Any) -> list[str]:
    return sorted(str(e.get("path")) for e in errors or ())


@pytest.mark.parametrize(("kind", "examples"), [("federation", 80), ("graphql", 40), ("openapi", 40)])
def test_stitched_equals_monolith(
    shop: ShopUpstreams, stitched: tuple[asyncio.AbstractEventLoop, dict[str, Executor]], kind: str, examples: int
) -> None:
    loop, executors = stitched
    executor = executors[kind]
    monolith = shop.apps["monolith"]

    @across_upstreams(examples)
    @given(case=operation(executor.supergraph.schema, monolith.schema))
    def check(case: tuple[str, dict[str, bool] | None]) -> None:
        query, variables = case
        document = parse(query)
        # Rarely, a repeated field's two sub-selections give one response key to two fields (``name: upc`` and
        # ``name``): graphql-core refuses that; such documents are not what this test is about.
        assume(not validate(monolith.schema, document))
        reference = execute_sync(monolith.schema, document, monolith.root_value, variable_values=variables)
        response = loop.run_until_complete(executor.execute(query, variables))
        assert not response.request_error, (query, response.errors)
        # Key order too: the spec orders a result's keys by the document, whichever subgraph served them.
        assert _ordered(response.data) == _ordered(reference.data), query
        assert _error_paths(response.errors) == _error_paths([e.formatted for e in reference.errors or ()]), query

    check()
