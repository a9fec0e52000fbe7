"""The rule table: deny by default, team scope, viewers never write, owners, placements.

The matrix over every GraphQL mutation x role lives in ``tests/portal/api/test_api_matrix.py``.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session

from portal.authorization import RULES, Actor, Role, Target, authorize, check_placement, is_allowed, placements_of
from portal.errors import Forbidden, Unauthenticated
from tests.factories import make_cluster, make_placement, make_team

ALICE_ADMIN = Actor(1, "alice", team_roles={"alpha": Role.TEAM_ADMIN})
MIKE_MEMBER = Actor(2, "mike", team_roles={"alpha": Role.TEAM_MEMBER})
BOB_OTHER = Actor(3, "bob", team_roles={"beta": Role.TEAM_ADMIN})
VERA_VIEWER = Actor(4, "vera", read_only=True)
TEAM_VIEWER = Actor(5, "tina", team_roles={"alpha": Role.VIEWER})
ROOT = Actor(6, "root", platform_admin=True)
CONSUMER = Actor(7, "carl")

SERVICE = Target("service", "inventory", team="alpha")


def test_every_rule_names_a_known_shape() -> None:
    for action, rule in RULES.items():
        assert action.count(".") >= 1, action
        assert rule.description
        assert Role.PLATFORM_ADMIN not in rule.team_roles, f"{action}: platform admins need no team role"


@pytest.mark.parametrize("actor", [ROOT, ALICE_ADMIN, CONSUMER, Actor.system()])
def test_unknown_action_is_denied_for_everyone(actor: Actor) -> None:
    assert not is_allowed(actor, "service.teleport", SERVICE)
    with pytest.raises(Forbidden, match=r"'service\.teleport' is not a known action"):
        authorize(actor, "service.teleport", SERVICE)


def test_platform_admin_and_system_may_do_every_known_action() -> None:
    for action in RULES:
        assert is_allowed(ROOT, action, SERVICE), action
        assert is_allowed(Actor.system(), action, Target("cluster", "eu")), action


def test_anonymous_is_unauthenticated_for_every_action() -> None:
    for action in RULES:
        with pytest.raises(Unauthenticated, match="requires signing in"):
            authorize(Actor.anonymous(), action, SERVICE)


def test_team_scope_member_publishes_admin_deletes_other_team_nothing() -> None:
    assert is_allowed(MIKE_MEMBER, "service.publish", SERVICE)
    assert not is_allowed(MIKE_MEMBER, "service.delete", SERVICE)
    assert is_allowed(ALICE_ADMIN, "service.delete", SERVICE)
    assert not is_allowed(BOB_OTHER, "service.publish", SERVICE)
    with pytest.raises(Forbidden) as caught:
        authorize(BOB_OTHER, "service.publish", SERVICE)
    message = str(caught.value)
    assert "user 'bob' (team-admin of beta)" in message
    assert "'service.publish'" in message
    assert "service 'inventory' of team 'alpha'" in message
    assert "team-admin or team-member of team 'alpha'" in message


def test_viewers_never_write() -> None:
    writes = [action for action, rule in RULES.items() if rule.write]
    assert writes
    for action in writes:
        assert not is_allowed(VERA_VIEWER, action, SERVICE), action
        assert not is_allowed(TEAM_VIEWER, action, SERVICE), action
    with pytest.raises(Forbidden, match="is a viewer"):
        authorize(VERA_VIEWER, "application.create", Target("application", "x"))


def test_platform_wide_resources_need_a_platform_admin() -> None:
    for action in ("cluster.apply", "cluster.delete", "team.apply", "plan.apply", "user.create", "signing_key.rotate"):
        assert not is_allowed(ALICE_ADMIN, action, Target(action.split(".")[0], "x", team="alpha")), action


def test_owner_rules() -> None:
    own_app = Target("credential", "key", owner_user_id=CONSUMER.user_id)
    other_app = Target("credential", "key", owner_user_id=99)
    assert is_allowed(CONSUMER, "credential.create", own_app)
    assert not is_allowed(CONSUMER, "credential.create", other_app)
    assert is_allowed(CONSUMER, "application.create", Target("application", "mine"))
    # a subscription: the product's team admin decides, the consumer may only request and revoke
    sub = Target("subscription", "1", team="alpha", owner_user_id=CONSUMER.user_id)
    assert is_allowed(CONSUMER, "subscription.request", sub)
    assert is_allowed(CONSUMER, "subscription.revoke", sub)
    assert not is_allowed(CONSUMER, "subscription.approve", sub)
    assert is_allowed(ALICE_ADMIN, "subscription.approve", sub)
    assert not is_allowed(MIKE_MEMBER, "subscription.approve", sub)


def test_an_actor_without_user_id_owns_nothing() -> None:
    ghost = Actor(None, "ghost")
    assert not is_allowed(ghost, "token.revoke", Target("token", "t", owner_user_id=None))


def test_check_placement() -> None:
    placements = {"eu-west": ["warehouse"], "us-east": ["*"]}
    check_placement("warehouse", "eu-west", "warehouse", placements)
    check_placement("warehouse", "us-east", "anything", placements)
    check_placement("warehouse", "eu-west", None, placements)  # an address deployment needs only the cluster
    with pytest.raises(Forbidden, match=r"not granted namespace 'other' in cluster 'eu-west'.*there: warehouse"):
        check_placement("warehouse", "eu-west", "other", placements)
    with pytest.raises(Forbidden, match=r"not granted cluster 'ap-south'.*may publish in: eu-west, us-east"):
        check_placement("warehouse", "ap-south", None, placements)
    with pytest.raises(Forbidden, match="may publish in: no cluster"):
        check_placement("nomad", "eu-west", None, {})


def test_placements_of_reads_team_placement_rows(session: Session) -> None:
    alpha, beta = make_team(session, "alpha"), make_team(session, "beta")
    eu, us = make_cluster(session, "eu"), make_cluster(session, "us")
    make_placement(session, alpha, eu, ["shop"])
    make_placement(session, alpha, us, ["*"])
    make_placement(session, beta, eu, ["other"])
    assert placements_of(session, "alpha") == {"eu": ["shop"], "us": ["*"]}
    assert placements_of(session, "nobody") == {}
