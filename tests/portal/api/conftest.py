"""The admin API through the real portal ASGI app (``portal.app.create_app``) on a real, migrated database.

``people`` creates a platform admin, the admin and a member of team ``alpha``, the admin of team ``beta``, a
platform-wide viewer and a consumer, each with a real personal access token; ``gql`` posts a GraphQL request as one of
them (``None``: anonymous).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from portal.accounts import create_token, create_user
from portal.app import create_app
from portal.authorization import Actor
from portal.models import AuditEvent, User
from portal.settings import Settings
from tests.factories import make_cluster, make_placement, make_team, make_user

SYSTEM = Actor.system("test-setup")


@dataclass(frozen=True)
class Person:
    name: str
    token: str | None  # None: anonymous


ROLES = ("platform-admin", "team-admin", "team-member", "other-team-admin", "viewer", "anonymous")


@pytest.fixture
def people(engine: Engine) -> dict[str, Person]:
    """One person per matrix role (target team: alpha), plus a consumer without any team."""
    with Session(engine, expire_on_commit=False) as session:
        alpha, beta = make_team(session, "alpha"), make_team(session, "beta")
        eu = make_cluster(session, "eu")
        make_placement(session, alpha, eu, ["alpha"])
        make_placement(session, beta, eu, ["beta"])
        specs = {
            "platform-admin": ("root", "platform-admin", None),
            "team-admin": ("alice", "team-admin", "alpha"),
            "team-member": ("mike", "team-member", "alpha"),
            "other-team-admin": ("bob", "team-admin", "beta"),
            "viewer": ("vera", "viewer", None),
        }
        out: dict[str, Person] = {}
        for key, (name, role, team) in specs.items():
            user = create_user(session, SYSTEM, name=name, role=role, team=team)
            out[key] = Person(name, create_token(session, SYSTEM, user, name="test").token)
        consumer = make_user(session, "carl")  # no role at all: a consumer who only owns applications
        out["consumer"] = Person("carl", create_token(session, SYSTEM, consumer, name="test").token)
        out["anonymous"] = Person("anonymous", None)
        session.commit()
    return out


class Gql(Protocol):
    def __call__(
        self, query: str, variables: Mapping[str, Any] | None = None, *, as_: Person | None = None
    ) -> Awaitable[dict[str, Any]]: ...


@pytest.fixture
async def client(engine: Engine, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as client:
        yield client


@pytest.fixture
def gql(client: httpx.AsyncClient) -> Gql:
    async def post(
        query: str, variables: Mapping[str, Any] | None = None, *, as_: Person | None = None
    ) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {as_.token}"} if as_ is not None and as_.token else {}
        payload = {"query": query, "variables": dict(variables or {})}
        response = await client.post("/api/graphql", json=payload, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    return post


def codes(body: Mapping[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors") or []]


def audit_after(engine: Engine, after_id: int) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent).where(col(AuditEvent.id) > after_id).order_by(col(AuditEvent.id))))


def last_audit_id(engine: Engine) -> int:
    with Session(engine) as session:
        row = session.exec(select(AuditEvent.id).order_by(col(AuditEvent.id).desc())).first()
        return row or 0


def user_id(engine: Engine, name: str) -> int:
    with Session(engine) as session:
        user = session.exec(select(User).where(col(User.name) == name)).one()
        assert user.id is not None
        return user.id


Setup = Callable[[Session], dict[str, Any]]
