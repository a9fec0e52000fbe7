"""Browser login sessions, kept server-side so they can be ended: logout, a password change, a deactivation.

The session cookie (signed by Starlette's ``SessionMiddleware``, see :mod:`portal.login`) carries one value: a random
256-bit session id under :data:`COOKIE_KEY`. The database keeps its SHA-256 in a :class:`~portal.models.LoginSession`
row with the user, when it started, when it expires, when it was last seen and whether it was revoked. A cookie
whose session is unknown, expired or revoked makes the request anonymous, whatever else it carries.

Which sessions end when:

* logout: the session it is sent with;
* a password change: every session of the user, except, on one's own change, the session the change is made from
  (the user just proved the current password there; other browsers, perhaps a thief's, are signed out);
* a password reset by an admin or the CLI, and a deactivation: every session of the user.

The request's session is known to the code it calls through :data:`current` (set by
:func:`portal.authentication.request_actor`), as the audit scope carries the request id: so
:func:`portal.accounts.change_password` keeps the caller's own session without every caller passing it along.
"""

from __future__ import annotations

import hashlib
import secrets
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from portal.models import LoginSession, User, utcnow

__all__ = ["COOKIE_KEY", "IssuedSession", "current", "end", "end_all", "find", "live_count", "start"]

COOKIE_KEY = "loom_session"
"""The key of the session id in the signed session cookie."""

current: ContextVar[int | None] = ContextVar("loom_login_session", default=None)
"""The id of the :class:`LoginSession` row the current request is signed in with (None: a token, or anonymous)."""

_LAST_SEEN_RESOLUTION = timedelta(minutes=1)  # one write a minute at most: every request writing would serialise


@dataclass(frozen=True)
class IssuedSession:
    """A new session's row and its id, which exists only here and in the cookie."""

    row: LoginSession
    token: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, user: User, *, max_age_seconds: int, now: datetime | None = None) -> IssuedSession:
    """A new session for ``user``, valid ``max_age_seconds``. Forgets the user's expired and revoked sessions, so
    the table holds about the live ones. Flushes, does not commit."""
    assert user.id is not None
    at = now or utcnow()
    session.execute(
        sa.delete(LoginSession).where(
            col(LoginSession.user_id) == user.id,
            sa.or_(col(LoginSession.expires_at) <= at, col(LoginSession.revoked_at).is_not(None)),
        )
    )
    token = secrets.token_urlsafe(32)
    row = LoginSession(
        user_id=user.id,
        token_hash=_hash(token),
        created_at=at,
        expires_at=at + timedelta(seconds=max_age_seconds),
        last_seen_at=at,
    )
    session.add(row)
    session.flush()
    return IssuedSession(row, token)


def find(session: Session, token: object, *, now: datetime | None = None) -> LoginSession | None:
    """The live session with id ``token`` (what the cookie holds, of any type), recording that it was seen;
    None when it is not a session id, unknown, expired or revoked. Flushes a ``last_seen_at`` change."""
    if not isinstance(token, str) or not 0 < len(token) <= 100:
        return None
    row = session.exec(select(LoginSession).where(col(LoginSession.token_hash) == _hash(token))).first()
    at = now or utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= at:
        return None
    if at - row.last_seen_at >= _LAST_SEEN_RESOLUTION:
        row.last_seen_at = at
        session.add(row)
        session.flush()
    return row


def end(session: Session, token: object, *, now: datetime | None = None) -> bool:
    """Revoke the session with id ``token`` (logout); False when there was no live one. Flushes."""
    row = find(session, token, now=now)
    if row is None:
        return False
    row.revoked_at = now or utcnow()
    session.add(row)
    session.flush()
    return True


def live_count(session: Session, user_id: int, *, keep: int | None = None, now: datetime | None = None) -> int:
    """How many live sessions ``user_id`` has, not counting the one with id ``keep``."""
    return len(_live(session, user_id, keep=keep, now=now))


def end_all(session: Session, user_id: int, *, keep: int | None = None, now: datetime | None = None) -> int:
    """Revoke every live session of ``user_id`` except the row ``keep`` (if it is the user's); returns how many
    ended. Flushes, does not commit."""
    at = now or utcnow()
    rows = _live(session, user_id, keep=keep, now=at)
    for row in rows:
        row.revoked_at = at
        session.add(row)
    session.flush()
    return len(rows)


def _live(session: Session, user_id: int, *, keep: int | None, now: datetime | None) -> list[LoginSession]:
    at = now or utcnow()
    query = select(LoginSession).where(
        col(LoginSession.user_id) == user_id,
        col(LoginSession.revoked_at).is_(None),
        col(LoginSession.expires_at) > at,
    )
    if keep is not None:
        query = query.where(col(LoginSession.id) != keep)
    return list(session.exec(query))
