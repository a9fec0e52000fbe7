"""Resolving the actor of a request, through a real ASGI app (login routes + session middleware) and database."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlmodel import Session

from portal.accounts import create_token, create_user, revoke_token
from portal.authentication import actor_for_user
from portal.authorization import Actor
from portal.models import Role, User, utcnow
from tests.factories import make_membership, make_team, make_user

SYSTEM = Actor.system("test")


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


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
