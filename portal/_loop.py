"""The portal's heavy CPU work (translating and composing schemas) never runs on the event loop."""

from __future__ import annotations

import asyncio

__all__ = ["not_on_the_event_loop"]


def not_on_the_event_loop(what: str) -> None:
    """Raise when called on a thread that runs an event loop: ``what`` would hold every other request for as long
    as it takes (seconds for a large schema). The admin API runs its work in a worker thread
    (:func:`portal.api.context.run`); the CLI has no loop. A guard, not a preference: every portal test that drives
    the real app then proves that no request waits on a composition."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(f"{what} was started on the event loop; run it in a worker thread (anyio.to_thread)")
