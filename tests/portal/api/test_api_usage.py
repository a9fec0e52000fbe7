"""``subscriptionUsage``: a consumer's use of the plan's limit, read from the gateway's counter in the real Redis
(127.0.0.1:6379), counted there by the gateway's own rate limiter (``stitcher.ratelimit.RedisRateLimiter``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from portal.api.usage import counter_key
from portal.app import create_app
from portal.applications import create_application
from portal.authorization import Actor
from portal.models import Cluster, SubscriptionState, Team
from portal.settings import RedisSettings, Settings
from stitcher.ratelimit import RedisRateLimiter
from stitcher.settings import GatewaySettings
from tests.factories import make_plan, make_product, make_subscription
from tests.portal.api.conftest import Person, codes, user_id

REDIS = "redis://127.0.0.1:6379/0"
QUERY = """query($id: Int!) {
  subscriptionUsage(id: $id) { known reason used limit windowSeconds resetsInSeconds countedFor }
}"""


def _subscription(engine: Engine, product: str) -> int:
    """carl's application, approved on plan gold (3 requests a minute) of ``product`` (team alpha's)."""
    with Session(engine, expire_on_commit=False) as session:
        alpha = session.exec(select(Team).where(col(Team.name) == "alpha")).one()
        eu = session.exec(select(Cluster).where(col(Cluster.name) == "eu")).one()
        row = make_product(session, product, team=alpha, clusters=[eu])
        plan = make_plan(session, "gold", products=[row], requests=3, per_seconds=60)
        carl = Actor(user_id(engine, "carl"), "carl")
        app = create_application(session, carl, name="carl-app")
        sub = make_subscription(session, app, row, plan, state=SubscriptionState.APPROVED)
        session.commit()
        assert sub.id is not None
        return sub.id


async def _gql(settings: Settings, engine: Engine, person: Person, variables: dict[str, Any]) -> dict[str, Any]:
    app = create_app(settings, engine=engine)
    async with (
        app.router.lifespan_context(app),  # creates the app's Redis client
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal.test") as client,
    ):
        response = await client.post(
            "/api/graphql",
            json={"query": QUERY, "variables": variables},
            headers={"authorization": f"Bearer {person.token}"},
        )
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
async def product() -> AsyncIterator[str]:
    """A product name of this test only (the counters live in the one Redis every test process shares)."""
    name = f"shop-{uuid.uuid4().hex[:8]}"
    yield name
    client = Redis.from_url(REDIS)
    try:
        await client.delete(f"loom:ratelimit:{counter_key('carl', 'gold', name)}")
    finally:
        await client.aclose()


async def test_usage_is_what_the_gateway_counted_in_redis(
    engine: Engine, settings: Settings, people: dict[str, Person], product: str
) -> None:
    subscription = _subscription(engine, product)
    with_redis = settings.model_copy(update={"redis": RedisSettings(url=REDIS)})
    before = await _gql(with_redis, engine, people["consumer"], {"id": subscription})
    assert before["data"]["subscriptionUsage"] == {
        "known": True,
        "reason": None,
        "used": 0,
        "limit": 3,
        "windowSeconds": 60,
        "resetsInSeconds": None,
        "countedFor": f"every application of carl on plan gold of {product}",
    }
    limiter = RedisRateLimiter(REDIS, key_prefix=with_redis.gateway.options().rate_limit_key_prefix)
    try:  # the gateway's own counting, under the key it uses for carl on gold of the product
        for _ in range(2):
            await limiter.hit(counter_key("carl", "gold", product), 3, 60)
    finally:
        await limiter.close()
    after = (await _gql(with_redis, engine, people["team-admin"], {"id": subscription}))["data"]["subscriptionUsage"]
    assert after["known"] is True and after["used"] == 2
    assert 0 < after["resetsInSeconds"] <= 60


async def test_an_installation_reads_only_the_counters_of_its_own_namespace(
    engine: Engine, settings: Settings, people: dict[str, Person], product: str
) -> None:
    """Two installations share one Redis, each with its LOOM_GATEWAY_RATE_LIMIT_KEY_PREFIX: what the gateways of one
    count is not the other's use."""
    subscription = _subscription(engine, product)
    run = uuid.uuid4().hex
    eu, us = (
        settings.model_copy(
            update={
                "redis": RedisSettings(url=REDIS),
                "gateway": GatewaySettings(rate_limit_key_prefix=f"loom-{run}-{name}:"),
            }
        )
        for name in ("eu", "us")
    )
    limiter = RedisRateLimiter(REDIS, key_prefix=eu.gateway.options().rate_limit_key_prefix)
    try:
        await limiter.hit(counter_key("carl", "gold", product), 3, 60)
    finally:
        await limiter.close()
    used = []
    for installation in (eu, us):
        body = await _gql(installation, engine, people["consumer"], {"id": subscription})
        used.append(body["data"]["subscriptionUsage"]["used"])
    assert used == [1, 0]
    client = Redis.from_url(REDIS)
    try:
        await client.delete(f"loom-{run}-eu:{counter_key('carl', 'gold', product)}")
    finally:
        await client.aclose()


async def test_without_redis_usage_is_not_known_and_says_why(
    engine: Engine, settings: Settings, people: dict[str, Person], product: str
) -> None:
    subscription = _subscription(engine, product)
    body = await _gql(settings.model_copy(update={"redis": RedisSettings(url=None)}), engine, people["consumer"],
                      {"id": subscription})  # fmt: skip
    usage = body["data"]["subscriptionUsage"]
    assert usage["known"] is False and usage["used"] is None and usage["limit"] == 3
    assert "LOOM_REDIS_URL is not set" in usage["reason"]


async def test_a_stranger_learns_nothing_of_a_subscription(
    engine: Engine, settings: Settings, people: dict[str, Person], product: str
) -> None:
    subscription = _subscription(engine, product)
    body = await _gql(settings, engine, people["other-team-admin"], {"id": subscription})
    assert codes(body) == ["NOT_FOUND"]
