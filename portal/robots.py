"""Gateway robot accounts: what a ``loom gateway --cluster C`` authenticates with.

A robot is a user row with ``robot`` set, no password, no roles and one grant per cluster whose gateway snapshot it
may read (:class:`portal.models.GatewayGrant`). Its personal access token is refused everywhere else
(:func:`portal.authentication.request_actor`), so a token copied off a gateway host reads no catalog, user list or
audit log, and no other cluster's snapshot. Creating one is a platform admin's action, audited.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence

from sqlmodel import Session, col, select

from portal.accounts import IssuedToken, _cli_session, create_token, is_reserved_user_name
from portal.audit import authorize_and_audit
from portal.authorization import Actor, Target
from portal.errors import Conflict, Invalid, NotFound
from portal.models import Cluster, GatewayGrant, User

__all__ = ["create_gateway_robot", "gateways_command", "list_gateway_robots"]

_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,98}[a-z0-9])?$")
_MAX_CLUSTERS = 100


def create_gateway_robot(session: Session, actor: Actor, name: str, clusters: Sequence[str]) -> IssuedToken:
    """Create the robot ``name`` for ``clusters`` and its first token. Flushes, does not commit: the caller's
    transaction holds the robot, its grants, its token and the audit events together."""
    wanted = sorted(set(clusters))[:_MAX_CLUSTERS]
    authorize_and_audit(session, actor, "gateway.create", Target("gateway", name[:100]), {"clusters": wanted})
    if not _NAME.match(name):
        raise Invalid(
            f"invalid gateway robot name {name[:100]!r}: use 1-100 lowercase letters, digits or '-', starting and "
            "ending with a letter or digit"
        )
    if is_reserved_user_name(name):
        raise Invalid(f"the name {name!r} is reserved for Loom's own actors; pick another")
    if not clusters:
        raise Invalid("a gateway robot needs at least one cluster: pass --cluster NAME")
    if len(set(clusters)) > _MAX_CLUSTERS:
        raise Invalid(f"a gateway robot may be granted at most {_MAX_CLUSTERS} clusters")
    if session.exec(select(User).where(col(User.name) == name)).first() is not None:
        raise Conflict(f"a user named {name!r} already exists; pick another name")
    rows = {c.name: c for c in session.exec(select(Cluster).where(col(Cluster.name).in_(wanted))).all()}
    missing = [c for c in wanted if c not in rows]
    if missing:
        raise NotFound(f"no cluster named {', '.join(map(repr, missing))}; `loom get clusters` lists them")
    robot = User(name=name, robot=True, display_name=f"gateway of {', '.join(wanted)}")
    session.add(robot)
    session.flush()
    assert robot.id is not None
    for cluster in wanted:
        cluster_id = rows[cluster].id
        assert cluster_id is not None
        session.add(GatewayGrant(user_id=robot.id, cluster_id=cluster_id))
    session.flush()
    return create_token(session, actor, robot, name="gateway")


def list_gateway_robots(session: Session) -> list[tuple[User, list[str]]]:
    """Every robot with the clusters it may read, by name."""
    robots = session.exec(select(User).where(col(User.robot).is_(True)).order_by(col(User.name))).all()
    grants: dict[int, list[str]] = {}
    for user_id, cluster in session.exec(
        select(GatewayGrant.user_id, Cluster.name)
        .join(Cluster, col(Cluster.id) == col(GatewayGrant.cluster_id))
        .order_by(col(Cluster.name))
    ).all():
        grants.setdefault(user_id, []).append(cluster)
    return [(robot, grants.get(robot.id or 0, [])) for robot in robots]


def gateways_command(args: argparse.Namespace) -> int:
    """``loom gateways create NAME --cluster C [--cluster C2]`` (prints the robot's token last) | ``list``."""
    with _cli_session() as session:
        if args.gateways_command == "create":
            issued = create_gateway_robot(session, Actor.system("cli"), args.name, args.cluster)
            session.commit()
            granted = ", ".join(sorted(set(args.cluster)))
            print(f"created gateway robot {args.name} for clusters {granted} (token {issued.row.prefix})")
            print("run: loom gateway --portal URL --token TOKEN --cluster CLUSTER; the token is shown only now:")
            print(issued.token, flush=True)
            return 0
        for robot, clusters in list_gateway_robots(session):
            state = "" if robot.is_active else " (deactivated)"
            print(f"{robot.name}\t{', '.join(clusters) or '-'}{state}")
    return 0
