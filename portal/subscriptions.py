"""Subscriptions: a consumer's application subscribes to a product under a plan.

A subscription is requested by the application's owner. The plan approves it at once (``Plan.auto_approve``) or a
team admin of the product's team approves or rejects it; an approved subscription can be revoked, by that team or
by the consumer. No other state change is legal. Subscriptions belong to the application, not to a credential, so
revoking or deleting a credential leaves them alone.

Every function authorizes and audits through ``portal.audit.authorize_and_audit`` and leaves the commit to the
caller (one transaction per request or per ``apply``); a denial is committed on its own before it is raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sqlmodel import col, select

from portal.audit import authorize_and_audit
from portal.authorization import Actor, Target
from portal.db import bump_generation, find_by_name, name_of
from portal.errors import Conflict, Invalid, NotFound
from portal.models import (
    Application,
    Lifecycle,
    Plan,
    Product,
    ProductPlan,
    ProductVersion,
    Subscription,
    SubscriptionState,
    Team,
    utcnow,
)

if TYPE_CHECKING:
    from sqlmodel import Session

__all__ = [
    "TRANSITIONS",
    "approve",
    "reject",
    "request",
    "revoke",
    "subscription_target",
]

TRANSITIONS: Mapping[SubscriptionState, frozenset[SubscriptionState]] = {
    SubscriptionState.REQUESTED: frozenset({SubscriptionState.APPROVED, SubscriptionState.REJECTED}),
    SubscriptionState.APPROVED: frozenset({SubscriptionState.REVOKED}),
    SubscriptionState.REJECTED: frozenset(),
    SubscriptionState.REVOKED: frozenset(),
}
"""The legal state changes; anything else is refused with ``Conflict``."""

_LIVE = (SubscriptionState.REQUESTED, SubscriptionState.APPROVED)


def _application(session: Session, application_id: int) -> Application:
    app = session.get(Application, application_id)
    if app is None:
        raise NotFound(f"application {application_id} does not exist")
    return app


def _team_name(session: Session, team_id: int) -> str:
    return name_of(session, Team, team_id) or f"#{team_id}"


def subscription_target(session: Session, subscription: Subscription) -> Target:
    """The authorization target of a subscription: its team is the product's, its owner the application's."""
    product = session.get(Product, subscription.product_id)
    app = session.get(Application, subscription.application_id)
    return Target(
        kind="subscription",
        name=str(subscription.id),
        team=_team_name(session, product.team_id) if product is not None else None,
        owner_user_id=app.owner_id if app is not None else None,
    )


def _check_subscribable(session: Session, product: Product, plan: Plan) -> None:
    version = session.exec(
        select(ProductVersion).where(
            col(ProductVersion.product_id) == product.id, col(ProductVersion.version) == product.current_version
        )
    ).first()
    if version is None or version.lifecycle is not Lifecycle.PUBLISHED:
        state = version.lifecycle.value if version is not None else "not versioned"
        raise Invalid(
            f"product '{product.name}' is {state}; only a published product takes new subscriptions",
            path="product",
        )
    offered = session.exec(
        select(Plan.name)
        .join(ProductPlan, col(ProductPlan.plan_id) == col(Plan.id))
        .where(col(ProductPlan.product_id) == product.id)
    ).all()
    # A product that names no plans offers every plan.
    if offered and plan.name not in offered:
        raise Invalid(
            f"product '{product.name}' does not offer plan '{plan.name}'; choose one of: {', '.join(sorted(offered))}",
            path="plan",
        )


def request(session: Session, actor: Actor, application_id: int, product: str, plan: str) -> Subscription:
    """Request a subscription of an application to a product under a plan; approved at once if the plan says so.

    Raises ``NotFound`` for an unknown application, product or plan, ``Invalid`` for a product that is not
    published or does not offer the plan, ``Conflict`` when the application already has a live subscription to
    the product, ``Forbidden`` unless the actor owns the application (or is a platform admin).
    """
    app = _application(session, application_id)
    product_row = find_by_name(session, Product, "product", product)
    plan_row = find_by_name(session, Plan, "plan", plan)
    target = Target(
        kind="subscription",
        name=f"{app.name}/{product_row.name}",
        team=_team_name(session, product_row.team_id),
        owner_user_id=app.owner_id,
    )
    summary = {"application": app.name, "application_id": app.id, "product": product_row.name, "plan": plan_row.name}
    authorize_and_audit(session, actor, "subscription.request", target, summary)
    _check_subscribable(session, product_row, plan_row)
    live = session.exec(
        select(Subscription).where(
            col(Subscription.application_id) == app.id,
            col(Subscription.product_id) == product_row.id,
            col(Subscription.state).in_(_LIVE),
        )
    ).first()
    if live is not None:
        raise Conflict(
            f"application '{app.name}' already has a subscription ({live.id}, {live.state.value}) to product "
            f"'{product_row.name}'; revoke it before subscribing again"
        )
    assert app.id is not None and product_row.id is not None and plan_row.id is not None  # loaded rows have ids
    now = utcnow()
    sub = Subscription(
        application_id=app.id,
        product_id=product_row.id,
        plan_id=plan_row.id,
        state=SubscriptionState.REQUESTED,
        requested_by=actor.name,
        created_at=now,
        updated_at=now,
    )
    if plan_row.auto_approve:
        sub.state = SubscriptionState.APPROVED
        sub.decided_by = f"plan:{plan_row.name}"
        sub.decided_at = now
    session.add(sub)
    session.flush()
    bump_generation(session)  # gateways enforce subscriptions: they must see the new one
    return sub


def _get(session: Session, subscription_id: int) -> Subscription:
    sub = session.get(Subscription, subscription_id)
    if sub is None:
        raise NotFound(f"subscription {subscription_id} does not exist")
    return sub


def _transition(
    session: Session, actor: Actor, subscription_id: int, new_state: SubscriptionState, action: str
) -> Subscription:
    sub = _get(session, subscription_id)
    target = subscription_target(session, sub)
    summary = {"from": sub.state.value, "to": new_state.value}
    authorize_and_audit(session, actor, action, target, summary)
    if new_state not in TRANSITIONS[sub.state]:
        legal_from = " or ".join(sorted(s.value for s, to in TRANSITIONS.items() if new_state in to))
        article = "an" if legal_from[0] in "aeiou" else "a"
        raise Conflict(
            f"subscription {sub.id} is {sub.state.value}; only {article} {legal_from} subscription "
            f"can become {new_state.value}"
        )
    now = utcnow()
    sub.state = new_state
    sub.decided_by = actor.name
    sub.decided_at = now
    sub.updated_at = now
    session.add(sub)
    session.flush()
    bump_generation(session)
    return sub


def approve(session: Session, actor: Actor, subscription_id: int) -> Subscription:
    """Approve a requested subscription (a team admin of the product's team)."""
    return _transition(session, actor, subscription_id, SubscriptionState.APPROVED, "subscription.approve")


def reject(session: Session, actor: Actor, subscription_id: int) -> Subscription:
    """Reject a requested subscription (a team admin of the product's team)."""
    return _transition(session, actor, subscription_id, SubscriptionState.REJECTED, "subscription.reject")


def revoke(session: Session, actor: Actor, subscription_id: int) -> Subscription:
    """Revoke an approved subscription (a team admin of the product's team, or the application's owner)."""
    return _transition(session, actor, subscription_id, SubscriptionState.REVOKED, "subscription.revoke")
