"""Who may do what: one rule table, denied by default.

Every write in the control plane (the admin API, ``loom apply``, the web UI, the CLI) names an *action* from
``RULES`` and a ``Target`` and calls ``authorize``. An action that is not in the table is denied, so a new mutation
cannot slip through without a rule (the matrix test in ``tests/portal/test_authorization.py`` enforces it).

Roles:
- ``platform-admin`` may do every known action.
- ``team-admin`` / ``team-member`` act on their own team's services and products (what each may do is in the rule).
- ``viewer`` reads and never writes, whether a viewer of one team or a read-only account.
- A user may always act on what they own (their applications, credentials and tokens) where the rule says so.

Cluster scope is data, not role: a team publishes deployments only in the clusters and namespaces granted to it by
its placements (``check_placement``), whoever the actor is.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from sqlmodel import col, select

from portal.errors import Forbidden, Unauthenticated
from portal.models import Cluster, Role, Team, TeamPlacement  # one Role enum, shared with the Membership table

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = [
    "RULES",
    "Actor",
    "Role",
    "Rule",
    "Target",
    "authorize",
    "check_placement",
    "is_allowed",
    "placements_of",
]


ActorKind = Literal["user", "system", "anonymous", "robot"]


@dataclass(frozen=True)
class Actor:
    """Who is acting. ``team_roles`` maps a team name to the actor's role in it.

    ``read_only`` marks a viewer account: it may read and never writes, whatever its team roles say.
    """

    user_id: int | None
    name: str
    platform_admin: bool = False
    team_roles: Mapping[str, Role] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    kind: ActorKind = "user"
    read_only: bool = False
    gateway_clusters: frozenset[str] = frozenset()  # a robot's: the clusters whose gateway snapshot it may read

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        """The local CLI (``loom apply`` without ``--server``): a platform admin with no user row."""
        return cls(user_id=None, name=name, platform_admin=True, kind="system")

    @classmethod
    def anonymous(cls) -> Actor:
        return cls(user_id=None, name="anonymous", kind="anonymous")

    @property
    def is_authenticated(self) -> bool:
        return self.kind != "anonymous"

    def role_in(self, team: str | None) -> Role | None:
        if team is None:
            return None
        return self.team_roles.get(team)

    def describe(self) -> str:
        """A short description for error messages and the audit log, e.g. ``user 'bob' (team-member of a)``."""
        if self.kind == "anonymous":
            return "an anonymous caller"
        if self.kind == "system":
            return f"system '{self.name}'"
        if self.kind == "robot":
            return f"gateway robot '{self.name}' (clusters {', '.join(sorted(self.gateway_clusters)) or 'none'})"
        roles: list[str] = []
        if self.platform_admin:
            roles.append(Role.PLATFORM_ADMIN.value)
        if self.read_only:
            roles.append(Role.VIEWER.value)
        roles.extend(f"{role.value} of {team}" for team, role in sorted(self.team_roles.items()))
        return f"user '{self.name}'" + (f" ({', '.join(roles)})" if roles else "")


@dataclass(frozen=True)
class Target:
    """What an action is done to. ``team`` is the owning team (a service's or product's team, the team itself);
    ``owner_user_id`` is the owning user (an application's, a credential's, a token's owner)."""

    kind: str
    name: str
    team: str | None = None
    owner_user_id: int | None = None

    def describe(self) -> str:
        text = f"{self.kind} '{self.name}'"
        if self.team is not None and not (self.kind == "team" and self.name == self.team):
            text += f" of team '{self.team}'"
        return text


@dataclass(frozen=True)
class Rule:
    """Who may do an action besides a platform admin (who may do every known action).

    - ``team_roles``: these roles in the *target's* team allow it.
    - ``owner``: the target's owning user may do it.
    - ``any_user``: any signed-in, writing user may do it (e.g. create their own application).
    - ``write``: a viewer is refused every write; ``write=False`` marks what a viewer may still do when another
      clause allows it (manage their own access tokens, reads).
    """

    description: str
    team_roles: frozenset[Role] = frozenset()
    owner: bool = False
    any_user: bool = False
    write: bool = True

    def requirement(self, team: str | None = None) -> str:
        """What the rule asks for, in words: ``platform-admin or team-admin of team 'x'``."""
        parts = [Role.PLATFORM_ADMIN.value]
        if self.team_roles:
            names = " or ".join(r.value for r in sorted(self.team_roles, key=_ROLE_ORDER.index))
            parts.append(f"{names} of team '{team}'" if team else f"{names} of the target's team")
        if self.owner:
            parts.append("its owner")
        if self.any_user:
            parts.append("any signed-in user who is not a viewer")
        return " or ".join(parts)


_ROLE_ORDER = [Role.PLATFORM_ADMIN, Role.TEAM_ADMIN, Role.TEAM_MEMBER, Role.VIEWER]
_ADMIN = frozenset({Role.TEAM_ADMIN})
_TEAM = frozenset({Role.TEAM_ADMIN, Role.TEAM_MEMBER})

_RULES: dict[str, Rule] = {
    # Platform-wide resources: only a platform admin (team placements grant clusters, so a team may not edit them).
    "cluster.apply": Rule("create or change a cluster"),
    "cluster.delete": Rule("delete a cluster"),
    "team.apply": Rule("create or change a team and its placements"),
    "team.delete": Rule("delete a team"),
    "plan.apply": Rule("create or change a plan"),
    "plan.delete": Rule("delete a plan"),
    "user.create": Rule("create a user"),
    # Users are deactivated, never deleted: their history (audit, versions, applications) keeps its meaning.
    "user.deactivate": Rule("deactivate a user (no more logins or tokens)"),
    # A local account's password: one's own (a viewer too), or a platform admin resets anyone's.
    "user.password": Rule("change a local account's password", owner=True, write=False),
    "signing_key.rotate": Rule("rotate the OAuth2 signing key"),
    # Team membership: a team admin manages their own team's members.
    "membership.apply": Rule("add a member to a team or change their role", team_roles=_ADMIN),
    "membership.delete": Rule("remove a member from a team", team_roles=_ADMIN),
    # A team's services and products.
    "service.publish": Rule("publish a service version or change its deployments", team_roles=_TEAM),
    "service.publish.force": Rule(
        "force a publish that breaks a published product (the target is the product)", team_roles=_ADMIN
    ),
    "service.delete": Rule("delete a service", team_roles=_ADMIN),
    "product.apply": Rule("create or change a product", team_roles=_TEAM),
    "product.delete": Rule("delete a product", team_roles=_ADMIN),
    # Personal access tokens: one's own (viewers too: a read-only account needs a token to read), or a platform
    # admin for anyone.
    "token.create": Rule("create a personal access token", owner=True, write=False),
    "token.revoke": Rule("revoke a personal access token", owner=True, write=False),
    # Consumers own applications and their credentials.
    "application.create": Rule("create an application", any_user=True),
    "application.delete": Rule("delete an application", owner=True),
    "credential.create": Rule("create an API key or OAuth2 client for an application", owner=True),
    "credential.revoke": Rule("revoke a credential", owner=True),
    # Subscriptions: the target is the subscription, its team the product's team, its owner the application's.
    "subscription.request": Rule("request a subscription for one's application", owner=True),
    "subscription.approve": Rule("approve a subscription to a team's product", team_roles=_ADMIN),
    "subscription.reject": Rule("reject a subscription to a team's product", team_roles=_ADMIN),
    "subscription.revoke": Rule("revoke a subscription", team_roles=_ADMIN, owner=True),
    # Reads that are not open to every signed-in user.
    "audit.read": Rule("read the audit log", write=False),
    "gateway.snapshot": Rule("read the gateway config snapshot (credential hashes, subscriptions)", write=False),
    "gateway.create": Rule("create a gateway robot account for some clusters"),
    "fleet.read": Rule(
        "read the sync status of a team's products in every cluster",
        team_roles=frozenset({Role.TEAM_ADMIN, Role.TEAM_MEMBER, Role.VIEWER}),
        write=False,
    ),
}

RULES: Mapping[str, Rule] = MappingProxyType(_RULES)
"""Action name -> rule. Read-only: add an action by adding a line above."""


def is_allowed(actor: Actor, action: str, target: Target) -> bool:
    """True when ``actor`` may do ``action`` on ``target``. Unknown actions and anonymous callers are denied."""
    rule = RULES.get(action)
    if rule is None or not actor.is_authenticated:
        return False
    if actor.kind == "robot":  # a gateway's account: its own clusters' snapshots and nothing else
        return action == "gateway.snapshot" and target.kind == "cluster" and target.name in actor.gateway_clusters
    if actor.platform_admin:
        return True
    if rule.write and actor.read_only:
        return False
    role = actor.role_in(target.team)
    if role is not None and role in rule.team_roles:
        return True
    if rule.owner and actor.user_id is not None and actor.user_id == target.owner_user_id:
        return True
    return rule.any_user and not _only_viewer(actor)


def _only_viewer(actor: Actor) -> bool:
    """A viewer account, or a user whose every team role is viewer (a user with no team at all is a consumer)."""
    return actor.read_only or (bool(actor.team_roles) and all(r is Role.VIEWER for r in actor.team_roles.values()))


def authorize(actor: Actor, action: str, target: Target) -> None:
    """Raise unless ``actor`` may do ``action`` on ``target``.

    Raises ``Unauthenticated`` for an anonymous caller (sign in or pass a token) and ``Forbidden`` otherwise, with a
    message that names the actor, the action, the target and what the rule requires.
    """
    if is_allowed(actor, action, target):
        return
    rule = RULES.get(action)
    if rule is None:
        raise Forbidden(f"'{action}' is not a known action, so it is denied; {actor.describe()} may not do it")
    if not actor.is_authenticated:
        raise Unauthenticated(
            f"'{action}' on {target.describe()} requires signing in: pass a personal access token "
            "(Authorization: Bearer ...) or log in"
        )
    if rule.write and actor.read_only:
        raise Forbidden(f"{actor.describe()} is a viewer and may not {action} on {target.describe()}")
    raise Forbidden(
        f"{actor.describe()} lacks permission '{action}' on {target.describe()}: "
        f"it requires {rule.requirement(target.team)}"
    )


def check_placement(
    team: str,
    cluster: str,
    namespace: str | None,
    placements: Mapping[str, Collection[str]],
) -> None:
    """Raise ``Forbidden`` unless ``team`` is granted ``cluster`` (and ``namespace``, when the deployment names one).

    ``placements`` maps a cluster name to the namespaces granted there (``"*"`` grants every namespace); it comes
    from the team's TeamPlacement rows. This binds every actor, a platform admin included: grant the placement
    first (``team.apply``) to publish somewhere new.
    """
    granted = placements.get(cluster)
    if granted is None:
        where = ", ".join(sorted(placements)) or "no cluster"
        raise Forbidden(
            f"team '{team}' is not granted cluster '{cluster}' (it may publish in: {where}); "
            "a platform admin can add a placement to the team"
        )
    if namespace is None or "*" in granted or namespace in granted:
        return
    allowed = ", ".join(sorted(granted)) or "none"
    raise Forbidden(
        f"team '{team}' is not granted namespace '{namespace}' in cluster '{cluster}' (granted there: {allowed}); "
        "a platform admin can add the namespace to the team's placement"
    )


def placements_of(session: Session, team: str) -> dict[str, list[str]]:
    """The clusters and namespaces granted to ``team`` (cluster name -> namespaces), for ``check_placement``."""
    rows = session.execute(
        select(Cluster.name, TeamPlacement.namespaces)
        .join(TeamPlacement, col(TeamPlacement.cluster_id) == col(Cluster.id))
        .join(Team, col(Team.id) == col(TeamPlacement.team_id))
        .where(col(Team.name) == team)
    ).all()
    return {name: list(namespaces) for name, namespaces in rows}
