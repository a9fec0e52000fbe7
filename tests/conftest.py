"""Shared fixtures: a fresh database per test on SQLite and on the real PostgreSQL, migrated engines, settings.

* ``database_url`` is parametrized: ``sqlite`` (a file under the test's tmp_path) and ``postgresql`` (a uniquely
  named schema in ``LOOM_TEST_DATABASE_URL``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``,
  dropped afterwards). The URL is a plain string that also works in a subprocess (``LOOM_DATABASE_URL=...``).
* PostgreSQL unreachable: the PostgreSQL variants FAIL with a message, unless ``LOOM_TEST_SKIP_POSTGRES=1``
  skips them explicitly.
* ``engine`` is migrated to head; ``session`` is a plain session on it (commit yourself); ``settings`` points at
  the same database with ``data_dir`` under tmp_path.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from portal.db import create_engine_for, migrate, normalize_url, redacted_url
from portal.settings import DatabaseSettings, Mode, Settings

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SKIP_POSTGRES_VARIABLE = "LOOM_TEST_SKIP_POSTGRES"


def postgres_url() -> str:
    return os.environ.get("LOOM_TEST_DATABASE_URL") or DEFAULT_POSTGRES_URL


def _skip_postgres() -> bool:
    return os.environ.get(SKIP_POSTGRES_VARIABLE, "").strip().lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def postgres_admin_engine() -> Iterator[Engine]:
    """An engine on the test database itself, used to create and drop per-test schemas."""
    if _skip_postgres():
        pytest.skip(f"PostgreSQL tests skipped on purpose ({SKIP_POSTGRES_VARIABLE}=1)")
    url = normalize_url(postgres_url())
    engine = sa.create_engine(url, connect_args={"connect_timeout": 5})
    problem = None
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        problem = str(exc.orig).strip()
    if problem is not None:  # outside the except block: the message alone, without a chained traceback
        engine.dispose()
        pytest.fail(
            f"PostgreSQL is not reachable at {redacted_url(url)}: {problem}\n"
            "Start it (database `test` on 127.0.0.1:5432), point LOOM_TEST_DATABASE_URL at one, "
            f"or set {SKIP_POSTGRES_VARIABLE}=1 to skip the PostgreSQL variants on purpose.",
            pytrace=False,
        )
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_schema_url(postgres_admin_engine: Engine) -> Iterator[str]:
    """A URL whose connections live in a fresh schema (search_path) and carry its name as application_name."""
    schema = f"loom_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin_engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = normalize_url(postgres_url()).update_query_dict(
        {"options": f"-csearch_path={schema}", "application_name": schema}
    )
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with postgres_admin_engine.begin() as connection:
            # A test that leaked an engine must not make the DROP wait forever on its locks.
            connection.execute(
                sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"),
                {"name": schema},
            )
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
def database_url(database_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database (not migrated) for this test only."""
    if database_backend == "sqlite":
        return f"sqlite:///{tmp_path / 'loom.db'}"
    url: str = request.getfixturevalue("postgres_schema_url")
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on this test's database, migrated to head."""
    engine = create_engine_for(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the migrated database. Factories flush; commit before other sessions or the app need rows."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Development settings on this test's database, with ``data_dir`` under tmp_path."""
    return Settings(
        mode=Mode.DEVELOPMENT,
        data_dir=tmp_path / "data",
        database=DatabaseSettings(url=database_url),
    )
