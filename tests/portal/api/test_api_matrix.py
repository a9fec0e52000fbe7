"""The authorization matrix: every mutation of the admin API x every role, against ONE expectation table.

The mutations are read from the live schema by introspection. A mutation without an expectation here, or without an
entry in ``portal.api.mutations.MUTATION_ACTIONS``, or whose actions have no rule in ``portal.authorization.RULES``,
fails ``test_every_mutation_has_a_rule_and_an_expectation``. Each call goes through the real portal app with a real
personal access token, on a real database, and must leave an audit event: allowed or denied.

The target of every case belongs to team ``alpha``; consumer-side targets (applications, credentials, tokens) are
owned by ``mike``, the team-member of alpha, so the owner rules show up in the table too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from portal import oauth
from portal.accounts import create_token, hash_password
from portal.api.mutations import MUTATION_ACTIONS
from portal.applications import create_api_key
from portal.authorization import RULES
from portal.models import AuditOutcome, Lifecycle, SubscriptionState, Team, User
from portal.resources import ACTIONS as RESOURCE_ACTIONS
from portal.settings import Settings
from tests.factories import (
    make_application,
    make_membership,
    make_plan,
    make_product,
    make_service,
    make_subscription,
    make_user,
    unique,
)
from tests.portal.api.conftest import ROLES, SYSTEM, Gql, Person, audit_after, codes, last_audit_id

PA, TA, TM, OTA, VIEWER = "platform-admin", "team-admin", "team-member", "other-team-admin", "viewer"


@dataclass(frozen=True)
class World:
    session: Session
    settings: Settings

    def team(self, name: str = "alpha") -> Team:
        return self.session.exec(select(Team).where(col(Team.name) == name)).one()

    def user(self, name: str) -> User:
        return self.session.exec(select(User).where(col(User.name) == name)).one()


@dataclass(frozen=True)
class Case:
    id: str
    mutation: str
    query: str
    setup: Callable[[World], dict[str, Any]]
    allowed: frozenset[str]
    audited_as: frozenset[str]  # the audit actions this mutation records
    # Roles that may not even know the target exists: they get NOT_FOUND, exactly like a missing id (issue 6)
    hidden_from: frozenset[str] = frozenset()


def _service_doc(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "loom.dev/v1alpha1",
        "kind": "Service",
        "metadata": {"name": name, "team": "alpha"},
        "spec": {
            "protocol": "graphql",
            "schema": {"sdl": "type Query { hello: String }"},
            "deployments": [{"cluster": "eu", "address": "http://127.0.0.1:7000"}],
        },
    }


def _plan_doc(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "loom.dev/v1alpha1",
        "kind": "Plan",
        "metadata": {"name": name},
        "spec": {"rateLimit": {"requests": 10, "per": "minute"}, "auth": ["apiKey"]},
    }


def _mikes_app(w: World) -> int:
    app = make_application(w.session, owner=w.user("mike"))
    assert app.id is not None
    return app.id


def _subscription(w: World, state: SubscriptionState) -> dict[str, Any]:
    product = make_product(w.session, team=w.team(), lifecycle=Lifecycle.PUBLISHED)
    app = make_application(w.session, owner=w.user("mike"))
    sub = make_subscription(w.session, app, product, make_plan(w.session), state=state)
    return {"id": sub.id}


def _credential(w: World) -> dict[str, Any]:
    app = make_application(w.session, owner=w.user("mike"))
    return {"id": create_api_key(w.session, SYSTEM, app).row.id}


def _retire(w: World) -> dict[str, Any]:
    older = oauth.rotate_signing_key(w.session, w.settings, SYSTEM, algorithm="ES256")
    oauth.rotate_signing_key(w.session, w.settings, SYSTEM, algorithm="ES256")
    return {"kid": older.kid}


MIKES_PASSWORD = "mikes-password-1"


def _mikes_password(w: World) -> dict[str, Any]:
    mike = w.user("mike")
    mike.password_hash = hash_password(MIKES_PASSWORD)
    w.session.add(mike)
    return {"c": MIKES_PASSWORD}


def _member(w: World) -> dict[str, Any]:
    user = make_user(w.session)
    make_membership(w.session, user, "team-member", w.team())
    return {"u": user.name}


SUB = "{ id state }"
CASES = [
    Case(
        "apply[Service]",
        "apply",
        "mutation($d: JSON!) { apply(documents: $d) { kind name action } }",
        lambda w: {"d": [_service_doc(unique("svc"))]},
        frozenset({PA, TA, TM}),
        frozenset({"service.publish", "resources.apply"}),
    ),
    Case(
        "apply[Plan]",
        "apply",
        "mutation($d: JSON!) { apply(documents: $d) { kind name action } }",
        lambda w: {"d": [_plan_doc(unique("plan"))]},
        frozenset({PA}),
        frozenset({"plan.apply", "resources.apply"}),
    ),
    Case(
        "deleteResource[Service]",
        "deleteResource",
        'mutation($n: String!) { deleteResource(kind: "Service", name: $n) }',
        lambda w: {"n": make_service(w.session, team=w.team()).name},
        frozenset({PA, TA}),
        frozenset({"service.delete", "resources.delete"}),
    ),
    Case(
        "deleteResource[Plan]",
        "deleteResource",
        'mutation($n: String!) { deleteResource(kind: "Plan", name: $n) }',
        lambda w: {"n": make_plan(w.session).name},
        frozenset({PA}),
        frozenset({"plan.delete", "resources.delete"}),
    ),
    Case(
        "createUser",
        "createUser",
        'mutation($n: String!) { createUser(name: $n, role: "team-member", team: "alpha") { token user { name } } }',
        lambda w: {"n": unique("newbie")},
        frozenset({PA}),
        frozenset({"user.create"}),
    ),
    Case(
        "setMembership",
        "setMembership",
        'mutation($u: String!) { setMembership(user: $u, team: "alpha", role: "team-member") { name } }',
        lambda w: {"u": make_user(w.session).name},
        frozenset({PA, TA}),
        frozenset({"membership.apply"}),
    ),
    Case(
        "removeMembership",
        "removeMembership",
        'mutation($u: String!) { removeMembership(user: $u, team: "alpha") { name } }',
        _member,
        frozenset({PA, TA}),
        frozenset({"membership.delete"}),
    ),
    Case(
        "changePassword[mike's]",
        "changePassword",
        'mutation($c: String!) { changePassword(user: "mike", currentPassword: $c, newPassword: "a-new-password-1") '
        "{ name } }",
        _mikes_password,
        frozenset({PA, TM}),
        frozenset({"user.password"}),
    ),
    Case(
        "deactivateUser",
        "deactivateUser",
        "mutation($u: String!) { deactivateUser(name: $u) { name isActive } }",
        lambda w: {"u": make_user(w.session).name},
        frozenset({PA}),
        frozenset({"user.deactivate"}),
    ),
    Case(
        "createToken[own]",
        "createToken",
        'mutation { createToken(name: "ci") { token info { prefix } } }',
        lambda w: {},
        frozenset({PA, TA, TM, OTA, VIEWER}),
        frozenset({"token.create"}),
    ),
    Case(
        "revokeToken[mike's]",
        "revokeToken",
        "mutation($id: String!) { revokeToken(id: $id) { revokedAt } }",
        lambda w: {"id": str(create_token(w.session, SYSTEM, w.user("mike"), name="x").row.id)},
        frozenset({PA, TM}),
        frozenset({"token.revoke"}),
    ),
    Case(
        "createApplication",
        "createApplication",
        "mutation($n: String!) { createApplication(name: $n) { id owner } }",
        lambda w: {"n": unique("app")},
        frozenset({PA, TA, TM, OTA}),
        frozenset({"application.create"}),
    ),
    Case(
        "deleteApplication[mike's app]",
        "deleteApplication",
        "mutation($a: Int!) { deleteApplication(id: $a) { id name } }",
        lambda w: {"a": _mikes_app(w)},
        frozenset({PA, TM}),
        frozenset({"application.delete"}),
        frozenset({TA, OTA, VIEWER}),  # mike's own application: invisible to them
    ),
    Case(
        "createApiKey[mike's app]",
        "createApiKey",
        "mutation($a: Int!) { createApiKey(applicationId: $a) { secret credential { prefix } } }",
        lambda w: {"a": _mikes_app(w)},
        frozenset({PA, TM}),
        frozenset({"credential.create"}),
        frozenset({TA, OTA, VIEWER}),  # mike's own application: invisible to them
    ),
    Case(
        "createOAuthClient[mike's app]",
        "createOAuthClient",
        "mutation($a: Int!) { createOAuthClient(applicationId: $a) { secret credential { clientId } } }",
        lambda w: {"a": _mikes_app(w)},
        frozenset({PA, TM}),
        frozenset({"credential.create"}),
        frozenset({TA, OTA, VIEWER}),  # mike's own application: invisible to them
    ),
    Case(
        "revokeCredential[mike's app]",
        "revokeCredential",
        "mutation($id: Int!) { revokeCredential(id: $id) { revokedAt } }",
        _credential,
        frozenset({PA, TM}),
        frozenset({"credential.revoke"}),
        frozenset({TA, OTA, VIEWER}),  # mike's own application: invisible to them
    ),
    Case(
        "requestSubscription[mike's app, alpha's product]",
        "requestSubscription",
        f"mutation($a: Int!, $p: String!, $plan: String!) "
        f"{{ requestSubscription(applicationId: $a, product: $p, plan: $plan) {SUB} }}",
        lambda w: {
            "a": _mikes_app(w),
            "p": make_product(w.session, team=w.team(), lifecycle=Lifecycle.PUBLISHED).name,
            "plan": make_plan(w.session).name,
        },
        frozenset({PA, TM}),
        frozenset({"subscription.request"}),
        frozenset({TA, OTA, VIEWER}),  # mike's own application: invisible to them
    ),
    Case(
        "approveSubscription",
        "approveSubscription",
        f"mutation($id: Int!) {{ approveSubscription(id: $id) {SUB} }}",
        lambda w: _subscription(w, SubscriptionState.REQUESTED),
        frozenset({PA, TA}),
        frozenset({"subscription.approve"}),
        frozenset({OTA, VIEWER}),  # another team's subscription: invisible to them
    ),
    Case(
        "rejectSubscription",
        "rejectSubscription",
        f"mutation($id: Int!) {{ rejectSubscription(id: $id) {SUB} }}",
        lambda w: _subscription(w, SubscriptionState.REQUESTED),
        frozenset({PA, TA}),
        frozenset({"subscription.reject"}),
        frozenset({OTA, VIEWER}),  # another team's subscription: invisible to them
    ),
    Case(
        "revokeSubscription",
        "revokeSubscription",
        f"mutation($id: Int!) {{ revokeSubscription(id: $id) {SUB} }}",
        lambda w: _subscription(w, SubscriptionState.APPROVED),
        frozenset({PA, TA, TM}),
        frozenset({"subscription.revoke"}),
        frozenset({OTA, VIEWER}),  # another team's subscription: invisible to them
    ),
    Case(
        "rotateSigningKey",
        "rotateSigningKey",
        "mutation { rotateSigningKey { kid active } }",
        lambda w: {},
        frozenset({PA}),
        frozenset({"signing_key.rotate"}),
    ),
    Case(
        "retireSigningKey",
        "retireSigningKey",
        "mutation($kid: String!) { retireSigningKey(kid: $kid) { kid active } }",
        _retire,
        frozenset({PA}),
        frozenset({"signing_key.rotate"}),
    ),
]


async def test_every_mutation_has_a_rule_and_an_expectation(gql: Gql, people: dict[str, Person]) -> None:
    body = await gql("{ __schema { mutationType { fields { name } } } }", as_=people["viewer"])
    mutations = {f["name"] for f in body["data"]["__schema"]["mutationType"]["fields"]}
    expected = {case.mutation for case in CASES}
    assert mutations - expected == set(), f"mutations without an expectation in CASES: {mutations - expected}"
    assert expected - mutations == set(), f"CASES for mutations that do not exist: {expected - mutations}"
    assert set(MUTATION_ACTIONS) == mutations, "MUTATION_ACTIONS must name every mutation's authorization actions"
    for mutation, actions in MUTATION_ACTIONS.items():
        missing = [action for action in actions if action not in RULES]
        assert not missing, f"mutation {mutation} performs {missing}, which have no rule in RULES"
    # apply and deleteResource act per kind: every kind's action is declared (and so has a rule, above)
    assert set(RESOURCE_ACTIONS.values()) <= set(MUTATION_ACTIONS["apply"])
    assert {f"{kind.lower()}.delete" for kind in RESOURCE_ACTIONS} <= set(MUTATION_ACTIONS["deleteResource"])


NOT_MUTATIONS = {
    "audit.read": "the auditEvents query: the whole log, else only one's own events",
    "gateway.snapshot": "GET /api/gateway/snapshot (tests/portal/test_snapshot.py)",
    "gateway.create": "loom gateways create, a platform admin's CLI command (tests/portal/test_robots.py)",
    "fleet.read": "the fleetStatus query and loom status (tests/portal/api/test_api_fleet.py)",
}
"""Rules that no mutation performs, and where they are checked instead."""


def test_every_rule_is_performed_by_a_mutation_or_named_as_a_read() -> None:
    """The other direction: a rule that nothing performs is dead weight (or a mutation someone forgot)."""
    performed = {action for actions in MUTATION_ACTIONS.values() for action in actions}
    unused = set(RULES) - performed - set(NOT_MUTATIONS)
    assert not unused, f"rules that no mutation performs: {sorted(unused)}; add the mutation or remove the rule"
    assert not set(NOT_MUTATIONS) & performed, "a rule listed in NOT_MUTATIONS is performed by a mutation"
    assert set(NOT_MUTATIONS) <= set(RULES)


async def test_matrix(gql: Gql, people: dict[str, Person], engine: Engine, settings: Settings) -> None:
    """All cases on one database (one migration per backend keeps this fast); each call gets fresh targets."""
    failures: list[str] = []
    for case in CASES:
        for role in ROLES:
            failure = await _check(case, role, gql, people[role], engine, settings)
            if failure:
                failures.append(f"{case.id} as {role}: {failure}")
    assert not failures, "\n".join(failures)


async def _check(case: Case, role: str, gql: Gql, person: Person, engine: Engine, settings: Settings) -> str | None:
    with Session(engine, expire_on_commit=False) as session:
        variables = case.setup(World(session, settings))
        session.commit()
    before = last_audit_id(engine)
    body = await gql(case.query, variables, as_=person)
    events = [e for e in audit_after(engine, before) if e.action in case.audited_as and e.actor == person.name]
    if role in case.allowed:
        if body.get("errors") or not body["data"] or body["data"][case.mutation] is None:
            return f"should be allowed: {body}"
        if not any(e.outcome is AuditOutcome.ALLOWED for e in events):
            return "allowed but no 'allowed' audit event"
        return None
    want = "UNAUTHENTICATED" if role == "anonymous" else "NOT_FOUND" if role in case.hidden_from else "FORBIDDEN"
    if codes(body) != [want]:
        return f"should get {want}: {body}"
    if not any(e.outcome is AuditOutcome.DENIED for e in events):
        return "denied but no 'denied' audit event"
    return None
