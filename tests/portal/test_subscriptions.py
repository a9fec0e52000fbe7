"""Subscriptions: request (auto-approved by a plan), approve, reject, revoke; only legal state changes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from portal import subscriptions
from portal.applications import create_api_key, revoke_credential
from portal.authorization import Actor, Role
from portal.db import current_generation
from portal.errors import Conflict, Forbidden, Invalid, NotFound
from portal.models import (
    Application,
    AuditEvent,
    AuditOutcome,
    Credential,
    Lifecycle,
    Plan,
    Product,
    Subscription,
    SubscriptionState,
)
from tests.factories import make_application, make_plan, make_product, make_team, make_user


@dataclass
class World:
    product: Product
    manual: Plan
    auto: Plan
    app: Application
    consumer: Actor
    team_admin: Actor
    team_member: Actor


@pytest.fixture
def world(session: Session) -> World:
    team = make_team(session, "alpha")
    product = make_product(session, "shop", team=team, lifecycle=Lifecycle.PUBLISHED)
    manual = make_plan(session, "gold", auto_approve=False)
    auto = make_plan(session, "free", auto_approve=True)
    owner = make_user(session, "carl")
    app = make_application(session, "carl-app", owner=owner)
    session.commit()
    return World(
        product=product,
        manual=manual,
        auto=auto,
        app=app,
        consumer=Actor(owner.id, "carl"),
        team_admin=Actor(900, "alice", team_roles={"alpha": Role.TEAM_ADMIN}),
        team_member=Actor(901, "mike", team_roles={"alpha": Role.TEAM_MEMBER}),
    )


def _app_id(w: World) -> int:
    assert w.app.id is not None
    return w.app.id


def test_request_then_team_admin_approves(session: Session, world: World) -> None:
    before = current_generation(session)
    sub = subscriptions.request(session, world.consumer, _app_id(world), "shop", "gold")
    assert sub.state is SubscriptionState.REQUESTED
    assert sub.requested_by == "carl"
    session.commit()
    assert sub.id is not None
    approved = subscriptions.approve(session, world.team_admin, sub.id)
    session.commit()
    assert approved.state is SubscriptionState.APPROVED
    assert approved.decided_by == "alice"
    assert approved.decided_at is not None
    assert current_generation(session) > before  # gateways learn about it


def test_auto_approving_plan(session: Session, world: World) -> None:
    sub = subscriptions.request(session, world.consumer, _app_id(world), "shop", "free")
    assert sub.state is SubscriptionState.APPROVED
    assert sub.decided_by == "plan:free"


def test_only_the_products_team_admin_decides(session: Session, engine: Engine, world: World) -> None:
    sub = subscriptions.request(session, world.consumer, _app_id(world), "shop", "gold")
    session.commit()
    assert sub.id is not None
    for actor in (world.consumer, world.team_member, Actor(902, "bob", team_roles={"beta": Role.TEAM_ADMIN})):
        with pytest.raises(Forbidden, match=r"subscription\.approve"):
            subscriptions.approve(session, actor, sub.id)
        session.rollback()
    assert session.get(Subscription, sub.id).state is SubscriptionState.REQUESTED  # type: ignore[union-attr]
    with Session(engine) as fresh:
        denied = fresh.exec(select(AuditEvent).where(col(AuditEvent.outcome) == AuditOutcome.DENIED)).all()
    assert [e.actor for e in denied] == ["carl", "mike", "bob"]


def test_only_the_owner_requests_for_an_application(session: Session, world: World) -> None:
    with pytest.raises(Forbidden, match=r"subscription\.request"):
        subscriptions.request(session, world.team_admin, _app_id(world), "shop", "gold")


ILLEGAL = [
    (SubscriptionState.APPROVED, subscriptions.approve, "is approved; only a requested subscription"),
    (SubscriptionState.REJECTED, subscriptions.approve, "is rejected; only a requested subscription"),
    (SubscriptionState.REVOKED, subscriptions.approve, "is revoked; only a requested"),
    (SubscriptionState.APPROVED, subscriptions.reject, "is approved; only a requested"),
    (SubscriptionState.REQUESTED, subscriptions.revoke, "is requested; only an approved"),
    (SubscriptionState.REJECTED, subscriptions.revoke, "is rejected; only an approved"),
    (SubscriptionState.REVOKED, subscriptions.revoke, "is revoked; only an approved"),
]


def test_illegal_state_changes_are_conflicts(session: Session, world: World) -> None:
    for start, operation, message in ILLEGAL:
        sub = subscriptions.request(session, world.consumer, _app_id(world), "shop", "gold")
        sub.state = start
        session.add(sub)
        session.commit()
        assert sub.id is not None
        with pytest.raises(Conflict, match=message):
            operation(session, world.team_admin, sub.id)
        session.rollback()
        assert session.get(Subscription, sub.id).state is start  # type: ignore[union-attr]
        if start in (SubscriptionState.REQUESTED, SubscriptionState.APPROVED):
            sub.state = SubscriptionState.REVOKED  # make room for the next request (one live per app x product)
            session.add(sub)
            session.commit()


def test_revoke_by_consumer_and_resubscribe(session: Session, world: World) -> None:
    sub = subscriptions.request(session, world.consumer, _app_id(world), "shop", "free")
    session.commit()
    assert sub.id is not None
    with pytest.raises(Conflict, match=r"already has a subscription \(\d+, approved\)"):
        subscriptions.request(session, world.consumer, _app_id(world), "shop", "gold")
    session.rollback()
    revoked = subscriptions.revoke(session, world.consumer, sub.id)
    assert revoked.state is SubscriptionState.REVOKED
    session.commit()
    again = subscriptions.request(session, world.consumer, _app_id(world), "shop", "gold")
    assert again.id != sub.id


def test_bad_references_and_unpublished_products(session: Session, world: World) -> None:
    with pytest.raises(NotFound, match="product 'nope' does not exist"):
        subscriptions.request(session, world.consumer, _app_id(world), "nope", "gold")
    with pytest.raises(NotFound, match="plan 'platinum' does not exist"):
        subscriptions.request(session, world.consumer, _app_id(world), "shop", "platinum")
    with pytest.raises(NotFound, match="application 4242 does not exist"):
        subscriptions.request(session, world.consumer, 4242, "shop", "gold")
    make_product(session, "draft-product", lifecycle=Lifecycle.DRAFT)
    session.commit()
    with pytest.raises(Invalid, match="'draft-product' is draft; only a published product"):
        subscriptions.request(session, world.consumer, _app_id(world), "draft-product", "gold")
    session.rollback()
    assert session.exec(select(Subscription)).all() == []


def test_a_product_that_names_plans_offers_only_those(session: Session, world: World) -> None:
    offered = make_product(session, "premium", lifecycle=Lifecycle.PUBLISHED)
    make_plan(session, "enterprise", products=[offered])
    session.commit()
    with pytest.raises(Invalid, match="does not offer plan 'gold'; choose one of: enterprise"):
        subscriptions.request(session, world.consumer, _app_id(world), "premium", "gold")
    session.rollback()
    sub = subscriptions.request(session, world.consumer, _app_id(world), "premium", "enterprise")
    assert sub.state is SubscriptionState.REQUESTED


def test_revoking_or_deleting_a_credential_keeps_the_subscription(session: Session, world: World) -> None:
    sub = subscriptions.request(session, world.consumer, _app_id(world), "shop", "free")
    issued = create_api_key(session, world.consumer, world.app, name="k")
    session.commit()
    assert issued.row.id is not None
    revoke_credential(session, world.consumer, issued.row.id)
    session.commit()
    session.delete(session.get(Credential, issued.row.id))
    session.commit()
    assert session.exec(select(Credential)).all() == []
    kept = session.get(Subscription, sub.id)
    assert kept is not None and kept.state is SubscriptionState.APPROVED
