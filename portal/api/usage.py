"""A subscription's current use of its plan's rate limit, read from the gateway's own counter.

The gateway counts requests per consumer (the application's owner), plan and product in a fixed window
(:mod:`stitcher.ratelimit`): in Redis when ``LOOM_REDIS_URL`` is set, shared by every replica, else in each
gateway's memory. The portal reads the Redis counter (``GET`` and ``PTTL`` of the gateway's own key, nothing
written); without Redis it says that usage is not known rather than guessing.
"""

from __future__ import annotations

from dataclasses import dataclass

import strawberry
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlmodel import Session
from strawberry.types import Info

from portal import models as m
from portal.api.context import Context, run
from portal.authorization import Actor
from portal.errors import NotFound

__all__ = ["PlanUsage", "counter_key", "subscription_usage"]


@strawberry.type(description="How much of its plan's rate limit a consumer has used, as the gateway counts it.")
class PlanUsage:
    known: bool = strawberry.field(description="False when the portal cannot read the gateway's counter (see reason).")
    reason: str | None
    used: int | None = strawberry.field(description="Requests counted in the current window (0: none yet).")
    limit: int
    window_seconds: int
    resets_in_seconds: float | None = strawberry.field(description="When the current window ends; null: no window.")
    counted_for: str = strawberry.field(description="Who shares the allowance: all of one owner's applications.")


def counter_key(owner: str, plan: str, product: str) -> str:
    """The gateway's key for one consumer on one plan of one product (``stitcher.app``: ``consumer:plan:product``,
    the consumer being the owner of the ``owner/name`` application)."""
    return f"{owner}:{plan}:{product}"


@dataclass(frozen=True, slots=True)
class _Subscribed:
    owner: str
    plan: str
    product: str
    limit: int
    window_seconds: int


def _subscribed(session: Session, actor: Actor, subscription_id: int) -> _Subscribed:
    from portal.api.queries import visible_subscriptions  # the same rule as the subscriptions query

    row = session.exec(visible_subscriptions(session, actor).where(m.Subscription.id == subscription_id)).first()
    if row is None:
        raise NotFound(f"subscription {subscription_id} does not exist or is not yours", path="id")
    application = session.get(m.Application, row.application_id)
    owner = session.get(m.User, application.owner_id) if application is not None else None
    plan = session.get(m.Plan, row.plan_id)
    product = session.get(m.Product, row.product_id)
    assert owner is not None and plan is not None and product is not None
    return _Subscribed(owner.name, plan.name, product.name, plan.rate_limit_requests, plan.rate_limit_per_seconds)


async def subscription_usage(info: Info[Context, None], id: int) -> PlanUsage:
    """The use of the plan's limit by the subscription's consumer in the current window."""
    found = await run(info, lambda session, actor: _subscribed(session, actor, id))
    settings = info.context.settings
    usage = PlanUsage(
        known=False,
        reason=None,
        used=None,
        limit=found.limit,
        window_seconds=found.window_seconds,
        resets_in_seconds=None,
        counted_for=f"every application of {found.owner} on plan {found.plan} of {found.product}",
    )
    if not settings.redis.url:
        usage.reason = (
            "the gateway counts requests in its own memory (LOOM_REDIS_URL is not set), which the portal cannot read"
        )
        return usage
    key = settings.gateway.options().rate_limit_key_prefix + counter_key(found.owner, found.plan, found.product)
    client: Redis = info.context.request.app.state.redis  # the app's one client, created in its lifespan
    try:
        count, ttl_ms = await client.get(key), await client.pttl(key)
    except RedisError as exc:
        usage.reason = f"the gateway's counters in Redis could not be read ({type(exc).__name__}); try again"
        return usage
    usage.known = True
    usage.used = int(count or 0)
    usage.resets_in_seconds = ttl_ms / 1000 if isinstance(ttl_ms, int) and ttl_ms > 0 else None
    return usage
