"""Exactly one sync worker acts per installation, however many portal replicas run.

On PostgreSQL the worker holds a session-level advisory lock on a connection of its own for as long as it leads;
another replica's worker waits for it (``pg_try_advisory_lock`` polled), and takes over when the leader's
connection goes away (a crash, a kill: PostgreSQL releases the lock with the session). SQLite means one process
(the embedded mode): an exclusive ``flock`` on a file beside the database keeps a second ``loom sync`` from acting
on the same data directory.

A leader that loses its lock connection stops acting at once (:meth:`Leadership.check` raises), so two workers never
write to a cluster at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

__all__ = ["SYNC_LOCK_CLASS", "LeadershipLost", "NotLeading", "leadership", "try_lock"]

# The advisory lock is (SYNC_LOCK_CLASS, hashtext(current_schema())): installations that share a database in
# different schemas (as the tests do) do not exclude each other. SYNC_LOCK_CLASS is "loom" in ASCII.
SYNC_LOCK_CLASS = 0x6C6F6F6D


class LeadershipLost(Exception):
    """This worker no longer holds the lock: it must stop acting."""


class NotLeading(Exception):
    """``stop`` was set while this worker waited to lead."""


class _Lease:
    def __init__(self, check: Any) -> None:
        self._check = check

    def check(self) -> None:
        """Raise :class:`LeadershipLost` unless this worker still leads."""
        self._check()


@contextlib.asynccontextmanager
async def leadership(
    engine: Engine, data_dir: Path, *, poll_seconds: float = 1.0, stop: asyncio.Event | None = None
) -> AsyncIterator[_Lease]:
    """Wait until this process leads the sync worker, then hold the lease for the block. Raises
    :class:`NotLeading` when ``stop`` is set while it waits."""
    stop = stop or asyncio.Event()
    if engine.dialect.name == "postgresql":
        async with _postgres(engine, poll_seconds, stop) as lease:
            yield lease
    else:
        async with _file(data_dir / "sync.lock", poll_seconds, stop) as lease:
            yield lease


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds`` before trying again, or raise NotLeading as soon as ``stop`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    if stop.is_set():
        raise NotLeading("stopped while waiting to lead the sync worker")


@contextlib.asynccontextmanager
async def _postgres(engine: Engine, poll_seconds: float, stop: asyncio.Event) -> AsyncIterator[_Lease]:
    connection = await asyncio.to_thread(engine.connect)
    try:
        while True:  # pg_advisory_lock would block a thread that cannot be cancelled: poll instead
            if await asyncio.to_thread(try_lock, connection):
                break
            await _wait(stop, poll_seconds)

        def check() -> None:
            try:
                held = connection.execute(
                    sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
                ).scalar_one()
            except sa.exc.SQLAlchemyError as exc:
                raise LeadershipLost(f"the sync lock's database connection is gone: {exc}") from exc
            if not held:
                raise LeadershipLost("the sync lock is no longer held")

        yield _Lease(check)
    finally:
        with contextlib.suppress(sa.exc.SQLAlchemyError):  # a dead session released the lock already
            await asyncio.to_thread(_unlock, connection)
        await asyncio.to_thread(connection.close)


def try_lock(connection: sa.Connection) -> bool:
    """Take the sync lock on ``connection`` if nobody holds it (a PostgreSQL session-level advisory lock)."""
    held = connection.execute(
        sa.text("SELECT pg_try_advisory_lock(:cls, hashtext(current_schema()))"), {"cls": SYNC_LOCK_CLASS}
    ).scalar_one()
    connection.commit()
    return bool(held)


def _unlock(connection: sa.Connection) -> None:
    connection.execute(sa.text("SELECT pg_advisory_unlock(:cls, hashtext(current_schema()))"), {"cls": SYNC_LOCK_CLASS})
    connection.commit()


@contextlib.asynccontextmanager
async def _file(path: Path, poll_seconds: float, stop: asyncio.Event) -> AsyncIterator[_Lease]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await _wait(stop, poll_seconds)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield _Lease(lambda: None)  # a flock lives as long as this process: nothing can take it away
    finally:
        os.close(fd)
