"""A consumer's whole journey through the admin API: application, credential, subscription, decisions."""

from __future__ import annotations

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from portal.app import create_app
from portal.models import Lifecycle, Team
from portal.settings import Mode, Settings
from tests.factories import make_plan, make_product
from tests.portal.api.conftest import Gql, Person, codes

SUB = "{ id state plan decidedBy }"


def _catalog(engine: Engine) -> None:
    with Session(engine) as session:
        alpha = session.exec(select(Team).where(col(Team.name) == "alpha")).one()
        make_product(session, "shop", team=alpha, lifecycle=Lifecycle.PUBLISHED)
        make_plan(session, "gold", auto_approve=False)
        make_plan(session, "free", auto_approve=True)
        session.commit()


async def test_consumer_journey(gql: Gql, people: dict[str, Person], engine: Engine) -> None:
    _catalog(engine)
    carl, alice = people["consumer"], people["team-admin"]
    app = await gql('mutation { createApplication(name: "carl-app") { id owner } }', as_=carl)
    app_id = app["data"]["createApplication"]["id"]
    key = await gql(
        f'mutation {{ createApiKey(applicationId: {app_id}, name: "k") {{ secret credential {{ id }} }} }}', as_=carl
    )
    assert key["data"]["createApiKey"]["secret"].startswith("lk_")
    credential_id = key["data"]["createApiKey"]["credential"]["id"]

    request = f'mutation {{ requestSubscription(applicationId: {app_id}, product: "shop", plan: "gold") {SUB} }}'
    requested = (await gql(request, as_=carl))["data"]["requestSubscription"]
    assert requested["state"] == "requested"
    sub_id = requested["id"]

    # alice, team admin of the product's team, sees the request and approves it
    pending = await gql('{ subscriptions(state: "requested") { id application } }', as_=alice)
    assert pending["data"]["subscriptions"] == [{"id": sub_id, "application": "carl-app"}]
    approved = await gql(f"mutation {{ approveSubscription(id: {sub_id}) {SUB} }}", as_=alice)
    assert approved["data"]["approveSubscription"] == {
        "id": sub_id,
        "state": "approved",
        "plan": "gold",
        "decidedBy": "alice",
    }

    twice = await gql(f"mutation {{ approveSubscription(id: {sub_id}) {SUB} }}", as_=alice)
    assert codes(twice) == ["CONFLICT"]
    assert "is approved; only a requested subscription can become approved" in twice["errors"][0]["message"]

    # the credential goes, the subscription stays
    revoked = await gql(f"mutation {{ revokeCredential(id: {credential_id}) {{ revokedAt }} }}", as_=carl)
    assert revoked["data"]["revokeCredential"]["revokedAt"] is not None
    mine = await gql(
        f"{{ application(id: {app_id}) {{ subscriptions {{ state }} credentials {{ revokedAt }} }} }}", as_=carl
    )
    assert mine["data"]["application"]["subscriptions"] == [{"state": "approved"}]

    # the consumer cancels; then subscribes again under the auto-approving plan
    cancelled = await gql(f"mutation {{ revokeSubscription(id: {sub_id}) {SUB} }}", as_=carl)
    assert cancelled["data"]["revokeSubscription"]["state"] == "revoked"
    free = request.replace('"gold"', '"free"')
    auto = (await gql(free, as_=carl))["data"]["requestSubscription"]
    assert auto["state"] == "approved" and auto["decidedBy"] == "plan:free"


async def test_someone_elses_application_is_invisible(gql: Gql, people: dict[str, Person]) -> None:
    app = await gql('mutation { createApplication(name: "private") { id } }', as_=people["consumer"])
    app_id = app["data"]["createApplication"]["id"]
    peek = await gql(f"{{ application(id: {app_id}) {{ name }} }}", as_=people["other-team-admin"])
    assert codes(peek) == ["NOT_FOUND"]
    keys = await gql(f"{{ credentials(applicationId: {app_id}) {{ id }} }}", as_=people["other-team-admin"])
    assert codes(keys) == ["NOT_FOUND"]


async def test_graphiql_only_in_development(engine: Engine, settings: Settings) -> None:
    production = settings.model_copy(update={"mode": Mode.PRODUCTION})
    for mode_settings, expected in ((settings, 200), (production, 404)):
        app = create_app(mode_settings, engine=engine)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal.test") as client:
            page = await client.get("/api/graphql", headers={"accept": "text/html"})
        assert page.status_code == expected
