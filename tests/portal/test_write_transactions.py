"""Units of work that read, then write, take SQLite's write lock as they begin (``portal.db.writer``).

On SQLite a transaction that read first cannot write once another connection has committed meanwhile: it fails at
once with "database is locked" (its snapshot is stale; the busy timeout does not help). The embedded portal runs
the sync worker beside sign-ins, `loom apply` and the admin API on one file, so each such unit of work must begin
with the lock. The guard of ``tests._sqlite_writes`` (autouse for every portal test) checks the portal's own units
of work in the server's threads; here the CLI's run in threads of their own, where no test frame hides them."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from portal.cli import main
from portal.db import create_engine_for, is_locked, migrate, session_scope, writer
from tests._sqlite_writes import ReadThenWrite, read_then_write_guard
from tests.portal._apply import LIBRARY

T = TypeVar("T")


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Engine:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'loom.db'}")
    migrate(engine)
    return engine


def _in_thread(work: Callable[..., T], *args: object) -> T:
    """``work(*args)`` in a thread of its own: nothing of the test's on its stack, as in the server."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work, *args).result()


def _read_then_write(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.exec(text("SELECT count(*) FROM teams"))  # type: ignore[call-overload]
        session.exec(text("UPDATE config_generation SET generation = generation + 1"))  # type: ignore[call-overload]


def test_a_read_then_write_fails_at_once_when_another_wrote_between(sqlite_engine: Engine) -> None:
    """Why the rule exists: no waiting helps a stale snapshot."""
    with Session(sqlite_engine) as first:
        first.exec(text("SELECT count(*) FROM teams"))  # type: ignore[call-overload]
        with session_scope(sqlite_engine) as second:
            second.exec(text("UPDATE config_generation SET generation = generation + 1"))  # type: ignore[call-overload]
        with pytest.raises(Exception) as caught:
            first.exec(text("UPDATE config_generation SET generation = generation + 1"))  # type: ignore[call-overload]
        assert is_locked(caught.value)


def test_with_the_write_lock_the_second_writer_waits_its_turn(sqlite_engine: Engine) -> None:
    done = threading.Event()
    with session_scope(writer(sqlite_engine)) as first:
        first.exec(text("SELECT count(*) FROM teams"))  # type: ignore[call-overload]

        def second() -> None:
            _read_then_write(writer(sqlite_engine))
            done.set()

        thread = threading.Thread(target=second)
        thread.start()
        first.exec(text("UPDATE config_generation SET generation = generation + 1"))  # type: ignore[call-overload]
    thread.join()
    assert done.is_set()
    with Session(sqlite_engine) as session:
        assert session.exec(text("SELECT generation FROM config_generation")).one()[0] == 2  # type: ignore[call-overload]


def test_the_guard_reports_a_deferred_read_then_write_and_not_one_under_the_lock(sqlite_engine: Engine) -> None:
    with read_then_write_guard(tests_too=True) as found:
        _in_thread(_read_then_write, sqlite_engine)
    assert [f.statement.split()[0] for f in found] == ["UPDATE"]
    with read_then_write_guard(tests_too=True) as found:
        _in_thread(_read_then_write, writer(sqlite_engine))
    assert found == []
    with read_then_write_guard() as found:  # a test's own unit of work is its own business
        _in_thread(_read_then_write, sqlite_engine)
    assert found == []


def _loom(*argv: str) -> int:
    return _in_thread(main, list(argv))


def test_the_cli_takes_the_lock_for_what_it_writes(
    sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOOM_DATABASE_URL", str(sqlite_engine.url))
    monkeypatch.setenv("LOOM_DATA_DIR", str(tmp_path / "data"))
    found: list[ReadThenWrite]
    with read_then_write_guard() as found:
        assert _loom("apply", "-f", str(LIBRARY)) == 0
        assert _loom("apply", "-f", str(LIBRARY)) == 0  # reads what is there, writes nothing new
        assert _loom("users", "create", "ada", "--role", "platform-admin") == 0
        assert _loom("tokens", "create", "ada") == 0
        prefix = next(w for w in capsys.readouterr().out.split() if w.startswith("lpat_"))
        assert _loom("tokens", "revoke", "_".join(prefix.split("_")[:2])) == 0
        assert _loom("gateways", "create", "edge", "--cluster", "us-east") == 0
        assert _loom("delete", "product", "library-eu") == 0
    assert found == [], "\n".join(map(str, found))


def test_the_demo_seeds_under_the_lock(sqlite_engine: Engine, tmp_path: Path) -> None:
    from portal.demo import prepare_database
    from portal.settings import DatabaseSettings, Mode, Settings

    settings = Settings(
        mode=Mode.DEVELOPMENT, data_dir=tmp_path / "data", database=DatabaseSettings(url=str(sqlite_engine.url))
    )
    with read_then_write_guard() as found:
        _in_thread(prepare_database, settings, sqlite_engine, [], io.StringIO())
    assert found == [], "\n".join(map(str, found))
