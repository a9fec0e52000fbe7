"""Validation of a big admin API document in a worker thread, so it cannot stall the portal's other requests.

Parsing is linear in the document and capped by ``MAX_TOKENS``; validation is not (overlapping-fields checks grow
with the square of a selection), and eight anonymous 10k-token documents held ``/healthz`` for seconds while the
loop validated them. A document of ``INLINE_CHARS`` or more is validated in the loop's default executor (bounded);
smaller ones stay on the loop, where a thread hop would cost more than the work.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

__all__ = ["INLINE_CHARS", "OffLoopValidation"]

INLINE_CHARS = 2_000


class OffLoopValidation(SchemaExtension):
    """Validates a big document off the event loop with the operation's rules (the depth and alias limiters add
    theirs when the operation starts, before this runs); Strawberry then skips its own validation, which it does for
    a document whose errors an extension has already set."""

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if (
            document is not None
            and context.pre_execution_errors is None
            and context.validation_rules
            and len(context.query or "") >= INLINE_CHARS
        ):
            rules = tuple(context.validation_rules)
            context.pre_execution_errors = await asyncio.to_thread(
                validate_document, context.schema._schema, document, rules
            )
        yield
