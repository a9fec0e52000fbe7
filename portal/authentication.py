"""Who is making a request: the :class:`~portal.authorization.Actor` behind a session cookie or a bearer PAT.

* ``Authorization: Bearer <personal access token>`` (the CLI, scripts): the token's user. A malformed, unknown,
  revoked or expired token is :class:`~portal.errors.Unauthenticated`, never silently anonymous.
* Otherwise the session cookie that :mod:`portal.login` sets (browsers): the user of its server-side session
  (:mod:`portal.login_sessions`). A cookie whose session is unknown, expired or was ended (logout, password change,
  deactivation) is anonymous; a live session of a user deactivated meanwhile is ``Unauthenticated``.
* Neither: :meth:`Actor.anonymous`, which :func:`~portal.authorization.authorize` refuses for every action.

The actor's roles come from the user's memberships: ``platform-admin`` (platform-wide), a platform-wide ``viewer``
(read-only), and a role per team.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from portal import login_sessions
from portal.accounts import verify_token
from portal.authorization import Actor
from portal.db import is_locked, optimistic, session_scope, writer
from portal.errors import Forbidden, Unauthenticated
from portal.models import Cluster, GatewayGrant, Membership, Role, Team, User
from stitcher.snapshot_source import SNAPSHOT_PATH

__all__ = [
    "SESSION_KEY",
    "actor_for_user",
    "authenticate",
    "request_actor",
    "require_actor",
]

SESSION_KEY = login_sessions.COOKIE_KEY
"""The key under which :mod:`portal.login` keeps the session id in the signed session cookie."""

# Strongest first: a user with two roles in one team acts with the stronger.
_STRENGTH = [Role.TEAM_ADMIN, Role.TEAM_MEMBER, Role.VIEWER]


def _strength(role: Role) -> int:
    return _STRENGTH.index(role) if role in _STRENGTH else len(_STRENGTH)


def actor_for_user(session: Session, user: User) -> Actor:
    """The actor for ``user`` with the roles of their memberships (a robot: the clusters of its grants)."""
    if user.robot:
        clusters = session.exec(
            select(Cluster.name)
            .join(GatewayGrant, col(GatewayGrant.cluster_id) == col(Cluster.id))
            .where(col(GatewayGrant.user_id) == user.id)
        ).all()
        return Actor(user_id=user.id, name=user.name, kind="robot", gateway_clusters=frozenset(clusters))
    rows = session.exec(
        select(Membership.role, Team.name)
        .select_from(Membership)
        .outerjoin(Team, col(Team.id) == col(Membership.team_id))
        .where(col(Membership.user_id) == user.id)
    ).all()
    platform_admin = any(role == Role.PLATFORM_ADMIN for role, _team in rows)
    read_only = not platform_admin and any(role == Role.VIEWER and team is None for role, team in rows)
    team_roles: dict[str, Role] = {}
    for role, team in sorted(rows, key=lambda row: _strength(Role(row[0]))):
        if team is not None and team not in team_roles:
            team_roles[team] = Role(role)
    return Actor(
        user_id=user.id,
        name=user.name,
        platform_admin=platform_admin,
        team_roles=MappingProxyType(team_roles),
        read_only=read_only,
    )


def authenticate(
    session: Session,
    headers: Mapping[str, str],
    session_data: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> Actor:
    """The actor of a request, from its headers (bearer PAT) or its session data. Flushes a PAT's or a session's
    last use."""
    return _resolve(session, headers, session_data, now=now)[0]


def _resolve(
    session: Session, headers: Mapping[str, str], session_data: Mapping[str, Any], *, now: datetime | None = None
) -> tuple[Actor, int | None]:
    """The actor, and the id of the login session it came from (None for a token or anonymous)."""
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated(
                "unsupported Authorization header: send 'Authorization: Bearer <personal access token>'"
            )
        user, _row = verify_token(session, token, now=now)
        return actor_for_user(session, user), None
    row = login_sessions.find(session, session_data.get(SESSION_KEY), now=now)
    if row is None:  # no session, or one that ended: the cookie proves nothing
        return Actor.anonymous(), None
    found = session.get(User, row.user_id)
    if found is None or not found.is_active:
        raise Unauthenticated("your session belongs to a user who no longer exists or is deactivated; log in again")
    return actor_for_user(session, found), row.id


def _authenticate(
    engine: Engine, headers: Mapping[str, str], session_data: Mapping[str, Any]
) -> tuple[Actor, int | None]:
    try:
        with session_scope(optimistic(engine)) as session:
            return _resolve(session, headers, session_data)
    except OperationalError as exc:
        # Reading is all a request needs, but once a minute it records that a token or session was used, and on
        # SQLite that write fails at once when another request wrote meanwhile: resolve again holding the lock.
        if not is_locked(exc):
            raise
    with session_scope(writer(engine)) as session:
        return _resolve(session, headers, session_data)


async def request_actor(connection: HTTPConnection, *, robots: bool = False) -> Actor:
    """The actor of an HTTP request (or websocket), using ``app.state.engine``. Anonymous when it carries neither
    a token nor a live session; ``Unauthenticated`` when what it carries is not valid. Sets
    :data:`portal.login_sessions.current` for the rest of the request.

    A robot's token is ``Forbidden`` unless the endpoint takes robots (``robots=True``: the gateway snapshot), so a
    leaked gateway token reads no catalog, no user and no audit log."""
    session_data: Mapping[str, Any] = connection.session if "session" in connection.scope else {}
    engine: Engine = connection.app.state.engine
    actor, login_session = await run_in_threadpool(_authenticate, engine, connection.headers, dict(session_data))
    if actor.kind == "robot" and not robots:
        raise Forbidden(f"{actor.describe()} may only read its clusters' gateway snapshot ({SNAPSHOT_PATH})")
    login_sessions.current.set(login_session)
    return actor


async def require_actor(connection: HTTPConnection, *, robots: bool = False) -> Actor:
    """Like :func:`request_actor`, but an anonymous caller is ``Unauthenticated`` too."""
    actor = await request_actor(connection, robots=robots)
    if not actor.is_authenticated:
        raise Unauthenticated("sign in first: log in, or pass 'Authorization: Bearer <personal access token>'")
    return actor
