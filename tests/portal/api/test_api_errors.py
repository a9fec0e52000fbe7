"""Errors: every error has extensions.code and a message that says what to fix; bad input never gives a 500."""

from __future__ import annotations

from datetime import timedelta

import httpx
from graphql import GraphQLError
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from portal.accounts import create_token, find_user, revoke_token
from portal.api.errors import format_error
from portal.errors import Conflict
from portal.models import AuditEvent, AuditOutcome, utcnow
from tests.portal.api.conftest import SYSTEM, Gql, Person, audit_after, codes, last_audit_id


async def test_bad_requests_are_4xx_not_5xx(client: httpx.AsyncClient, people: dict[str, Person]) -> None:
    auth = {"authorization": f"Bearer {people['platform-admin'].token}"}
    not_json = await client.post(
        "/api/graphql", content=b"{not json", headers={**auth, "content-type": "application/json"}
    )
    assert 400 <= not_json.status_code < 500
    no_query = await client.post("/api/graphql", json={"variables": {}}, headers=auth)
    assert 400 <= no_query.status_code < 500
    via_get = await client.get("/api/graphql", params={"query": 'mutation { createApplication(name: "x") { id } }'})
    assert 400 <= via_get.status_code < 500
    as_text = await client.post(
        "/api/graphql", content=b'{"query": "{ me { name } }"}', headers={**auth, "content-type": "text/plain"}
    )
    # each is a GraphQL error with a code and what to send instead (Strawberry answered in plain text, e.g.
    # "Unsupported content type")
    for answer in (not_json, via_get, as_text):
        assert answer.headers["content-type"] == "application/json", answer.text
        [error] = answer.json()["errors"]
        assert error["extensions"]["code"] == "INVALID" and "application/json" in error["message"], error
    assert as_text.json()["errors"][0]["message"].startswith("the admin API reads JSON only")


async def test_query_errors_are_invalid(gql: Gql, people: dict[str, Person]) -> None:
    admin = people["platform-admin"]
    for query, variables in [
        ("{ teams { name ", {}),  # syntax
        ("{ teams { nope } }", {}),  # unknown field
        ("mutation($id: Int!) { approveSubscription(id: $id) { id } }", {"id": "seven"}),  # wrong type
        ("mutation($id: Int!) { approveSubscription(id: $id) { id } }", {}),  # missing variable
        ('{ subscriptions(state: "pending") { id } }', {}),  # unknown enum value
    ]:
        body = await gql(query, variables, as_=admin)
        assert codes(body) == ["INVALID"], (query, body)
        assert body["errors"][0]["message"]


async def test_service_errors_keep_their_code_and_message(gql: Gql, people: dict[str, Person]) -> None:
    admin = people["platform-admin"]
    missing = await gql("mutation { approveSubscription(id: 4242) { id } }", as_=admin)
    assert codes(missing) == ["NOT_FOUND"]
    assert "subscription 4242 does not exist" in missing["errors"][0]["message"]

    create = 'mutation { createApplication(name: "twice") { id } }'
    assert "errors" not in await gql(create, as_=admin)
    again = await gql(create, as_=admin)
    assert codes(again) == ["CONFLICT"]
    assert "already have an application named 'twice'" in again["errors"][0]["message"]

    set_admin = 'mutation { setMembership(user: "mike", team: "alpha", role: "platform-admin") { name } }'
    bad_role = await gql(set_admin, as_=admin)
    assert codes(bad_role) == ["INVALID"]
    assert bad_role["errors"][0]["extensions"]["field"] == "role"
    assert "is not a team role: use one of team-admin, team-member, viewer" in bad_role["errors"][0]["message"]


async def test_bad_tokens_are_unauthenticated_and_audited(gql: Gql, people: dict[str, Person], engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        mike = find_user(session, "mike")
        expired = create_token(session, SYSTEM, mike, name="old", expires_in_days=1, now=utcnow() - timedelta(days=2))
        revoked = create_token(session, SYSTEM, mike, name="gone")
        revoke_token(session, SYSTEM, revoked.row.prefix)
        session.commit()
    mutation = 'mutation { createApplication(name: "sneaky") { id } }'
    for token, expected in [
        (expired.token, "expired"),
        (revoked.token, "was revoked"),
        ("lpat_nonsense", "malformed personal access token"),
    ]:
        body = await gql(mutation, as_=Person("mike", token))
        assert codes(body) == ["UNAUTHENTICATED"], body
        assert expected in body["errors"][0]["message"]
        query = await gql("{ teams { name } }", as_=Person("mike", token))
        assert codes(query) == ["UNAUTHENTICATED"]
    with Session(engine) as session:
        denied = session.exec(
            select(AuditEvent).where(
                col(AuditEvent.action) == "application.create", col(AuditEvent.outcome) == AuditOutcome.DENIED
            )
        ).all()
        assert len(denied) == 3
        assert all(e.actor == "anonymous" and e.via == "api" and e.request_id for e in denied)


async def test_request_id_is_recorded(client: httpx.AsyncClient, people: dict[str, Person], engine: Engine) -> None:
    response = await client.post(
        "/api/graphql",
        json={"query": 'mutation { createApplication(name: "traced") { id } }'},
        headers={"authorization": f"Bearer {people['team-member'].token}", "x-request-id": "trace-42"},
    )
    assert "errors" not in response.json()
    with Session(engine) as session:
        event = session.exec(select(AuditEvent).where(col(AuditEvent.action) == "application.create")).one()
    assert (event.request_id, event.actor, event.via) == ("trace-42", "mike", "api")


def test_unexpected_errors_hide_their_detail() -> None:
    """format_error is our seam: an exception we did not expect must not leak its text or a traceback."""
    internal = format_error(GraphQLError("boom", original_error=RuntimeError("password=hunter2")), "rid-1")
    assert internal == {
        "message": "internal error; report request id rid-1 to the operators",
        "extensions": {"code": "INTERNAL", "requestId": "rid-1"},
    }
    known = format_error(GraphQLError("x", original_error=Conflict("taken", path="name")), "rid-2")
    assert known["extensions"] == {
        "code": "CONFLICT",
        "field": "name",
        "location": {"file": None, "document": None, "kind": None, "name": None, "field": "name"},
        "detail": "taken",
    }
    assert known["message"] == "name: taken"


async def test_secrets_never_reach_the_audit_log(gql: Gql, people: dict[str, Person], engine: Engine) -> None:
    admin = people["platform-admin"]
    created = await gql(
        'mutation { createUser(name: "sam", role: "viewer", password: "correct horse battery") { token } }',
        as_=admin,
    )
    app = await gql('mutation { createApplication(name: "vault") { id } }', as_=admin)
    app_id = app["data"]["createApplication"]["id"]
    key = await gql(f"mutation {{ createApiKey(applicationId: {app_id}) {{ secret }} }}", as_=admin)
    client = await gql(f"mutation {{ createOAuthClient(applicationId: {app_id}) {{ secret }} }}", as_=admin)
    token = await gql("mutation { createToken { token } }", as_=admin)
    secrets = [
        "correct horse battery",
        created["data"]["createUser"]["token"],
        key["data"]["createApiKey"]["secret"],
        client["data"]["createOAuthClient"]["secret"],
        token["data"]["createToken"]["token"],
    ]
    events = await gql("{ auditEvents(limit: 500) { action summary { key value } targetName } }", as_=admin)
    text = str(events)
    assert "credential.create" in text and "user.create" in text
    for secret in secrets:
        assert secret not in text
    with Session(engine) as session:
        stored = str([(e.summary, e.target_name) for e in session.exec(select(AuditEvent))])
    for secret in secrets:
        assert secret not in stored


async def test_a_refused_mutation_with_an_over_long_kind_is_audited_not_internal(
    gql: Gql, people: dict[str, Person], engine: Engine
) -> None:
    """Issue 6 (High 3), on both databases: the refusal is the answer, and it is recorded with bounded fields."""
    before = last_audit_id(engine)
    body = await gql(
        "mutation($k: String!, $n: String!) { deleteResource(kind: $k, name: $n) }", {"k": "K" * 300_000, "n": "x"}
    )
    assert codes(body) == ["UNAUTHENTICATED"]
    [event] = audit_after(engine, before)
    assert event.outcome == "denied" and len(event.target_kind) <= 63
