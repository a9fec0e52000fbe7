"""Configuration changes, as they commit: what wakes a gateway's snapshot watch (and so a revoked key is refused at
once, not at the gateway's next poll).

Every change that gateways or clusters must see calls :func:`portal.db.bump_generation`, which calls
:func:`announce` in the same transaction. Once that transaction commits, every :class:`ConfigChanges` hears of it:

* in this process, by a SQLAlchemy ``after_commit`` hook (SQLite and PostgreSQL alike);
* in every other portal replica on PostgreSQL, by ``NOTIFY`` (sent by the database only if the transaction commits)
  on a ``LISTEN`` connection each :class:`ConfigChanges` holds, filtered to its own schema (installations may share
  a database in different schemas).

What neither reaches (a ``loom`` command writing to the embedded SQLite file from another process, or time: a
credential that expires, which gateways also refuse by their own clock) is found by the waiters' own periodic
rebuild (:func:`portal.snapshot.watch`).
A notification says only that *something* changed: a waiter rebuilds and compares, so a spurious one costs a build.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.engine import Engine

__all__ = ["CHANNEL", "ConfigChanges", "announce"]

log = logging.getLogger(__name__)

CHANNEL = "loom_config"  # PostgreSQL NOTIFY channel; the payload is the installation's schema
_ANNOUNCED = "loom_config_changed"  # Session.info key: this transaction changed the configuration
_RECONNECT_SECONDS = 1.0  # after the LISTEN connection fails; the waiters' rebuilds cover the gap meanwhile

_live: weakref.WeakSet[ConfigChanges] = weakref.WeakSet()  # started ones, told of this process's commits
_live_lock = threading.Lock()  # commits happen on worker threads


def announce(session: orm.Session) -> None:
    """Mark ``session``'s transaction as a configuration change: listeners hear of it when (and only if) it commits."""
    session.info[_ANNOUNCED] = True
    if session.get_bind().dialect.name == "postgresql":
        # Queued by PostgreSQL and delivered at commit, to every replica; identical ones in a transaction fold.
        session.execute(sa.text("SELECT pg_notify(:channel, current_schema())"), {"channel": CHANNEL})


@sa.event.listens_for(orm.Session, "after_commit")
def _after_commit(session: orm.Session) -> None:
    if session.info.pop(_ANNOUNCED, False):
        with _live_lock:
            listeners = list(_live)
        for changes in listeners:
            changes.changed()


@sa.event.listens_for(orm.Session, "after_rollback")
def _after_rollback(session: orm.Session) -> None:
    session.info.pop(_ANNOUNCED, None)


class ConfigChanges:
    """Counts configuration changes; :meth:`wait` returns as soon as the count moves past the one a caller saw.

    App-scoped: made with the app, started with the engine and closed by the app's lifespan (:meth:`start` binds it
    to the running event loop and, on PostgreSQL, opens the ``LISTEN`` connection)."""

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self._closing = False
        self._count = 0
        self._changed = asyncio.Event()  # replaced at every change: a waiter holds the one of the count it saw
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._callbacks: list[Callable[[], None]] = []
        self.waiting = 0  # callers in wait() now (the tests wait for a watch to be in place before changing)
        self.heard = 0  # notifications heard on the LISTEN connection, another installation's included

    @property
    def count(self) -> int:
        return self._count

    @property
    def closing(self) -> bool:
        """:meth:`stop_waiting` was called: the server is shutting down."""
        return self._closing

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (on the event loop) at every change, e.g. to wake the sync worker."""
        self._callbacks.append(callback)

    async def start(self, engine: Engine) -> None:
        self._engine, self._loop, self._closing = engine, asyncio.get_running_loop(), False
        self._changed, self._listening = asyncio.Event(), asyncio.Event()  # this loop's (an app may start again)
        with _live_lock:
            _live.add(self)
        if engine.dialect.name == "postgresql":
            self._listener = asyncio.create_task(self._listen(), name="loom-config-listen")

    async def aclose(self) -> None:
        with _live_lock:
            _live.discard(self)
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        self._loop = None

    def stop_waiting(self) -> None:
        """The server is shutting down: end every wait now, and do not wait from now on (a watch held open would
        hold the shutdown until it ended)."""
        self._closing = True
        self._changed.set()

    async def listening(self) -> None:
        """Wait until changes made by other processes are heard (at once on SQLite, which has no such channel)."""
        if self._listener is not None:
            await self._listening.wait()

    def changed(self) -> None:
        """Count a change; safe from any thread (commits happen on worker threads)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._advance()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits any more
                loop.call_soon_threadsafe(self._advance)

    async def wait(self, seen: int, within: float) -> bool:
        """Wait up to ``within`` seconds for a change after the count ``seen``; True when there was one."""
        if self._count != seen:
            return True
        if self._closing:
            return False
        event = self._changed
        self.waiting += 1
        try:
            async with asyncio.timeout(within):
                await event.wait()
        except TimeoutError:
            return False
        finally:
            self.waiting -= 1
        return self._count != seen

    def _advance(self) -> None:
        self._count += 1
        event, self._changed = self._changed, asyncio.Event()
        event.set()
        for callback in self._callbacks:
            callback()

    async def _listen(self) -> None:
        import psycopg  # only PostgreSQL installations listen

        assert self._engine is not None
        conninfo = self._engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        failure: str | None = None
        first = True  # no change is counted on the first connect: what came before it, the first builds saw
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as connection:
                    cursor = await connection.execute("SELECT current_schema()")
                    row = await cursor.fetchone()
                    schema = row[0] if row is not None else None
                    await connection.execute(f"LISTEN {CHANNEL}")
                    if failure is not None:
                        log.info("listening for configuration changes again")
                        failure = None
                    if not first:
                        self._advance()  # whatever committed while nobody listened
                    self._listening.set()
                    async for notice in connection.notifies():
                        self.heard += 1
                        if notice.payload == schema:
                            self._advance()
            except Exception as exc:  # psycopg's errors above all; whatever it is, listen again after a pause
                if str(exc) != failure:  # say it once, not at every reconnect
                    log.warning(
                        "cannot listen for configuration changes (gateways learn of them at their next rebuild "
                        "meanwhile): %r",
                        exc,
                    )
                failure = str(exc)
            self._listening.clear()
            first = False
            await asyncio.sleep(_RECONNECT_SECONDS)
