"""``fleetStatus`` in the admin API: what the sync worker recorded, as each caller may see it.

The rows are written here as the worker's status sink writes them (tests/portal/sync/test_worker.py drives the real
worker into them); this file is about the read path and who sees what.
"""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from portal.models import Cluster, ClusterSyncStatus, Lifecycle, SyncState, Team, utcnow
from tests.factories import make_product
from tests.portal.api.conftest import Gql, Person, codes

QUERY = """query($cluster: String, $product: String) {
  fleetStatus(cluster: $cluster, product: $product) {
    cluster residency state message reachable versions { component version } appliedGeneration
    products {
      product verdict reason
      upstreams { upstream serving failedOver endpoints { cluster address priority healthy ejected } }
    }
  }
}"""

FAILED_OVER = {
    "upstream": "loom-svc-members",
    "service": "members",
    "serving": "eu-2",
    "endpoints": [
        {"cluster": "eu", "address": "127.0.0.1:7301", "priority": 0, "healthy": False, "ejected": True},
        {"cluster": "eu-2", "address": "127.0.0.11:15443", "priority": 1, "healthy": True, "ejected": False},
    ],
}


@pytest.fixture
def recorded(engine: Engine, people: dict[str, Person]) -> None:
    with Session(engine) as session:
        teams = {t.name: t for t in session.exec(select(Team)).all()}
        eu = session.exec(select(Cluster).where(col(Cluster.name) == "eu")).one()
        products = {
            name: make_product(session, name, team=teams[team], lifecycle=Lifecycle.PUBLISHED, clusters=[eu])
            for name, team in (("alpha-shop", "alpha"), ("beta-shop", "beta"))
        }
        assert eu.id is not None
        session.add(
            ClusterSyncStatus(
                cluster_id=eu.id,
                state=SyncState.SYNCED,
                reachable=True,
                versions={"envoy": "1.40.0"},
                applied_generation=7,
                observed_generation=7,
                last_success_at=utcnow(),
                upstreams=[FAILED_OVER],
            )
        )
        session.add(
            ClusterSyncStatus(
                cluster_id=eu.id, product_id=products["alpha-shop"].id, verdict="Accepted", upstreams=[FAILED_OVER]
            )
        )
        session.add(
            ClusterSyncStatus(
                cluster_id=eu.id,
                product_id=products["beta-shop"].id,
                verdict="Rejected",
                message="route /products/beta-shop claimed twice",
            )
        )
        session.commit()


async def test_a_platform_admin_sees_every_cluster_and_product(
    gql: Gql, people: dict[str, Person], recorded: None
) -> None:
    body = await gql(QUERY, as_=people["platform-admin"])
    (eu,) = body["data"]["fleetStatus"]
    assert (eu["cluster"], eu["state"], eu["reachable"], eu["appliedGeneration"]) == ("eu", "synced", True, 7)
    assert eu["versions"] == [{"component": "envoy", "version": "1.40.0"}]
    shop, beta = eu["products"]
    assert (shop["product"], shop["verdict"]) == ("alpha-shop", "Accepted")
    assert shop["upstreams"][0]["serving"] == "eu-2" and shop["upstreams"][0]["failedOver"] is True
    assert shop["upstreams"][0]["endpoints"] == FAILED_OVER["endpoints"]  # typed, field for field
    assert (beta["verdict"], beta["reason"]) == ("Rejected", "route /products/beta-shop claimed twice")


@pytest.mark.parametrize("who", ["team-admin", "team-member"])
async def test_a_team_sees_its_own_products_only(gql: Gql, people: dict[str, Person], recorded: None, who: str) -> None:
    body = await gql(QUERY, as_=people[who])
    (eu,) = body["data"]["fleetStatus"]
    assert [p["product"] for p in eu["products"]] == ["alpha-shop"]


@pytest.mark.parametrize(("who", "code"), [("consumer", "FORBIDDEN"), ("anonymous", "UNAUTHENTICATED")])
async def test_consumers_and_strangers_see_nothing(
    gql: Gql, people: dict[str, Person], recorded: None, who: str, code: str
) -> None:
    body = await gql(QUERY, as_=people[who])
    assert codes(body) == [code] and body["data"] is None


async def test_filters_and_unknown_names(gql: Gql, people: dict[str, Person], recorded: None) -> None:
    admin = people["platform-admin"]
    one = await gql(QUERY, {"product": "beta-shop"}, as_=admin)
    assert [p["product"] for p in one["data"]["fleetStatus"][0]["products"]] == ["beta-shop"]
    assert codes(await gql(QUERY, {"cluster": "mars"}, as_=admin)) == ["NOT_FOUND"]
    assert codes(await gql(QUERY, {"product": "nope"}, as_=admin)) == ["NOT_FOUND"]
