"""Waiting on a condition in async tests (never on a sleep of a guessed length)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["BOUND", "until"]

BOUND = 30.0  # seconds within which what is waited on must happen, even on a busy CI machine


async def until(condition: Callable[[], bool], within: float = BOUND) -> None:
    """Yield to the event loop until ``condition()`` holds (another task reaching a state that has no event of its
    own, e.g. a watch being held); TimeoutError after ``within`` seconds."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - the states waited on have no event to wait for
            await asyncio.sleep(0.001)
