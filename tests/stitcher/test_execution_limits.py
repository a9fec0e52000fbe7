"""The executor applies the limits per request: a page size passed as a variable counts like the literal, and with
introspection off no validation error suggests a field name. Refusals happen before any upstream call: the
transport here raises if it is ever used."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stitcher.composition import compose
from stitcher.execution import Executor
from stitcher.ir import SourceKind
from stitcher.options import GatewayOptions, Limits
from stitcher.sources import SourceSpec

SDL = "type Query { users(first: Int): [User!]! }\ntype User { id: ID! name: String friends(first: Int): [User!]! }\n"


class NoUpstream:
    """A transport that fails the test if a refused request reached it."""

    async def request(self, method: str, url: str, **kwargs: Any) -> Any:
        raise AssertionError(f"a refused request reached the upstream: {method} {url}")

    async def aclose(self) -> None:
        return None


def executor(**options: Any) -> Executor:
    supergraph = compose([SourceSpec("users", SourceKind.GRAPHQL, SDL, url="http://users.test/graphql")])
    return Executor(supergraph, NoUpstream(), GatewayOptions(**options))  # type: ignore[arg-type]


def codes(errors: list[Mapping[str, Any]] | None) -> list[str]:
    return [e["extensions"]["code"] for e in errors or []]


async def test_a_variable_page_size_is_refused_like_the_literal() -> None:
    run = executor(limits=Limits(max_cost=100))
    query = "query($n: Int) { users(first: $n) { friends(first: 10) { id } } }"
    literal = await run.execute("{ users(first: 1000) { friends(first: 10) { id } } }")
    variable = await run.execute(query, variables={"n": 1000})
    assert codes(literal.errors) == codes(variable.errors) == ["MAX_COST_EXCEEDED"]
    assert variable.errors is not None and "estimated cost is 11000" in variable.errors[0]["message"]


async def test_no_field_suggestions_while_introspection_is_off() -> None:
    on = await executor().execute("{ users { nam } }")
    off = await executor(introspection=False).execute("{ users { nam } }")
    assert on.errors is not None and "Did you mean 'name'?" in on.errors[0]["message"]
    assert off.errors is not None and off.errors[0]["message"] == "Cannot query field 'nam' on type 'User'."
