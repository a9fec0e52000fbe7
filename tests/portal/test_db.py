"""portal.db: engines, one-transaction sessions, integrity errors as Conflict, the generation counter."""

from __future__ import annotations

import socket
import sqlite3
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from portal.db import (
    DatabaseUnavailable,
    bump_generation,
    check_database,
    create_engine_for,
    current_generation,
    integrity_errors,
    migrate,
    normalize_url,
    redacted_url,
    session_scope,
)
from portal.errors import Conflict, Invalid
from portal.models import SubscriptionState, Team, TeamPlacement
from portal.settings import DatabaseSettings, Settings
from tests.factories import make_application, make_plan, make_product, make_subscription, make_team


def test_postgres_urls_use_psycopg3() -> None:
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite"


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url"])
def test_unsupported_urls_are_refused_with_the_fix(url: str) -> None:
    with pytest.raises(Invalid, match="LOOM_DATABASE_URL"):
        normalize_url(url)


def test_redacted_url_hides_the_password() -> None:
    shown = redacted_url("postgresql+psycopg://loom:hunter2@db:5432/loom")
    assert "hunter2" not in shown
    assert shown == "postgresql+psycopg://loom:***@db:5432/loom"


def test_sqlite_engine_from_settings_creates_the_directory_and_sets_pragmas(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "nested" / "data")
    engine = create_engine_for(settings)
    try:
        with engine.connect() as connection:
            pragma = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("foreign_keys", "journal_mode", "busy_timeout")
            }
        assert pragma == {"foreign_keys": 1, "journal_mode": "wal", "busy_timeout": 30000}
        assert (tmp_path / "nested" / "data" / "loom.db").is_file()
    finally:
        engine.dispose()


@pytest.mark.parametrize("round_", range(10))
def test_first_writers_of_a_new_sqlite_file_do_not_lock_each_other_out(tmp_path: Path, round_: int) -> None:
    """Switching a new file to WAL needs it alone, and SQLite refuses a second switcher at once, without its busy
    timeout: three first connections that write at once all succeed (before the fix, up to 4 of 10 rounds failed)."""
    url = f"sqlite:///{tmp_path / 'race.db'}"
    engines = [create_engine_for(url) for _ in range(3)]
    start = threading.Barrier(len(engines))

    def write(engine: Engine) -> str:
        start.wait()
        # immediate, as migrate() is: a deferred transaction that reads, then writes, is refused at once by design
        with engine.connect().execution_options(loom_begin_immediate=True) as connection, connection.begin():
            connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS marks (n INTEGER)")
            connection.exec_driver_sql("INSERT INTO marks VALUES (1)")
            return str(connection.exec_driver_sql("PRAGMA journal_mode").scalar())

    try:
        with ThreadPoolExecutor(max_workers=len(engines)) as pool:
            assert list(pool.map(write, engines)) == ["wal"] * len(engines)
        with engines[0].connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM marks").scalar() == len(engines)
    finally:
        for engine in engines:
            engine.dispose()


def test_settings_url_wins_over_the_sqlite_default(database_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "default"
    engine = create_engine_for(Settings(data_dir=data_dir, database=DatabaseSettings(url=database_url)))
    try:
        check_database(engine)
        assert engine.url.get_backend_name() == normalize_url(database_url).get_backend_name()
        assert not (data_dir / "loom.db").exists()
    finally:
        engine.dispose()


def test_session_scope_commits(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(Team(name="warehouse"))
    with Session(engine) as session:
        assert session.exec(select(Team.name)).all() == ["warehouse"]


def test_session_scope_rolls_back_on_error(engine: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        session.add(Team(name="warehouse"))
        session.flush()
        raise RuntimeError("boom")
    with Session(engine) as session:
        assert session.exec(select(Team)).all() == []


def test_duplicate_name_is_a_conflict_naming_the_field(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(Team(name="warehouse"))
    with pytest.raises(Conflict, match="a team with this name already exists"), session_scope(engine) as session:
        session.add(Team(name="warehouse"))
    with Session(engine) as session:
        assert len(session.exec(select(Team)).all()) == 1


def test_missing_reference_is_a_conflict(engine: Engine) -> None:
    with pytest.raises(Conflict, match="refers to something that does not exist"), session_scope(engine) as s:
        s.add(TeamPlacement(team_id=4242, cluster_id=4242, namespaces=["*"]))


def test_one_live_subscription_per_application_and_product(engine: Engine) -> None:
    with session_scope(engine) as session:
        application = make_application(session)
        product = make_product(session)
        plan = make_plan(session, products=[product])
        make_subscription(session, application, product, plan, state=SubscriptionState.REVOKED)
        make_subscription(session, application, product, plan, state=SubscriptionState.REQUESTED)
    with pytest.raises(Conflict, match="already has a requested or approved subscription"), session_scope(engine) as s:
        make_subscription(s, application, product, plan, state=SubscriptionState.APPROVED)


def test_savepoints_roll_back_only_the_inner_part(engine: Engine) -> None:
    """SQLite savepoints need our explicit BEGIN (pysqlite's own transaction handling breaks them)."""
    with session_scope(engine) as session:
        make_team(session, "kept")
        with pytest.raises(Conflict), session.begin_nested(), integrity_errors():
            make_team(session, "kept")
        make_team(session, "also-kept")
    with Session(engine) as session:
        assert sorted(session.exec(select(Team.name)).all()) == ["also-kept", "kept"]


def test_timestamps_come_back_aware_utc(engine: Engine) -> None:
    with session_scope(engine) as session:
        team = make_team(session)
    with Session(engine) as session:
        loaded = session.get(Team, team.id)
        assert loaded is not None
        assert loaded.created_at.utcoffset() is not None
        assert loaded.created_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
        assert abs((loaded.created_at - team.created_at).total_seconds()) < 1e-3


def test_naive_timestamps_are_refused(engine: Engine) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), session_scope(engine) as session:
        session.add(Team(name="t", created_at=datetime(2024, 1, 1)))


def test_generation_counts_up_per_transaction(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert current_generation(session) == 0
        assert bump_generation(session) == 1
        assert bump_generation(session) == 2
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        assert bump_generation(session) == 3
        raise RuntimeError("rolled back")
    with session_scope(engine) as session:
        assert current_generation(session) == 2


def test_unreachable_database_is_reported() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = create_engine_for(f"postgresql://nobody@127.0.0.1:{port}/none?connect_timeout=2")
    try:
        with pytest.raises(DatabaseUnavailable, match=f"127.0.0.1:{port}"):
            check_database(engine)
    finally:
        engine.dispose()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_sqlite_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """It held every password hash and the audit log, world-readable (0644 in a 0755 directory)."""
    data_dir = tmp_path / "data"
    engine = create_engine_for(Settings(data_dir=data_dir))
    try:
        migrate(engine)
        with session_scope(engine) as session:
            session.add(Team(name="records"))  # a write: the WAL and shared-memory files exist now
        assert _mode(data_dir) == 0o700
        files = sorted(path.name for path in data_dir.iterdir())
        assert {"loom.db", "loom.db-wal", "loom.db-shm"} <= set(files), files
        assert {name: _mode(data_dir / name) for name in files} == dict.fromkeys(files, 0o600)
    finally:
        engine.dispose()


def test_an_existing_world_readable_database_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    sqlite3.connect(path).close()
    path.chmod(0o644)
    create_engine_for(f"sqlite:///{path}").dispose()
    assert _mode(path) == 0o600
