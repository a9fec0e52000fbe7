"""Small factories for test data. Each adds its rows to the session, flushes (so ids exist) and returns the row.

Names default to unique values (``team-1``, ``team-2``, ...); pass ``name=`` when a test cares. Nothing commits:
call ``session.commit()`` before another session or the app must see the rows. Extend freely: keep each factory
small, with defaults that make a valid row.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlmodel import Session

from portal.models import (
    Application,
    Cluster,
    Lifecycle,
    Membership,
    Plan,
    Product,
    ProductPlan,
    ProductSource,
    ProductVersion,
    Role,
    Service,
    ServiceDeployment,
    ServiceVersion,
    SourceKind,
    Subscription,
    SubscriptionState,
    Team,
    TeamPlacement,
    User,
)

_counter = itertools.count(1)
_Row = TypeVar("_Row")

DEFAULT_SDL = "type Query {\n  hello: String\n}\n"


def unique(prefix: str) -> str:
    """A name no other factory call in this process returned."""
    return f"{prefix}-{next(_counter)}"


def _save(session: Session, row: _Row) -> _Row:
    session.add(row)
    session.flush()
    return row


def make_team(session: Session, name: str | None = None, **fields: Any) -> Team:
    return _save(session, Team(name=name or unique("team"), **fields))


def make_cluster(
    session: Session,
    name: str | None = None,
    *,
    residency: str = "eu",
    allow_loopback: bool = True,
    **fields: Any,
) -> Cluster:
    fields.setdefault("region", f"{residency}-region-1")
    fields.setdefault("zone", f"{residency}-region-1a")
    fields.setdefault("gloo", {"target": "gitops", "namespace": "gloo-system"})
    return _save(
        session, Cluster(name=name or unique("cluster"), residency=residency, allow_loopback=allow_loopback, **fields)
    )


def make_placement(session: Session, team: Team, cluster: Cluster, namespaces: Sequence[str] = ("*",)) -> TeamPlacement:
    assert team.id is not None and cluster.id is not None
    return _save(session, TeamPlacement(team_id=team.id, cluster_id=cluster.id, namespaces=list(namespaces)))


def make_user(
    session: Session,
    name: str | None = None,
    *,
    role: Role | str | None = None,
    team: Team | None = None,
    **fields: Any,
) -> User:
    """A user; with ``role``, also its membership (in ``team``, or platform-wide when ``team`` is None)."""
    user = _save(session, User(name=name or unique("user"), **fields))
    if role is not None:
        make_membership(session, user, Role(role), team)
    return user


def make_membership(session: Session, user: User, role: Role | str, team: Team | None = None) -> Membership:
    assert user.id is not None
    return _save(session, Membership(user_id=user.id, team_id=team.id if team else None, role=Role(role)))


def make_service(
    session: Session,
    name: str | None = None,
    *,
    team: Team | None = None,
    protocol: SourceKind | str = SourceKind.GRAPHQL,
    schema_text: str | None = DEFAULT_SDL,
    created_by: str = "factory",
    **fields: Any,
) -> Service:
    """A service of ``team`` (a new team by default) with version 1 of ``schema_text`` (None: no version)."""
    team = team or make_team(session)
    assert team.id is not None
    service = _save(
        session, Service(name=name or unique("service"), team_id=team.id, protocol=SourceKind(protocol), **fields)
    )
    if schema_text is not None:
        make_service_version(session, service, schema_text, created_by=created_by)
    return service


def make_service_version(
    session: Session,
    service: Service,
    schema_text: str,
    *,
    created_by: str = "factory",
    schema_files: dict[str, str] | None = None,
) -> ServiceVersion:
    """The next version of ``service``; also moves ``service.current_version`` to it."""
    assert service.id is not None
    number = (service.current_version or 0) + 1
    version = _save(
        session,
        ServiceVersion(
            service_id=service.id,
            version=number,
            schema_text=schema_text,
            schema_hash=hashlib.sha256(schema_text.encode()).hexdigest(),
            schema_files=schema_files or {},
            created_by=created_by,
        ),
    )
    service.current_version = number
    _save(session, service)
    return version


def make_deployment(
    session: Session,
    service: Service,
    cluster: Cluster,
    *,
    address: str | None = "http://127.0.0.1:7000",
    health_path: str | None = "/healthz",
    **fields: Any,
) -> ServiceDeployment:
    assert service.id is not None and cluster.id is not None
    return _save(
        session,
        ServiceDeployment(
            service_id=service.id, cluster_id=cluster.id, address=address, health_path=health_path, **fields
        ),
    )


def make_product(
    session: Session,
    name: str | None = None,
    *,
    team: Team | None = None,
    version: str = "1.0.0",
    lifecycle: Lifecycle | str = Lifecycle.DRAFT,
    sources: Sequence[Service] = (),
    clusters: Sequence[Cluster] = (),
    residency: str | None = None,
    created_by: str = "factory",
    **fields: Any,
) -> Product:
    """A product of ``team`` with one version (``version``) built from ``sources`` in order; ``current_version``
    points at it."""
    team = team or make_team(session)
    assert team.id is not None
    product = _save(
        session, Product(name=name or unique("product"), team_id=team.id, current_version=version, **fields)
    )
    make_product_version(
        session,
        product,
        version,
        lifecycle=lifecycle,
        sources=sources,
        clusters=clusters,
        residency=residency,
        created_by=created_by,
    )
    return product


def make_product_version(
    session: Session,
    product: Product,
    version: str,
    *,
    lifecycle: Lifecycle | str = Lifecycle.DRAFT,
    sources: Sequence[Service] = (),
    clusters: Sequence[Cluster] = (),
    residency: str | None = None,
    created_by: str = "factory",
) -> ProductVersion:
    assert product.id is not None
    routing: dict[str, Any] = {"clusters": [cluster.name for cluster in clusters]}
    if residency is not None:
        routing["residency"] = residency
    product_version = _save(
        session,
        ProductVersion(
            product_id=product.id,
            version=version,
            lifecycle=Lifecycle(lifecycle),
            routing=routing,
            created_by=created_by,
        ),
    )
    assert product_version.id is not None
    for position, service in enumerate(sources):
        assert service.id is not None
        session.add(ProductSource(product_version_id=product_version.id, service_id=service.id, position=position))
    session.flush()
    return product_version


def make_plan(
    session: Session,
    name: str | None = None,
    *,
    requests: int = 60,
    per_seconds: int = 60,
    auth_kinds: Sequence[str] = ("apiKey",),
    auto_approve: bool = False,
    products: Sequence[Product] = (),
    **fields: Any,
) -> Plan:
    """A plan; ``products`` offer it."""
    plan = _save(
        session,
        Plan(
            name=name or unique("plan"),
            rate_limit_requests=requests,
            rate_limit_per_seconds=per_seconds,
            auth_kinds=list(auth_kinds),
            auto_approve=auto_approve,
            **fields,
        ),
    )
    assert plan.id is not None
    for product in products:
        assert product.id is not None
        session.add(ProductPlan(product_id=product.id, plan_id=plan.id))
    session.flush()
    return plan


def make_application(
    session: Session, name: str | None = None, *, owner: User | None = None, team: Team | None = None, **fields: Any
) -> Application:
    owner = owner or make_user(session)
    assert owner.id is not None
    return _save(
        session,
        Application(name=name or unique("app"), owner_id=owner.id, team_id=team.id if team else None, **fields),
    )


def make_subscription(
    session: Session,
    application: Application,
    product: Product,
    plan: Plan,
    *,
    state: SubscriptionState | str = SubscriptionState.REQUESTED,
    requested_by: str = "factory",
    **fields: Any,
) -> Subscription:
    assert application.id is not None and product.id is not None and plan.id is not None
    return _save(
        session,
        Subscription(
            application_id=application.id,
            product_id=product.id,
            plan_id=plan.id,
            state=SubscriptionState(state),
            requested_by=requested_by,
            **fields,
        ),
    )
