"""GraphQL over HTTP at the portal's admin API (``/api/graphql``).

The graphql-http audit runs against a real ``loom serve`` process (SQLite) on a free port: every audit ok, with no
notice or warning (the runner is ``tests/stitcher/test_graphql_http.py``'s). The other tests pin, through the real
portal app, what the audit cannot see: a GET runs queries with a token but never with the session cookie (a link on
another site can send a GET), a mutation by GET is 405, and a refused request has no ``data``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from portal.accounts import create_token, create_user
from portal.app import create_app
from portal.authorization import Actor
from portal.models import PersonalAccessToken
from portal.settings import Settings
from stitcher.app import GRAPHQL_RESPONSE_JSON
from tests._ports import free_port
from tests.stitcher.test_graphql_http import assert_conformant, clean_environment, run_audit, running

PORTAL = "http://testserver"
ME = "{ me { name } }"


@pytest.mark.slow
def test_the_admin_api_passes_every_graphql_over_http_audit(tmp_path: Path) -> None:
    data = tmp_path / "data"
    environment = clean_environment(LOOM_DATABASE_URL=f"sqlite:///{data / 'loom.db'}", LOOM_DATA_DIR=str(data))
    with running(["serve"], free_port(), env=environment, cwd=tmp_path, log=tmp_path / "serve.log") as base:
        assert_conformant(run_audit(f"{base}/api/graphql"))


@pytest.fixture
async def client(engine: Engine, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, engine=engine)),
                                 base_url=PORTAL) as client:  # fmt: skip
        yield client


@pytest.fixture
def kim(session: Session) -> str:
    """A platform admin with a password (for a session) and a personal access token; the token."""
    user = create_user(session, Actor.system("test"), name="kim", role="platform-admin", password="kim-password-123")
    token = create_token(session, Actor.system("test"), user, name="test").token
    session.commit()
    return token


async def test_a_get_runs_queries_with_a_token_but_never_with_the_session_cookie(
    client: httpx.AsyncClient, kim: str
) -> None:
    assert (await client.post("/login", json={"username": "kim", "password": "kim-password-123"})).status_code == 200
    posted = await client.post("/api/graphql", json={"query": ME})  # the portal's pages and GraphiQL POST
    assert posted.json() == {"data": {"me": {"name": "kim"}}}

    by_cookie = await client.get("/api/graphql", params={"query": ME})
    assert by_cookie.status_code == 200
    assert by_cookie.json()["data"] == {"me": None}
    assert by_cookie.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    by_token = await client.get("/api/graphql", params={"query": ME}, headers={"authorization": f"Bearer {kim}"})
    assert by_token.json() == {"data": {"me": {"name": "kim"}}}


async def test_a_mutation_by_get_is_405_and_runs_nothing(client: httpx.AsyncClient, kim: str, session: Session) -> None:
    mutation = 'mutation { createToken(name: "by-get") { token } }'
    for accept in ("application/json", GRAPHQL_RESPONSE_JSON):
        answer = await client.get(
            "/api/graphql", params={"query": mutation}, headers={"authorization": f"Bearer {kim}", "accept": accept}
        )
        assert (answer.status_code, answer.headers["allow"], answer.headers["content-type"]) == (405, "POST", accept)
        [error] = answer.json()["errors"]
        assert error["extensions"]["code"] == "INVALID" and "GET runs queries only" in error["message"], error
    assert [t.name for t in session.exec(select(PersonalAccessToken)).all()] == ["test"]


@pytest.mark.parametrize(
    ("query", "variables"),
    [("{ me { name ", None), ("{ nope }", None), ("query($n: Int!) { __typename }", {"n": "seven"})],
    ids=["syntax", "validation", "variables"],
)
async def test_a_refused_request_has_no_data_and_is_400_under_graphql_response_json(
    client: httpx.AsyncClient, query: str, variables: dict[str, str] | None
) -> None:
    body = {"query": query, "variables": variables}
    modern = await client.post("/api/graphql", json=body, headers={"accept": GRAPHQL_RESPONSE_JSON})
    assert (modern.status_code, modern.headers["content-type"]) == (400, GRAPHQL_RESPONSE_JSON)
    legacy = await client.post("/api/graphql", json=body, headers={"accept": "application/json"})
    assert (legacy.status_code, legacy.headers["content-type"]) == (200, "application/json")
    for answer in (modern, legacy):
        assert "data" not in answer.json() and answer.json()["errors"][0]["extensions"]["code"] == "INVALID"


async def test_a_field_error_keeps_data_and_200_and_an_unacceptable_accept_is_406(client: httpx.AsyncClient) -> None:
    anonymous = await client.post("/api/graphql", json={"query": ME}, headers={"accept": GRAPHQL_RESPONSE_JSON})
    assert (anonymous.status_code, anonymous.headers["content-type"]) == (200, GRAPHQL_RESPONSE_JSON)
    assert anonymous.json()["data"] == {"me": None}

    xml = await client.post("/api/graphql", json={"query": ME}, headers={"accept": "application/xml"})
    assert xml.status_code == 406 and GRAPHQL_RESPONSE_JSON in xml.json()["errors"][0]["message"]
