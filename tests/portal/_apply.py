"""Shared by the tests that apply resources: the library example, an admin actor, and row counts.

``LIBRARY`` is the project's own example (``portal/examples/library``, the one ``loom up`` applies), so the tests
apply exactly what is shipped."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from portal.authorization import Actor
from portal.db import session_scope
from portal.demo_services import LIBRARY_EXAMPLE as LIBRARY
from portal.manifests import Document
from portal.models import metadata
from portal.resources import apply

__all__ = ["ADMIN", "LIBRARY", "counts", "library_copy", "library_with_a_clash", "run"]

ADMIN = Actor.system("test-admin")
T = TypeVar("T")


def _off_the_loop(work: Callable[[], T]) -> T:
    """``work()`` in a thread of its own, waited for: an async test or fixture that applies resources calls it on
    the event loop's thread, where the portal refuses to compose (:mod:`portal._loop`), as the admin API and the CLI
    never do."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-apply") as pool:
        return pool.submit(work).result()


def run(
    engine: Engine, documents: list[Document], actor: Actor = ADMIN, *, dry_run: bool = False, force: bool = False
) -> list[str]:
    """Apply in one transaction (off the event loop when a test runs one); the change lines (``service/loans
    unchanged``)."""

    def work() -> list[str]:
        with session_scope(engine) as session:
            return [c.line() for c in apply(session, actor, documents, dry_run=dry_run, force=force)]

    return _off_the_loop(work)


def counts(engine: Engine) -> dict[str, int]:
    """Rows per table, audit events aside (refusals are recorded on purpose)."""
    with engine.connect() as connection:
        return {
            name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for name, table in metadata.tables.items()
            if name != "audit_events"
        }


def library_copy(target: Path) -> Path:
    """A private copy of the library example at ``target``, for a test to edit."""
    shutil.copytree(LIBRARY, target)
    return target


def library_with_a_clash(target: Path) -> Path:
    """A copy whose loans service declares a ``Member`` type that clashes with the members service's."""
    library_copy(target)
    loans = target / "loans.graphql"
    own = "type Member {\n  id: ID!\n}"  # the example's loans know a member by id (Loan.member)
    text = loans.read_text()
    assert own in text, "the example's loans.graphql no longer declares Member as expected"
    loans.write_text(text.replace(own, "type Member {\n  id: ID!\n  displayName: Int\n}"))
    return target
