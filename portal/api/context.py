"""The admin API's per-request context: the database engine, the acting user and the request id.

Resolvers never touch the database on the event loop: ``run`` opens one transaction in a worker thread, runs the
service function there with the actor, commits, and returns plain data.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import anyio.to_thread
from sqlmodel import Session
from starlette.requests import Request

from portal.audit import audit_scope, record_denied
from portal.authorization import Actor
from portal.db import session_scope, writer
from portal.errors import Unauthenticated
from portal.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from strawberry.types import Info

__all__ = [
    "Context",
    "new_request_id",
    "run",
    "run_mutation",
]

T = TypeVar("T")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class Context:
    """``auth_error`` is set when the request carried a bad credential: every resolver raises it."""

    request: Request
    engine: Engine
    settings: Settings
    actor: Actor
    request_id: str
    auth_error: Unauthenticated | None = None


def new_request_id(request: Request) -> str:
    """The caller's ``X-Request-ID`` when it is a short, safe token; otherwise a fresh one."""
    given = request.headers.get("x-request-id", "")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


async def run(info: Info[Context, None], work: Callable[[Session, Actor], T]) -> T:
    """Run ``work(session, actor)`` in one transaction in a worker thread; commit on success, roll back on error."""
    ctx = info.context
    if ctx.auth_error is not None:
        raise ctx.auth_error

    def in_thread() -> T:
        with audit_scope(request_id=ctx.request_id, via="api"), session_scope(ctx.engine) as session:
            return work(session, ctx.actor)

    return await anyio.to_thread.run_sync(in_thread)


async def run_mutation(
    info: Info[Context, None], action: str, target_kind: str, work: Callable[[Session, Actor], T]
) -> T:
    """``run`` for a mutation: a caller with a bad credential or none is refused before any lookup, and the
    attempt is audited (as anonymous) like every other denial."""
    ctx = info.context

    def in_thread() -> T:
        # writer(): a mutation reads, then writes; on SQLite it takes the write lock as it begins, so concurrent
        # mutations queue (busy timeout) instead of failing at once with "database is locked"
        with audit_scope(request_id=ctx.request_id, via="api"), session_scope(writer(ctx.engine)) as session:
            refusal = ctx.auth_error
            if refusal is None and not ctx.actor.is_authenticated:
                refusal = Unauthenticated(
                    f"'{action}' requires signing in: pass 'Authorization: Bearer <personal access token>'"
                )
            if refusal is not None:
                record_denied(session, Actor.anonymous(), action, target_kind, "", reason=refusal.message)
                raise refusal
            # The service layer audits its own refusals (``portal.audit.denials_audited``), whichever channel calls.
            return work(session, ctx.actor)

    return await anyio.to_thread.run_sync(in_thread)
