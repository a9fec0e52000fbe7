"""Exactly one sync worker acts: a PostgreSQL advisory lock (per schema), or a file lock beside SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal.db import create_engine_for
from portal.sync.leadership import LeadershipLost, leadership, try_lock


@pytest.mark.postgres
async def test_one_leader_per_postgres_schema_and_a_dead_leader_is_replaced(
    postgres_schema_url: str, tmp_path: Path
) -> None:
    engine = create_engine_for(postgres_schema_url)
    try:
        async with leadership(engine, tmp_path, poll_seconds=0.01) as lease:
            lease.check()
            with engine.connect() as other:
                assert not try_lock(other), "a second worker must not lead while the first does"
            # The leader's session is killed (a crashed replica): it knows it lost, and another can lead.
            with engine.connect() as admin:
                admin.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(l.pid) FROM pg_locks l "
                        "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.classid = :cls "
                        "AND a.application_name = current_setting('application_name') AND l.pid <> pg_backend_pid()"
                    ),
                    {"cls": 0x6C6F6F6D},
                )
                admin.commit()
            with pytest.raises(LeadershipLost):
                lease.check()
            with engine.connect() as other:
                assert try_lock(other)
    finally:
        engine.dispose()


@pytest.mark.postgres
async def test_a_second_worker_waits_and_takes_over_when_the_leader_stops(
    postgres_schema_url: str, tmp_path: Path
) -> None:
    engine = create_engine_for(postgres_schema_url)
    order: list[str] = []
    first_leads = asyncio.Event()
    release = asyncio.Event()

    async def worker(name: str, wait_for: asyncio.Event | None) -> None:
        if wait_for is not None:
            await wait_for.wait()
        async with leadership(engine, tmp_path, poll_seconds=0.01):
            order.append(f"{name} leads")
            if name == "first":
                first_leads.set()
                await release.wait()
            order.append(f"{name} stops")

    try:
        first = asyncio.create_task(worker("first", None))
        second = asyncio.create_task(worker("second", first_leads))
        await first_leads.wait()
        with engine.connect() as probe:  # the second is waiting: the lock is the first's
            assert not try_lock(probe)
        release.set()
        await asyncio.gather(first, second)
        assert order == ["first leads", "first stops", "second leads", "second stops"]
    finally:
        engine.dispose()


async def test_sqlite_means_one_worker_per_data_directory(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'loom.db'}")
    entered = asyncio.Event()
    try:
        async with leadership(engine, tmp_path, poll_seconds=0.01):
            contender = asyncio.create_task(_enter(engine, tmp_path, entered))
            for _ in range(20):  # let the contender try (and fail) several times while we lead
                await asyncio.sleep(0)
            assert not entered.is_set()
            assert (tmp_path / "sync.lock").read_text().strip().isdigit()
        await contender
        assert entered.is_set()
    finally:
        engine.dispose()


async def _enter(engine: sa.Engine, data_dir: Path, entered: asyncio.Event) -> None:
    async with leadership(engine, data_dir, poll_seconds=0.001):
        entered.set()
