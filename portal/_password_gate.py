"""A small gate in front of argon2: at most N password or client-secret checks run at once, at most M wait.

argon2id (argon2-cffi's defaults) takes ~64 MiB and a core for tens of milliseconds per check. Without a gate, 40
concurrent wrong client secrets cost 16 s of CPU and 700 MB at once. The gate is shared by ``POST /login`` and
``POST /oauth/token`` (one per app, :func:`gate_of`); a check that would have to wait behind M others is refused
at once with :class:`Busy` (answered 503 with ``Retry-After``) instead of queueing without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.requests import Request

from portal.errors import LoomError

__all__ = ["Busy", "PasswordGate", "gate_of"]


class Busy(LoomError):
    """Too many password checks are running and waiting: try again in a second."""


class PasswordGate:
    def __init__(self, slots: int, max_waiting: int) -> None:
        self._slots = asyncio.Semaphore(slots)
        self._max_waiting = max_waiting
        self._waiting = 0
        self.running = 0  # for tests and metrics: checks inside the gate now

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._slots.locked() and self._waiting >= self._max_waiting:
            raise Busy("too many password checks are in progress: try again in a second")
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            self._slots.release()


def gate_of(request: Request) -> PasswordGate:
    """The app's gate (made once, when the app is built)."""
    gate: PasswordGate = request.app.state.password_gate
    return gate
