"""A guard for SQLite's one transaction rule that no test would otherwise meet: a transaction that reads, then
writes, fails at once with "database is locked" when another connection wrote in between (its snapshot is stale, and
the busy timeout does not apply to that upgrade). Such a unit of work must begin with the write lock
(``portal.db.writer``). Concurrency makes the failure rare, so the guard checks the rule itself: every transaction
that ``portal.db.session_scope`` begins on SQLite without the write lock, outside a test's own code (see
``_portal_frames``), must not write after it has read."""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from portal.db import UNIT_OF_WORK

__all__ = ["ReadThenWrite", "read_then_write_guard"]

_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
_READ = re.compile(r"\s*(SELECT|WITH)\b", re.IGNORECASE)


@dataclasses.dataclass
class ReadThenWrite:
    """A deferred transaction that wrote after reading; ``where``: the portal frames where it began."""

    statement: str
    where: list[str]

    def __str__(self) -> str:
        return f"{self.statement.split(chr(10))[0][:80]} (transaction begun in {' <- '.join(self.where)})"


_ROOT = str(Path(__file__).resolve().parent.parent) + "/"
_DB = str(Path(_ROOT, "portal", "db.py"))
_VENV = _ROOT + ".venv/"


def _portal_frames(tests_too: bool) -> list[str] | None:
    """The innermost project frames on the stack (where the unit of work began), or None when a test's own code is
    on the stack (unless ``tests_too``): a test's setup runs alone, and the portal's own units of work (requests in
    the server's threads, the CLI, worker passes in their threads) are what must hold to the rule."""
    frame: FrameType | None = sys._getframe(2)
    where: list[str] = []
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(_ROOT + "tests/") and not tests_too:
            return None
        if name.startswith(_ROOT) and not name.startswith(_VENV) and name != _DB and len(where) < 3:
            where.append(f"{name.removeprefix(_ROOT)}:{frame.f_lineno} {frame.f_code.co_name}")
        frame = frame.f_back
    return where


@contextmanager
def read_then_write_guard(*, tests_too: bool = False) -> Iterator[list[ReadThenWrite]]:
    """Collect every read-then-write transaction that SQLite engines run in the block (``tests_too``: also those
    begun with a test's code on the stack; the guard's own test)."""
    found: list[ReadThenWrite] = []
    key = object()  # this guard's own mark on a connection: guards may nest

    def begin(connection: sa.Connection) -> None:
        connection.info.pop(key, None)

    def after_begin(session: Session, _transaction: Any, connection: sa.Connection) -> None:
        options = connection.get_execution_options()
        deferred = not options.get("loom_begin_immediate") and not options.get("loom_optimistic")
        if connection.dialect.name == "sqlite" and deferred and session.info.get(UNIT_OF_WORK):
            where = _portal_frames(tests_too)
            connection.info[key] = None if where is None else {"read": False, "where": where}

    def before(connection: sa.Connection, _cursor: Any, statement: str, *_: Any) -> None:
        state = connection.info.get(key)
        if state is None or not connection.in_transaction():
            return
        if _READ.match(statement):
            state["read"] = True
        elif _WRITE.match(statement) and state["read"]:
            found.append(ReadThenWrite(statement, state["where"]))
            connection.info[key] = None  # one report per transaction

    sa.event.listen(Engine, "begin", begin)
    sa.event.listen(Session, "after_begin", after_begin)
    sa.event.listen(Engine, "before_cursor_execute", before)
    try:
        yield found
    finally:
        sa.event.remove(Engine, "before_cursor_execute", before)
        sa.event.remove(Session, "after_begin", after_begin)
        sa.event.remove(Engine, "begin", begin)
