"""Queries through the real portal app: every entity is readable, private things only by who may see them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from portal.applications import create_api_key, create_application
from portal.authorization import Actor
from portal.models import Lifecycle, SubscriptionState
from tests.factories import (
    make_deployment,
    make_plan,
    make_product,
    make_service,
    make_subscription,
)
from tests.portal.api.conftest import Gql, Person, codes, user_id

ENTITIES = """
query {
  me { name memberships { team role } }
  teams { name placements { cluster namespaces } members { user role } }
  users { name memberships { team role } }
  clusters { name residency gloo { target namespace } labels { key value } syncStatus { state } }
  services {
    name team protocol currentVersion versions { version schemaHash createdBy } deployments { cluster address }
  }
  products {
    name team currentVersion plans
    versions { version lifecycle routing { clusters residency } rest { method path operation }
    sources { service serviceVersion transforms { prefix hide renameTypes { from to } } } } }
  plans { name rateLimitRequests rateLimitPerSeconds authKinds autoApprove }
  applications { name owner credentials { kind prefix clientId } subscriptions { product plan state } }
  subscriptions { application product plan state }
  syncStatus { cluster state }
  auditEvents(limit: 5) { action outcome }
  tokens { name prefix }
}
"""


def _catalog(engine: Engine, people: dict[str, Person]) -> str:
    """A service deployed in eu, a published product built from it and a plan; carl owns an app with a key."""
    with Session(engine, expire_on_commit=False) as session:
        from sqlmodel import col, select

        from portal.models import Cluster, Team

        alpha = session.exec(select(Team).where(col(Team.name) == "alpha")).one()
        eu = session.exec(select(Cluster).where(col(Cluster.name) == "eu")).one()
        service = make_service(session, "inventory", team=alpha)
        make_deployment(session, service, eu)
        product = make_product(
            session, "shop", team=alpha, lifecycle=Lifecycle.PUBLISHED, sources=[service], clusters=[eu]
        )
        plan = make_plan(session, "gold", products=[product])
        carl = Actor(user_id(engine, "carl"), "carl")
        app = create_application(session, carl, name="carl-app")
        issued = create_api_key(session, carl, app, name="k1")
        make_subscription(session, app, product, plan, state=SubscriptionState.APPROVED)
        session.commit()
        return issued.secret


async def test_every_entity_is_readable(gql: Gql, people: dict[str, Person], engine: Engine) -> None:
    secret = _catalog(engine, people)
    body = await gql(ENTITIES, as_=people["platform-admin"])
    assert "errors" not in body, body
    data = body["data"]
    assert data["me"]["name"] == "root"
    alpha = next(t for t in data["teams"] if t["name"] == "alpha")
    assert alpha["placements"] == [{"cluster": "eu", "namespaces": ["alpha"]}]
    assert {"user": "mike", "role": "team-member"} in alpha["members"]
    assert [s["name"] for s in data["services"]] == ["inventory"]
    assert data["services"][0]["deployments"] == [{"cluster": "eu", "address": "http://127.0.0.1:7000"}]
    [product] = data["products"]
    assert product["plans"] == ["gold"] and product["versions"][0]["lifecycle"] == "published"
    no_transforms: dict[str, Any] = {"prefix": None, "hide": [], "renameTypes": []}
    assert product["versions"][0]["sources"] == [
        {"service": "inventory", "serviceVersion": None, "transforms": no_transforms}
    ]
    assert product["versions"][0]["routing"] == {"clusters": ["eu"], "residency": None}
    [app] = data["applications"]
    assert app["owner"] == "carl"
    assert app["credentials"][0]["kind"] == "api_key"
    assert app["subscriptions"] == [{"product": "shop", "plan": "gold", "state": "approved"}]
    assert secret not in str(body)  # secrets never come back
    assert data["plans"][0]["rateLimitRequests"] == 60


async def test_private_things_are_filtered_by_actor(gql: Gql, people: dict[str, Person], engine: Engine) -> None:
    _catalog(engine, people)
    query = "{ applications { name } subscriptions { application } auditEvents { actor } tokens { name } }"
    bob = (await gql(query, as_=people["other-team-admin"]))["data"]
    assert bob["applications"] == [] and bob["subscriptions"] == []
    assert all(e["actor"] == "bob" for e in bob["auditEvents"])
    assert bob["tokens"] == [{"name": "test"}]
    alice = (await gql(query, as_=people["team-admin"]))["data"]
    assert alice["subscriptions"] == [{"application": "carl-app"}]  # a subscription to her team's product
    assert alice["applications"] == []
    carl = (await gql(query, as_=people["consumer"]))["data"]
    assert carl["applications"] == [{"name": "carl-app"}]


async def test_anonymous_reads_are_unauthenticated(gql: Gql, people: dict[str, Person]) -> None:
    body = await gql("{ teams { name } }")
    assert body["data"] is None
    assert codes(body) == ["UNAUTHENTICATED"]
    assert "Bearer" in body["errors"][0]["message"]


async def test_resources_query_returns_apply_shape(gql: Gql, people: dict[str, Person]) -> None:
    body = await gql('{ resources(kind: "Team", name: "alpha") }', as_=people["viewer"])
    assert "errors" not in body, body
    [team] = body["data"]["resources"]
    assert team["kind"] == "Team" and team["metadata"]["name"] == "alpha"


async def test_tokens_of_others_only_for_platform_admins(gql: Gql, people: dict[str, Person]) -> None:
    query = '{ tokens(user: "mike") { name revokedAt } }'
    assert codes(await gql(query, as_=people["team-admin"])) == ["FORBIDDEN"]
    assert (await gql(query, as_=people["platform-admin"]))["data"]["tokens"] == [{"name": "test", "revokedAt": None}]
    assert (await gql(query, as_=people["team-member"]))["data"]["tokens"] == [{"name": "test", "revokedAt": None}]


async def test_the_catalog_filters_products_by_tag(gql: Gql, people: dict[str, Person], engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        from sqlmodel import col, select

        from portal.models import Team

        alpha = session.exec(select(Team).where(col(Team.name) == "alpha")).one()
        service = make_service(session, "inventory", team=alpha)
        make_product(session, "shop", team=alpha, sources=[service], tags=["retail", "payments"])
        make_product(session, "ledger", team=alpha, sources=[service], tags=["payments"], display_name="Ledger")
        make_product(session, "stock", team=alpha, sources=[service])
        session.commit()
    query = "query($tag: String) { products(tag: $tag) { name displayName tags } }"
    everything = (await gql(query, as_=people["consumer"]))["data"]["products"]
    assert [p["name"] for p in everything] == ["ledger", "shop", "stock"]
    payments = (await gql(query, {"tag": "payments"}, as_=people["consumer"]))["data"]["products"]
    assert payments == [
        {"name": "ledger", "displayName": "Ledger", "tags": ["payments"]},
        {"name": "shop", "displayName": "", "tags": ["retail", "payments"]},
    ]
    assert (await gql(query, {"tag": "nothing"}, as_=people["consumer"]))["data"]["products"] == []
