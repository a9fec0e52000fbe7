"""The database layer: engines for SQLite and PostgreSQL, one-transaction sessions, Alembic migrations.

* :func:`create_engine_for` gives an engine for ``Settings`` or a URL. SQLite gets WAL, enforced foreign keys, a
  busy timeout and real transactions (``BEGIN`` is emitted by us, so DDL and SAVEPOINTs are transactional too).
  Its file is the owner's alone: a directory it creates is 0700, the database file 0600 (SQLite gives the WAL and
  shared-memory files the database file's mode), and an existing file others may read is made 0600.
  ``postgresql://`` URLs are served by psycopg 3.
* :func:`session_scope` is one transaction: commit on success, rollback on error, and an ``IntegrityError`` comes
  out as :class:`portal.errors.Conflict` naming the table and columns.
* :func:`migrate` upgrades to the newest revision with the ``migrations/`` folder found next to the package, so
  ``loom migrate`` works from any directory.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, select

from portal._keyfile import ensure_private_dir
from portal.changes import announce
from portal.errors import Conflict, Invalid, LoomError, NotFound
from portal.models import ConfigGeneration, metadata, utcnow
from portal.settings import Settings

__all__ = [
    "MIGRATIONS_DIR",
    "UNIT_OF_WORK",
    "DatabaseUnavailable",
    "alembic_config",
    "bump_generation",
    "check_database",
    "create_engine_for",
    "current_generation",
    "current_revision",
    "find_by_name",
    "head_revision",
    "integrity_errors",
    "is_locked",
    "migrate",
    "migrate_command",
    "name_of",
    "normalize_url",
    "optimistic",
    "prepare_schema",
    "redacted_url",
    "session_scope",
    "writer",
]

# The repository's migrations folder; `pip install -e .` (what `make install` does) keeps it beside the package.
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# Marks the sessions of session_scope in ``Session.info`` (what a check of their transactions tells from others).
UNIT_OF_WORK = "loom_unit_of_work"

_SQLITE_BUSY_TIMEOUT_SECONDS = 30
_MIGRATION_LOCK = 0x4C4F4F4D  # "LOOM": the PostgreSQL advisory lock that serialises concurrent migrations
# Alembic installs module-level proxies (alembic.context, alembic.op) for the migration it runs, so two migrations
# in threads of one process trample each other; replicas (processes) are serialised by the database lock.
_ALEMBIC_IN_PROCESS = threading.Lock()


class DatabaseUnavailable(LoomError):
    """The database cannot be reached or opened (``/readyz`` and the CLI report it)."""


def normalize_url(url: str | URL) -> URL:
    """Parse a database URL; plain ``postgresql://`` / ``postgres://`` become psycopg 3 (``postgresql+psycopg``)."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise Invalid(f"LOOM_DATABASE_URL is not a database URL: {exc}") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise Invalid(
            f"unsupported database {parsed.get_backend_name()!r} in LOOM_DATABASE_URL: "
            "use sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB"
        )
    return parsed


def redacted_url(url: str | URL) -> str:
    """The URL with its password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def create_engine_for(settings_or_url: Settings | str | URL, *, echo: bool | None = None) -> Engine:
    """An engine for ``Settings`` (``settings.database_url``) or a URL. Creates a SQLite file's directory."""
    if isinstance(settings_or_url, Settings):
        url = normalize_url(settings_or_url.database_url)
        echo = settings_or_url.database.echo if echo is None else echo
    else:
        url = normalize_url(settings_or_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=bool(echo))
    return sa.create_engine(url, echo=bool(echo), pool_pre_ping=True)


def _private_file(path: Path) -> None:
    """Create the SQLite file ``path`` 0600 in a 0700 directory before SQLite creates it with the umask's mode
    (0644: every local user could read the password hashes and the audit log); tighten an existing one."""
    try:
        ensure_private_dir(path.parent)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            mode = os.fstat(descriptor).st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                os.fchmod(descriptor, 0o600)
        finally:
            os.close(descriptor)
    except OSError as exc:
        raise DatabaseUnavailable(
            f"cannot create or open the database file {path} ({exc.strerror}): make LOOM_DATA_DIR writable by "
            "this user, or set LOOM_DATABASE_URL"
        ) from exc


_WAL_SWITCH = threading.Lock()


def _enter_wal(cursor: sqlite3.Cursor) -> None:
    """Put the database file in WAL mode (it stays so) unless it already is.

    The switch needs the file to itself, and SQLite answers "database is locked" at once, without its busy handler,
    to a connection that asks while another is switching. So threads of this process take turns, and one that still
    finds the file locked (another process switching) waits for the mode to turn up, up to the busy timeout.
    """
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return
    deadline = time.monotonic() + _SQLITE_BUSY_TIMEOUT_SECONDS
    with _WAL_SWITCH:
        while True:
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            time.sleep(0.01)  # another process holds the file; SQLite gives no event to wait on


def _sqlite_engine(url: URL, *, echo: bool) -> Engine:
    in_memory = url.database in (None, "", ":memory:")
    if not in_memory and url.database:
        _private_file(Path(url.database))
    kwargs: dict[str, Any] = {
        "echo": echo,
        # Starlette runs sync endpoints in a thread pool; the pool hands one connection to one thread at a time.
        "connect_args": {"check_same_thread": False, "timeout": _SQLITE_BUSY_TIMEOUT_SECONDS},
    }
    if in_memory:
        kwargs["poolclass"] = StaticPool  # one shared connection, else every connection sees another database
    engine = sa.create_engine(url, **kwargs)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # pysqlite's own transaction handling skips BEGIN before DDL and breaks SAVEPOINT; we emit BEGIN below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
            if not in_memory:
                _enter_wal(cursor)
                cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a crash loses at most the last commit
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        immediate = connection.get_execution_options().get("loom_begin_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def check_database(engine: Engine) -> None:
    """Raise :class:`DatabaseUnavailable` unless a trivial query succeeds."""
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except (OperationalError, sa.exc.InterfaceError, sa.exc.DBAPIError) as exc:
        raise DatabaseUnavailable(f"database {redacted_url(engine.url)} is unavailable: {exc.orig}") from exc


# --- sessions and errors -----------------------------------------------------------------------------------------


_Row = TypeVar("_Row", bound=SQLModel)


def find_by_name(session: Session, model: type[_Row], kind: str, name: str) -> _Row:
    """The row of ``model`` (a table with a unique ``name``) called ``name``; ``NotFound`` names ``kind``."""
    row = session.exec(select(model).filter_by(name=name)).first()
    if row is None:
        raise NotFound(f"{kind} '{name}' does not exist")
    return row


def name_of(session: Session, model: Any, row_id: int | None) -> str | None:
    """The ``name`` of the ``model`` row with ``row_id``, or None when there is no id or no such row."""
    row = session.get(model, row_id) if row_id is not None else None
    return None if row is None else str(row.name)


def is_locked(exc: BaseException) -> bool:
    """SQLite's "database is locked": a transaction that read first could not then write, because another wrote
    meanwhile (its busy timeout does not apply to that upgrade). Run it again under :func:`writer`."""
    return isinstance(exc, sa.exc.OperationalError) and "database is locked" in str(exc.orig)


def writer(engine: Engine) -> Engine:
    """``engine`` for a transaction that writes after it reads, when others may write at the same time: on SQLite
    it takes the write lock first (``BEGIN IMMEDIATE``), so concurrent writers wait their turn (busy timeout)
    instead of failing at once with "database is locked" when the read turns into a write. Do not open a second
    such transaction while one is open in the same thread: it would wait for the first."""
    return engine.execution_options(loom_begin_immediate=True)


def optimistic(engine: Engine) -> Engine:
    """``engine`` for a transaction that nearly always only reads but now and then writes after reading, and whose
    caller runs it again under :func:`writer` when SQLite says :func:`is_locked`: it does not take the write lock
    that most of its runs do not need. Only a mark (the engine behaves as ``engine``), so the intent is explicit
    where a test's check of read-then-write transactions meets it."""
    return engine.execution_options(loom_optimistic=True)


@contextlib.contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commits when the block ends, rolls back if it raises.

    Objects stay readable after the commit (``expire_on_commit=False``), so services may return them.
    Integrity errors (on flush or commit) come out as :class:`Conflict`.
    """
    with Session(engine, expire_on_commit=False, info={UNIT_OF_WORK: True}) as session, integrity_errors():
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextlib.contextmanager
def integrity_errors() -> Iterator[None]:
    """Translate ``IntegrityError`` raised inside the block into :class:`Conflict` with a message that says what."""
    try:
        yield
    except IntegrityError as exc:
        raise Conflict(describe_integrity_error(exc)) from exc


_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (?P<columns>[\w., ]+)")


def describe_integrity_error(exc: IntegrityError) -> str:
    """A person's explanation of a unique, foreign-key, not-null or check violation on either backend."""
    text = str(exc.orig)
    diag = getattr(exc.orig, "diag", None)  # psycopg: names the constraint and table
    constraint = getattr(diag, "constraint_name", None)
    if constraint:
        table, columns = _constraint_columns(constraint)
        sqlstate = getattr(exc.orig, "sqlstate", "")
        if sqlstate == "23505":
            return _unique_message(table, columns)
        if sqlstate == "23503":
            return _reference_message(table or getattr(diag, "table_name", None))
        if sqlstate == "23514":
            return f"the values break the rule {constraint} of {table or 'the table'}; fix the fields it names"
    match = _SQLITE_UNIQUE.search(text)
    if match:
        pairs = [item.strip().split(".", 1) for item in match.group("columns").split(",")]
        return _unique_message(pairs[0][0], [pair[-1] for pair in pairs])
    if "FOREIGN KEY constraint failed" in text:
        return _reference_message(None)
    if "CHECK constraint failed" in text:
        rule = text.split("CHECK constraint failed:", 1)[-1].strip()
        return f"the values break the rule {rule}; fix the fields it names"
    if "NOT NULL" in text or "not-null" in text:
        return f"a required value is missing: {text.splitlines()[0]}"
    return f"the change conflicts with existing data: {text.splitlines()[0]}"


def _constraint_columns(name: str) -> tuple[str | None, list[str]]:
    for table in metadata.tables.values():
        for constraint in table.constraints:
            if constraint.name == name:
                return table.name, [column.name for column in getattr(constraint, "columns", [])]
        for index in table.indexes:
            if index.name == name:
                return table.name, [column.name for column in index.columns]
    return None, []


def _unique_message(table: str | None, columns: list[str]) -> str:
    what = " and ".join(columns) if columns else "these values"
    if table == "subscriptions":
        return "this application already has a requested or approved subscription to this product"
    return f"a {_singular(table)} with this {what} already exists; choose another {what} or update the existing one"


def _reference_message(table: str | None) -> str:
    where = f" ({table})" if table else ""
    return (
        f"the change refers to something that does not exist, or removes something still in use{where}; "
        "create the referenced object first, or remove what uses it first"
    )


def _singular(table: str | None) -> str:
    if not table:
        return "row"
    words = table.split("_")
    last = words[-1]
    if last.endswith("ies"):
        last = last[:-3] + "y"
    elif last.endswith("sses"):
        last = last[:-2]
    elif last.endswith("s"):
        last = last[:-1]
    return " ".join([*words[:-1], last])


# --- the configuration generation --------------------------------------------------------------------------------


def bump_generation(session: Session) -> int:
    """Increment the configuration generation in the caller's transaction and return the new value.

    Call it with every change that gateways or clusters must see (publish, lifecycle, deployments, credentials,
    subscriptions, plans). The row is locked until commit on PostgreSQL, so generations never repeat.
    """
    announce(session)  # once this commits, gateways' snapshot watches (and the sync worker) wake
    table = ConfigGeneration.__table__  # type: ignore[attr-defined]
    result = session.execute(
        sa.update(table)
        .where(table.c.id == 1)
        .values(generation=table.c.generation + 1, updated_at=utcnow())
        .returning(table.c.generation)
    ).scalar_one_or_none()
    if result is not None:
        return int(result)
    session.add(ConfigGeneration(id=1, generation=1))
    session.flush()
    return 1


def current_generation(session: Session) -> int:
    """The configuration generation (0 before any change)."""
    row = session.get(ConfigGeneration, 1)
    return row.generation if row is not None else 0


# --- migrations --------------------------------------------------------------------------------------------------


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An Alembic config for ``migrations/`` that runs on ``connection`` (env.py reads it from the attributes)."""
    if not (MIGRATIONS_DIR / "env.py").is_file():
        raise Invalid(
            f"the migrations folder {MIGRATIONS_DIR} is missing; install Loom from its source tree "
            "(`make install`, or `pip install -e .`)"
        )
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision in ``migrations/versions``."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise Invalid(f"no migrations found in {MIGRATIONS_DIR / 'versions'}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine_or_url: Engine | str | URL, revision: str = "head") -> str | None:
    """Upgrade (or, with a revision such as ``"base"``, downgrade) the database; return the revision reached.

    On SQLite, foreign keys are switched off while Alembic's batch mode copies tables (as its docs require) and
    checked before the transaction commits.
    """
    engine = engine_or_url if isinstance(engine_or_url, Engine) else create_engine_for(engine_or_url)
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # outside any transaction: SQLite ignores this pragma inside one
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            try:
                if sqlite:  # take the write lock first: a concurrent migrate waits, then finds the work done
                    connection.execution_options(loom_begin_immediate=True)
                with connection.begin():
                    if not sqlite:  # likewise on PostgreSQL, until this transaction ends
                        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
                    _run_alembic(connection, revision)
                    if sqlite:
                        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            raise Conflict(f"migration left rows that refer to missing rows: {broken[:5]}")
            finally:
                if sqlite:
                    connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
            return MigrationContext.configure(connection).get_current_revision()
    except OperationalError as exc:
        raise DatabaseUnavailable(f"cannot migrate {redacted_url(engine.url)}: {exc.orig}") from exc
    finally:
        if engine is not engine_or_url:
            engine.dispose()


def _run_alembic(connection: sa.Connection, revision: str) -> None:
    with _ALEMBIC_IN_PROCESS:
        _run_alembic_unlocked(connection, revision)


def _run_alembic_unlocked(connection: sa.Connection, revision: str) -> None:
    config = alembic_config(connection)
    current = MigrationContext.configure(connection).get_current_revision()
    if revision == "head" or _is_ancestor_or_same(config, current, revision):
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)


def _is_ancestor_or_same(config: Config, current: str | None, target: str) -> bool:
    """Whether moving from ``current`` to ``target`` is an upgrade."""
    if target == "base":
        return current is None
    if current is None:
        return True
    script = ScriptDirectory.from_config(config)
    return any(rev.revision == current for rev in script.iterate_revisions(target, "base"))


def prepare_schema(engine: Engine) -> None:
    """What the CLI does before it opens a session: migrate the embedded SQLite database (it is ours alone); a
    server database must already be at the newest revision, migrated on purpose with ``loom migrate``."""
    if engine.dialect.name == "sqlite":
        migrate(engine)
    elif (current := current_revision(engine)) != head_revision():
        raise Invalid(
            f"database {redacted_url(engine.url)} is at revision {current or 'empty'}, not {head_revision()}: "
            "run `loom migrate` first"
        )


def migrate_command(args: argparse.Namespace) -> int:
    """``loom migrate``: bring the configured database (``LOOM_DATABASE_URL`` or SQLite) to the newest schema."""
    settings = Settings()
    engine = create_engine_for(settings)
    try:
        before = _revision_or_unavailable(engine)
        after = migrate(engine)
    finally:
        engine.dispose()
    where = redacted_url(engine.url)
    if before == after:
        print(f"database {where} is up to date at revision {after}")
    else:
        print(f"database {where} migrated from {before or 'empty'} to {after}")
    return 0


def _revision_or_unavailable(engine: Engine) -> str | None:
    try:
        return current_revision(engine)
    except OperationalError as exc:
        raise DatabaseUnavailable(f"database {redacted_url(engine.url)} is unavailable: {exc.orig}") from exc
