"""Issue 6 (Medium 4): a big admin API document is validated off the event loop, so it cannot stall the portal."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from graphql import ASTValidationRule, ValidationContext
from strawberry.extensions import AddValidationRules

from portal.api.errors import LoomSchema
from portal.api.mutations import Mutation
from portal.api.queries import Query
from portal.api.schema import schema
from portal.api.validation import INLINE_CHARS

GATE = threading.Event()
ENTERED = threading.Event()
THREADS: list[int] = []


class GatedRule(ASTValidationRule):
    """Validation waits at a gate the test holds, and records the thread it ran in."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        THREADS.append(threading.get_ident())
        ENTERED.set()
        GATE.wait(timeout=30)


def gated_schema() -> LoomSchema:
    """The admin schema's extensions, with the gated rule added after the limiters (as they add theirs)."""
    limits = [factory for factory in schema.extensions if not isinstance(factory, type)]
    rest = [factory for factory in schema.extensions if factory not in limits]
    gated = [*limits, lambda: AddValidationRules([GatedRule]), *rest]
    return LoomSchema(query=Query, mutation=Mutation, extensions=gated)


async def test_a_big_document_is_validated_off_the_event_loop() -> None:
    gated = gated_schema()
    big = "{ me { " + " ".join(f"nope{i}" for i in range(300)) + " } }"
    assert len(big) >= INLINE_CHARS
    GATE.clear()
    pending: asyncio.Future[Any] = asyncio.ensure_future(gated.execute(big))
    await asyncio.to_thread(ENTERED.wait, 30)
    other = asyncio.ensure_future(asyncio.sleep(0, result="ran"))
    assert await other == "ran" and not pending.done()  # the loop runs other work while validation waits
    GATE.set()
    result = await pending
    assert result.errors and "Cannot query field 'nope0'" in result.errors[0].message
    assert THREADS[-1] != threading.get_ident()

    small = await gated.execute("{ me { nope } }")  # small: validated inline, where a thread hop costs more
    assert small.errors and "Cannot query field 'nope'" in small.errors[0].message
    assert THREADS[-1] == threading.get_ident()
