"""Alembic migrations: empty -> head -> base -> head, and models == migrations (autogenerate finds nothing)."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from portal.db import create_engine_for, current_revision, head_revision, migrate
from portal.models import metadata, utcnow

TABLES = set(metadata.tables)


def _tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def _differences(engine: Engine, target: sa.MetaData) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "target_metadata": target})
        diffs: list[object] = compare_metadata(context, target)
        return diffs


def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    engine = create_engine_for(database_url)
    try:
        assert current_revision(engine) is None
        assert _tables(engine) == set()

        assert migrate(engine) == head_revision()
        assert _tables(engine) == TABLES

        assert migrate(engine, "base") is None
        assert _tables(engine) == set()

        assert migrate(engine) == head_revision()
        assert _tables(engine) == TABLES
        assert current_revision(engine) == head_revision()
        # Migrating again is a no-op, not an error.
        assert migrate(engine) == head_revision()
    finally:
        engine.dispose()


def test_models_and_migrations_agree(engine: Engine) -> None:
    """Alembic autogenerate, run against the migrated database, finds nothing to add, drop or alter."""
    assert _differences(engine, metadata) == []


def test_comparison_sees_a_model_the_migrations_lack(engine: Engine) -> None:
    """The check above can fail: a column and an index that only the models have are reported."""
    changed = sa.MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(changed)
    teams = changed.tables["teams"]
    teams.append_column(sa.Column("motto", sa.String(50), nullable=True))
    sa.Index("ix_teams_display_name", teams.c.display_name)

    diffs = _differences(engine, changed)

    kinds = {(diff[0], getattr(diff[-1], "name", None)) for diff in diffs if isinstance(diff, tuple)}
    assert ("add_column", "motto") in kinds
    assert ("add_index", "ix_teams_display_name") in kinds


def test_seeds_the_configuration_generation(engine: Engine) -> None:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, generation FROM config_generation")).all()
    assert [tuple(row) for row in rows] == [(1, 0)]


def test_loom_migrate_works_from_any_directory(database_url: str, tmp_path: Path) -> None:
    """`loom migrate` in a directory with no Loom files finds the migrations beside the package."""
    environment = {**os.environ, "LOOM_DATABASE_URL": database_url, "LOOM_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "portal.cli", "migrate"]

    first = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert f"migrated from empty to {head_revision()}" in first.stdout

    second = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert f"up to date at revision {head_revision()}" in second.stdout
    assert "secret" not in first.stdout + second.stdout


def test_concurrent_migrations_wait_for_each_other(database_url: str) -> None:
    """Replicas starting at once (real processes): one migrates, the others wait for it and find the work done."""
    script = "import sys; from portal.db import migrate; print(migrate(sys.argv[1]))"
    replicas = [
        subprocess.Popen([sys.executable, "-c", script, database_url], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [replica.communicate(timeout=120)[0].strip() for replica in replicas]
    assert [replica.returncode for replica in replicas] == [0, 0, 0]
    assert outputs == [head_revision()] * 3


def test_migrations_in_threads_of_one_process_do_not_trample_each_other(database_url: str) -> None:
    """Alembic's module-level proxies are not thread-safe; migrate() serialises them within a process."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        revisions = list(pool.map(migrate, [database_url] * 3))
    assert revisions == [head_revision()] * 3
    engine = create_engine_for(database_url)
    try:
        assert _tables(engine) == TABLES
    finally:
        engine.dispose()


def test_0002_adds_login_sessions_to_a_database_in_use(database_url: str) -> None:
    """An installation at 0001 with users upgrades in place, and downgrades back without losing them."""
    engine = create_engine_for(database_url)
    try:
        assert migrate(engine, "0001") == "0001"
        with engine.begin() as connection:
            connection.execute(
                sa.text("INSERT INTO users (name, display_name, is_active, created_at) VALUES ('ada', '', :t, :now)"),
                {"t": True, "now": utcnow()},
            )
        assert "login_sessions" not in _tables(engine)
        assert migrate(engine) == head_revision()
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO login_sessions (user_id, token_hash, created_at, expires_at, last_seen_at) "
                    "SELECT id, :hash, :now, :now, :now FROM users WHERE name = 'ada'"
                ),
                {"hash": "f" * 64, "now": utcnow()},
            )
        assert migrate(engine, "0001") == "0001"
        assert "login_sessions" not in _tables(engine)
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT name FROM users")).scalars().all() == ["ada"]
    finally:
        engine.dispose()
