"""Resolving the actor of a request, through a real ASGI app (login routes + session middleware) and database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.applications import Starlette

from portal import login_sessions
from portal.accounts import change_password, create_token, create_user, deactivate_user, revoke_token
from portal.app import create_app
from portal.authentication import actor_for_user
from portal.authorization import Actor
from portal.models import AuditEvent, LoginSession, Role, User, utcnow
from portal.settings import Settings
from tests.factories import make_membership, make_team, make_user
from tests.portal.test_login import signed_cookie

SYSTEM = Actor.system("test")


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@asynccontextmanager
async def in_process(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A browser of its own (its own cookie jar) on the app."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield client


async def test_a_token_identifies_its_user_with_their_roles(client: httpx.AsyncClient, session: Session) -> None:
    shop, warehouse = make_team(session, "shop"), make_team(session, "warehouse")
    user = make_user(session, "erin", role=Role.TEAM_ADMIN, team=shop)
    make_membership(session, user, Role.TEAM_MEMBER, warehouse)
    make_membership(session, user, Role.TEAM_MEMBER, shop)  # the stronger role in shop wins
    issued = create_token(session, SYSTEM, user)
    session.commit()

    response = await client.get("/api/me", headers=bearer(issued.token))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "name": "erin",
        "platformAdmin": False,
        "readOnly": False,
        "teams": {"shop": "team-admin", "warehouse": "team-member"},
    }
    session.refresh(issued.row)
    assert issued.row.last_used_at is not None


async def test_expired_revoked_and_unknown_tokens_get_401(client: httpx.AsyncClient, session: Session) -> None:
    user = make_user(session, role="viewer")
    expired = create_token(session, SYSTEM, user, expires_in_days=1, now=utcnow() - timedelta(days=2))
    revoked = create_token(session, SYSTEM, user)
    revoke_token(session, SYSTEM, revoked.row.prefix)
    session.commit()

    cases = {
        expired.token: "expired at",
        revoked.token: "was revoked",
        "lpat_0123456789ab_" + "x" * 43: "unknown personal access token",
        "garbage": "malformed",
    }
    for token, message in cases.items():
        response = await client.get("/api/me", headers=bearer(token))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHENTICATED"
        assert message in response.json()["error"]["message"]


async def test_other_schemes_and_no_credentials_are_unauthenticated(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/me", headers={"authorization": "Basic YWRtaW46YWRtaW4="})
    assert response.status_code == 401 and "Bearer" in response.json()["error"]["message"]
    response = await client.get("/api/me")
    assert response.status_code == 401 and "not logged in" in response.json()["error"]["message"]


async def test_a_session_ends_when_its_user_is_deactivated(client: httpx.AsyncClient, session: Session) -> None:
    user = create_user(session, SYSTEM, name="frank", role="viewer", password="frank-password-1")
    session.commit()
    response = await client.post("/login", json={"username": "frank", "password": "frank-password-1"})
    assert response.status_code == 200
    me = await client.get("/api/me")
    assert me.status_code == 200 and me.json()["readOnly"] is True

    user.is_active = False
    session.add(user)
    session.commit()
    me = await client.get("/api/me")
    assert me.status_code == 401 and "deactivated" in me.json()["error"]["message"]


def test_actor_roles_come_from_memberships(session: Session) -> None:
    team = make_team(session, "t1")
    admin = make_user(session, role=Role.PLATFORM_ADMIN)
    viewer = make_user(session, role=Role.VIEWER)
    team_viewer = make_user(session, role=Role.VIEWER, team=team)
    consumer = make_user(session)
    assert actor_for_user(session, admin).platform_admin
    assert actor_for_user(session, viewer).read_only
    assert actor_for_user(session, team_viewer).team_roles == {"t1": Role.VIEWER}
    plain = actor_for_user(session, consumer)
    assert (plain.platform_admin, plain.read_only, dict(plain.team_roles)) == (False, False, {})
    assert isinstance(consumer, User)


async def _login(client: httpx.AsyncClient, name: str, password: str) -> str:
    response = await client.post("/login", json={"username": name, "password": password})
    assert response.status_code == 200, response.text
    return client.cookies["loom_session"]


async def _me(app_client: httpx.AsyncClient, cookie: str) -> httpx.Response:
    app_client.cookies.set("loom_session", cookie)
    return await app_client.get("/api/me")


_CHANGE_OWN = (
    "mutation($new: String!, $current: String) { changePassword(newPassword: $new, currentPassword: $current) "
    "{ name } }"
)


async def test_an_own_password_change_ends_the_other_sessions_and_keeps_this_one(
    engine: Engine, settings: Settings, session: Session
) -> None:
    """Decision: the session the change is made from stays (its user just proved the current password there);
    every other session of the user, perhaps a thief's, ends."""
    create_user(session, SYSTEM, name="gina", role="viewer", password="gina-password-1")
    session.commit()
    app = create_app(settings, engine=engine)
    async with in_process(app) as here, in_process(app) as elsewhere, in_process(app) as replay:
        await _login(here, "gina", "gina-password-1")
        other = await _login(elsewhere, "gina", "gina-password-1")
        variables = {"new": "gina-password-2", "current": "gina-password-1"}
        changed = await here.post("/api/graphql", json={"query": _CHANGE_OWN, "variables": variables})
        assert changed.json() == {"data": {"changePassword": {"name": "gina"}}}, changed.text
        assert (await here.get("/api/me")).json()["name"] == "gina"
        assert (await _me(replay, other)).status_code == 401
    session.rollback()
    (event,) = session.exec(select(AuditEvent).where(col(AuditEvent.action) == "user.password")).all()
    assert event.summary["sessions_ended"] == 1


async def test_a_password_reset_or_a_deactivation_ends_every_session(
    engine: Engine, settings: Settings, session: Session
) -> None:
    hugo = create_user(session, SYSTEM, name="hugo", role="viewer", password="hugo-password-1")
    iris = create_user(session, SYSTEM, name="iris", role="viewer", password="iris-password-1")
    session.commit()
    app = create_app(settings, engine=engine)
    async with (
        in_process(app) as one,
        in_process(app) as two,
        in_process(app) as three,
        in_process(app) as four,
        in_process(app) as replay,
    ):
        hugos = [await _login(browser, "hugo", "hugo-password-1") for browser in (one, two)]
        iriss = [await _login(browser, "iris", "iris-password-1") for browser in (three, four)]
        change_password(session, SYSTEM, hugo, "hugo-password-2")  # an admin's reset (here: the CLI's)
        deactivate_user(session, SYSTEM, iris)
        session.commit()
        for cookie in hugos + iriss:
            me = await _me(replay, cookie)
            assert me.status_code == 401 and "not logged in" in me.json()["error"]["message"]
    events = session.exec(select(AuditEvent).where(col(AuditEvent.action) == "user.deactivate")).all()
    assert [e.summary["sessions_ended"] for e in events] == [2]
    assert session.exec(select(AuditEvent).where(col(AuditEvent.action) == "user.password")).one().summary == {
        "user": "hugo",
        "reset": True,
        "sessions_ended": 2,
    }


async def test_an_expired_or_revoked_session_is_anonymous(engine: Engine, settings: Settings, session: Session) -> None:
    user = make_user(session, role="viewer")
    live = login_sessions.start(session, user, max_age_seconds=3600)
    expired = login_sessions.start(session, user, max_age_seconds=60, now=utcnow() - timedelta(minutes=2))
    revoked = login_sessions.start(session, user, max_age_seconds=3600)
    assert login_sessions.end(session, revoked.token)
    session.commit()
    key = settings.resolved_secret_key()
    async with in_process(create_app(settings, engine=engine)) as client:
        assert (await _me(client, signed_cookie(key, {"loom_session": live.token}))).status_code == 200
        for issued in (expired, revoked):
            me = await _me(client, signed_cookie(key, {"loom_session": issued.token}))
            assert me.status_code == 401 and "not logged in" in me.json()["error"]["message"]
    # a login forgets the user's ended sessions, so the table holds about the live ones
    login_sessions.start(session, user, max_age_seconds=3600)
    session.commit()
    assert len(session.exec(select(LoginSession).where(col(LoginSession.user_id) == user.id)).all()) == 2
