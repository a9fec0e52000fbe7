"""portal.changes: a committed configuration change wakes every watch at once; a rolled-back one wakes none.

In this process the commit hook does it (SQLite and PostgreSQL); across portal replicas PostgreSQL's NOTIFY does,
checked here on a real PostgreSQL with a plain connection standing for another replica (it commits without this
process's hook), and a marker notification after the ones that must not count.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from portal.changes import CHANNEL, ConfigChanges
from portal.db import bump_generation, create_engine_for, prepare_schema, session_scope
from tests._conditions import BOUND, until


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[Engine]:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'loom.db'}")
    prepare_schema(engine)
    yield engine
    engine.dispose()


async def test_a_commit_in_this_process_wakes_a_watch_and_a_rollback_does_not(sqlite_engine: Engine) -> None:
    changes = ConfigChanges()
    await changes.start(sqlite_engine)
    try:
        seen = changes.count
        waiting = asyncio.ensure_future(changes.wait(seen, BOUND))
        await until(lambda: changes.waiting == 1)
        with session_scope(sqlite_engine) as session:
            bump_generation(session)
        assert await waiting is True and changes.count == seen + 1

        seen = changes.count
        with pytest.raises(RuntimeError), session_scope(sqlite_engine) as session:
            bump_generation(session)
            raise RuntimeError("abandon the change")
        with session_scope(sqlite_engine) as session:
            session.exec(sa.select(1))  # type: ignore[call-overload]  # a transaction that changes nothing
        assert changes.count == seen  # the hook runs in the committing thread's call: nothing is pending
        assert await changes.wait(seen, 0) is False
    finally:
        await changes.aclose()


async def test_a_closed_watch_hears_nothing_and_stop_waiting_ends_every_wait(sqlite_engine: Engine) -> None:
    changes = ConfigChanges()
    await changes.start(sqlite_engine)
    held = asyncio.ensure_future(changes.wait(changes.count, BOUND))
    await until(lambda: changes.waiting == 1)
    changes.stop_waiting()  # the server's shutdown begins
    assert await held is False and changes.closing
    assert await changes.wait(changes.count, BOUND) is False  # at once: no new wait holds a shutdown
    await changes.aclose()
    seen = changes.count
    with session_scope(sqlite_engine) as session:
        bump_generation(session)
    assert changes.count == seen


@pytest.mark.postgres
async def test_another_replicas_commit_wakes_a_watch_through_postgres(postgres_schema_url: str) -> None:
    engine = create_engine_for(postgres_schema_url)  # no tables needed: only notifications pass
    changes = ConfigChanges()
    await changes.start(engine)
    try:
        await asyncio.wait_for(changes.listening(), BOUND)

        def notify(schema: str | None = None, *, commit: bool = True) -> None:
            # Not a Session: this process's hook does not see it, as it would not see another replica's commit.
            with engine.connect() as connection:
                connection.execute(
                    sa.text("SELECT pg_notify(:channel, coalesce(:schema, current_schema()))"),
                    {"channel": CHANNEL, "schema": schema},
                )
                if commit:
                    connection.commit()
                else:
                    connection.rollback()

        seen = changes.count
        await asyncio.to_thread(notify)
        assert await changes.wait(seen, BOUND) is True

        seen, heard = changes.count, changes.heard
        await asyncio.to_thread(notify, commit=False)  # rolled back: never delivered
        await asyncio.to_thread(notify, "another_installation")  # same database, another schema: not ours
        await asyncio.to_thread(notify)  # the marker: delivered after anything committed before it
        await until(lambda: changes.heard >= heard + 2)
        assert changes.heard == heard + 2  # the other schema's and the marker, in commit order
        assert changes.count == seen + 1  # the marker alone counts
    finally:
        await changes.aclose()
        engine.dispose()
