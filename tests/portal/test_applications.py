"""Applications and their credentials, on SQLite and PostgreSQL; the API keys issued are checked by the gateway's
own credential code (stitcher.credentials.AccessPolicy), as a gateway replica would check them."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from portal.applications import (
    create_api_key,
    create_application,
    create_oauth_client,
    delete_application,
    find_oauth_client,
    list_credentials,
    revoke_credential,
    verify_client_secret,
)
from portal.authentication import actor_for_user
from portal.authorization import Actor
from portal.db import current_generation
from portal.errors import Conflict, Forbidden, Invalid, NotFound
from portal.models import AuditEvent, Credential, Role, Subscription, SubscriptionState
from stitcher.credentials import AccessPolicy, Unauthenticated, hash_api_key, parse_api_key
from stitcher.snapshot import CredentialConfig, PlanConfig, Snapshot, SubscriptionConfig
from tests.factories import make_plan, make_product, make_subscription, make_team, make_user

SYSTEM = Actor.system("test")


def _audit(engine: Engine, action: str) -> list[tuple[str, str]]:
    with Session(engine) as fresh:
        events = fresh.exec(select(AuditEvent).where(col(AuditEvent.action) == action).order_by(col(AuditEvent.id)))
        return [(e.actor, e.outcome) for e in events]


def test_users_create_applications_for_themselves(session: Session, engine: Engine) -> None:
    alice = make_user(session, "alice")
    as_alice = actor_for_user(session, alice)
    application = create_application(session, as_alice, name="Storefront web", description="the shop")
    session.commit()
    assert (application.owner_id, application.name) == (alice.id, "Storefront web")
    assert _audit(engine, "application.create") == [("alice", "allowed")]

    with pytest.raises(Conflict, match="already have an application named"):
        create_application(session, as_alice, name="Storefront web")
    session.rollback()
    with pytest.raises(Forbidden, match="only for themselves"):
        create_application(session, as_alice, name="other", owner=make_user(session))
    session.rollback()
    with pytest.raises(Invalid, match="invalid application name"):
        create_application(session, as_alice, name="  ")
    assert _audit(engine, "application.create") == [("alice", "allowed"), ("alice", "denied")]


def test_viewers_may_not_create_applications(session: Session, engine: Engine) -> None:
    viewer = actor_for_user(session, make_user(session, "victor", role=Role.VIEWER))
    session.commit()
    with pytest.raises(Forbidden, match="viewer"):
        create_application(session, viewer, name="nope")
    assert _audit(engine, "application.create") == [("victor", "denied")]


async def test_an_api_key_is_shown_once_stored_as_prefix_and_hash_and_the_gateway_accepts_it(
    session: Session, engine: Engine
) -> None:
    owner = make_user(session, "olivia")
    as_owner = actor_for_user(session, owner)
    application = create_application(session, as_owner, name="mobile")
    product, plan = make_product(session, "shop"), make_plan(session, "gold", auth_kinds=["apiKey"])
    make_subscription(session, application, product, plan, state="approved")
    before = current_generation(session)
    issued = create_api_key(session, as_owner, application, name="prod")
    session.commit()

    row = issued.row
    assert row.prefix == parse_api_key(issued.secret) and row.secret_hash == hash_api_key(issued.secret)
    assert issued.secret not in {row.prefix, row.secret_hash, row.name}
    assert current_generation(session) == before + 1  # gateways learn about the new key
    with Session(engine) as fresh:
        summaries = [e.summary for e in fresh.exec(select(AuditEvent))]
    assert issued.secret not in str(summaries)

    snapshot = Snapshot(
        plans=[PlanConfig(name="gold", auth=["api_key"])],
        credentials=[
            CredentialConfig(
                id=str(row.id), application="mobile", kind="api_key", prefix=row.prefix, key_hash=row.secret_hash
            )
        ],
        subscriptions=[SubscriptionConfig(application="mobile", product="shop", plan="gold")],
    )
    policy = AccessPolicy(snapshot)
    principal = await policy.authenticate({"x-api-key": issued.secret}, "shop")
    assert (principal.application, principal.credential_id) == ("mobile", str(row.id))
    with pytest.raises(Unauthenticated):
        await policy.authenticate({"x-api-key": issued.secret[:-2] + "zz"}, "shop")


def test_oauth_client_secret_is_an_argon2_hash(session: Session) -> None:
    application = create_application(session, SYSTEM, name="batch", owner=make_user(session))
    issued = create_oauth_client(session, SYSTEM, application)
    session.commit()
    assert issued.client_id is not None and issued.client_id.startswith("lc_")
    assert issued.row.secret_hash.startswith("$argon2id$")
    found = find_oauth_client(session, issued.client_id)
    assert found is not None and verify_client_secret(found, issued.secret)
    assert not verify_client_secret(found, issued.secret + "x")
    assert find_oauth_client(session, "lc_unknown") is None


def test_only_the_owner_or_a_platform_admin_manages_credentials(session: Session, engine: Engine) -> None:
    team = make_team(session)
    owner, stranger = make_user(session, "owner"), make_user(session, "stranger", role=Role.TEAM_ADMIN, team=team)
    application = create_application(session, SYSTEM, name="app", owner=owner, team=team.name)
    key = create_api_key(session, SYSTEM, application)
    session.commit()
    as_stranger = actor_for_user(session, stranger)
    with pytest.raises(Forbidden, match=r"credential\.create"):
        create_oauth_client(session, as_stranger, application)
    assert key.row.id is not None
    with pytest.raises(Forbidden, match=r"credential\.revoke"):
        revoke_credential(session, as_stranger, key.row.id)
    assert _audit(engine, "credential.create") == [("test", "allowed"), ("stranger", "denied")]
    assert _audit(engine, "credential.revoke") == [("stranger", "denied")]
    stored = session.get(Credential, key.row.id)
    assert stored is not None and stored.revoked_at is None


def test_revoking_a_credential_keeps_the_subscription(session: Session) -> None:
    owner = make_user(session)
    as_owner = actor_for_user(session, owner)
    application = create_application(session, as_owner, name="keeper")
    subscription = make_subscription(session, application, make_product(session), make_plan(session))
    client = create_oauth_client(session, as_owner, application)
    session.commit()
    assert client.row.id is not None and client.client_id is not None
    revoked = revoke_credential(session, as_owner, client.row.id)
    session.commit()
    assert revoked.revoked_at is not None
    assert find_oauth_client(session, client.client_id) is None
    assert session.get(Subscription, subscription.id) is not None
    assert [c.revoked_at is not None for c in list_credentials(session, application)] == [True]


def test_credential_expiry_must_be_positive(session: Session) -> None:
    application = create_application(session, SYSTEM, name="exp", owner=make_user(session))
    with pytest.raises(Invalid, match="positive number of days"):
        create_api_key(session, SYSTEM, application, expires_in_days=-1)
    with pytest.raises(Invalid, match="up to 3650"):
        create_oauth_client(session, SYSTEM, application, expires_in_days=100_000_000)
    assert create_api_key(session, SYSTEM, application, expires_in_days=3650).row.expires_at is not None


def test_deleting_an_application_takes_its_credentials_and_waits_for_live_subscriptions(
    session: Session, engine: Engine
) -> None:
    owner, stranger = make_user(session, "olga"), make_user(session, "sam")
    as_owner, as_stranger = actor_for_user(session, owner), actor_for_user(session, stranger)
    application = create_application(session, as_owner, name="kiosk")
    key = create_api_key(session, as_owner, application)
    product, plan = make_product(session), make_plan(session)
    live = make_subscription(session, application, product, plan, state=SubscriptionState.APPROVED)
    session.commit()
    assert application.id is not None and live.id is not None

    with pytest.raises(Forbidden, match=r"lacks permission 'application\.delete'"):
        delete_application(session, as_stranger, application.id)
    with pytest.raises(Conflict, match=rf"still has live subscription\(s\) {live.id}: revoke them first"):
        delete_application(session, as_owner, application.id)
    session.rollback()
    assert session.get(Credential, key.row.id) is not None

    live.state = SubscriptionState.REVOKED
    session.add(live)
    session.commit()
    generation = current_generation(session)
    delete_application(session, as_owner, application.id)
    session.commit()
    assert session.exec(select(Credential).where(col(Credential.application_id) == application.id)).all() == []
    assert session.exec(select(Subscription).where(col(Subscription.application_id) == application.id)).all() == []
    assert current_generation(session) > generation  # its key leaves the gateway snapshot
    with pytest.raises(NotFound, match=f"no application with id {application.id}"):
        delete_application(session, as_owner, application.id)
    assert _audit(engine, "application.delete") == [("sam", "denied"), ("olga", "allowed")]


def test_an_application_is_tagged_only_with_a_team_of_its_creator(session: Session, engine: Engine) -> None:
    """Issue 6: a user tagged an application with a team they do not belong to (sharing it with that team)."""
    shop = make_team(session, "shop")
    make_team(session, "books")
    member = actor_for_user(session, make_user(session, "mona", role=Role.TEAM_MEMBER, team=shop))
    session.commit()
    with pytest.raises(Forbidden, match="only with a team they belong to"):
        create_application(session, member, name="sneaky", team="books")
    session.rollback()
    tagged = create_application(session, member, name="ours", team="shop")
    session.commit()
    assert tagged.team_id is not None
    assert _audit(engine, "application.create") == [("mona", "denied"), ("mona", "allowed")]
