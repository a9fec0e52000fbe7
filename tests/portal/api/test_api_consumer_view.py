"""What a consumer (a signed-in user with no role) may read through the admin API: the catalog and themselves, not
every user's roles and email, deployment addresses or cluster settings (issue 6). Staff still read all of it."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from portal.models import User
from tests.factories import make_application
from tests.portal.api.conftest import Gql, Person, codes


async def test_a_consumer_sees_the_catalog_and_themselves_only(gql: Gql, people: dict[str, Person]) -> None:
    carl = people["consumer"]
    users = await gql("{ users { name } }", as_=carl)
    assert users["data"]["users"] == [{"name": "carl"}]
    assert (await gql('{ user(name: "carl") { name } }', as_=carl))["data"]["user"] == {"name": "carl"}
    assert codes(await gql('{ user(name: "root") { name } }', as_=carl)) == ["NOT_FOUND"]
    assert codes(await gql('{ user(name: "nobody") { name } }', as_=carl)) == ["NOT_FOUND"]  # alike
    for query in (
        "{ clusters { name } }",
        '{ cluster(name: "eu") { name } }',
        "{ services { name } }",
        '{ service(name: "x") { name } }',
        "{ syncStatus { state } }",
        '{ resources(kind: "clusters") }',
        '{ resources(kind: "service") }',
    ):
        body = await gql(query, as_=carl)
        assert codes(body) == ["FORBIDDEN"], query
        assert "deployment addresses and cluster settings" in body["errors"][0]["message"]
    assert "errors" not in await gql("{ products { name } plans { name } }", as_=carl)
    assert "errors" not in await gql('{ resources(kind: "products") }', as_=carl)


async def test_staff_still_read_the_platform(gql: Gql, people: dict[str, Person]) -> None:
    for who in ("platform-admin", "team-member", "viewer"):
        body = await gql("{ users { name } clusters { name } services { name } }", as_=people[who])
        assert "errors" not in body, (who, body)
        assert len(body["data"]["users"]) > 1 and body["data"]["clusters"] == [{"name": "eu"}]


async def test_someone_elses_id_answers_exactly_like_a_missing_one(
    gql: Gql, people: dict[str, Person], engine: Engine
) -> None:
    with Session(engine) as session:
        root = session.exec(select(User).where(col(User.name) == "root")).one()
        theirs = make_application(session, "private", owner=root)
        session.commit()
        their_id = theirs.id
    assert their_id is not None
    missing_id = their_id + 1000
    carl = people["consumer"]
    for mutation in (
        "mutation($a: Int!) { deleteApplication(id: $a) { id } }",
        "mutation($a: Int!) { createApiKey(applicationId: $a) { secret } }",
        'mutation($a: Int!) { requestSubscription(applicationId: $a, product: "p", plan: "q") { id } }',
    ):
        seen = [(await gql(mutation, {"a": i}, as_=carl))["errors"][0] for i in (their_id, missing_id)]
        assert [e["extensions"]["code"] for e in seen] == ["NOT_FOUND", "NOT_FOUND"], mutation
        assert seen[0]["message"].replace(str(their_id), "N") == seen[1]["message"].replace(str(missing_id), "N")
        assert "private" not in seen[0]["message"]
