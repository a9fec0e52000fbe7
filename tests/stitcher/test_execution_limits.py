"""The executor applies the limits per request: a page size passed as a variable counts like the literal, and with
introspection off no validation error suggests a field name. Refusals happen before any upstream call: the
transport here raises if it is ever used."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
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
    return Executor(supergraph, NoUpstream(), GatewayOptions(**options))


def codes(errors: Sequence[Mapping[str, Any]] | None) -> list[str]:
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


class GatedExecutor(Executor):
    """Preparation waits at a gate the test holds, and records the thread it ran in."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.threads: list[int] = []

    def _prepare(self, document: str, operation_name: str | None) -> Any:
        self.threads.append(threading.get_ident())
        self.entered.set()
        self.gate.wait(timeout=30)
        return super()._prepare(document, operation_name)


async def test_a_big_new_document_is_prepared_off_the_event_loop() -> None:
    """Issue 6 (Medium 4): parsing and validating big new documents stalled every other request. While one is held
    in preparation, the loop keeps running other work; a small new document is still prepared inline."""
    supergraph = compose([SourceSpec("users", SourceKind.GRAPHQL, SDL, url="http://users.test/graphql")])
    run = GatedExecutor(supergraph, NoUpstream())
    big = "{ users(first: 1) { " + " ".join(f"nope{i}" for i in range(300)) + " } }"  # invalid: no fetch
    pending = asyncio.ensure_future(run.execute(big))
    await asyncio.to_thread(run.entered.wait, 30)
    other = asyncio.ensure_future(asyncio.sleep(0, result="ran"))
    assert await other == "ran" and not pending.done()  # the loop is free while the document waits at the gate
    run.gate.set()
    response = await pending
    assert codes(response.errors)[0] == "GRAPHQL_VALIDATION_FAILED"
    assert run.threads[0] != threading.get_ident()
    await run.execute("{ users(first: 1) { nope } }")
    assert run.threads[1] == threading.get_ident()  # small: inline
    again = await run.execute(big)  # cached now: no second preparation
    assert len(run.threads) == 2 and codes(again.errors)[0] == "GRAPHQL_VALIDATION_FAILED"
