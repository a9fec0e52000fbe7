"""The admin API's output types, built from table rows inside the request's database session.

Every type is plain data: resolvers convert rows while the session is open (in a worker thread), so nothing lazy
leaks into the event loop. Secrets and their hashes have no field here, on purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar, cast

import strawberry
from sqlmodel import Session, col, select

from portal import models as m
from portal.api import shapes as sh
from portal.db import name_of

__all__ = [
    "Application",
    "AuditEvent",
    "Change",
    "Cluster",
    "CreatedUser",
    "Credential",
    "Deployment",
    "IssuedCredential",
    "IssuedToken",
    "Membership",
    "Placement",
    "Plan",
    "Product",
    "ProductSource",
    "ProductVersion",
    "Service",
    "ServiceVersion",
    "Subscription",
    "SyncStatus",
    "Team",
    "Token",
    "User",
    "described",
    "described_mutation",
]


F = TypeVar("F", bound=Callable[..., Any])


def described(description: str) -> Callable[[F], F]:
    """``strawberry.field(description=...)`` typed for mypy (Strawberry's own overload returns ``Any``)."""
    return cast("Callable[[F], F]", strawberry.field(description=description))


def described_mutation(description: str, *, name: str | None = None) -> Callable[[F], F]:
    return cast("Callable[[F], F]", strawberry.mutation(description=description, name=name))


@strawberry.type(description="Where a team may publish deployments: a cluster and its namespaces ('*': any).")
class Placement:
    cluster: str
    namespaces: list[str]


@strawberry.type(description="A role of a user: in a team, or platform-wide when team is null.")
class Membership:
    user: str
    team: str | None
    role: str


@strawberry.type
class Team:
    id: int
    name: str
    display_name: str
    description: str
    placements: list[Placement]
    members: list[Membership]
    created_at: datetime

    @classmethod
    def of(cls, session: Session, row: m.Team) -> Team:
        placements = session.exec(
            select(m.Cluster.name, m.TeamPlacement.namespaces)
            .join(m.TeamPlacement, col(m.TeamPlacement.cluster_id) == col(m.Cluster.id))
            .where(col(m.TeamPlacement.team_id) == row.id)
            .order_by(col(m.Cluster.name))
        ).all()
        members = session.exec(
            select(m.User.name, m.Membership.role)
            .join(m.Membership, col(m.Membership.user_id) == col(m.User.id))
            .where(col(m.Membership.team_id) == row.id)
            .order_by(col(m.User.name))
        ).all()
        assert row.id is not None
        return cls(
            id=row.id,
            name=row.name,
            display_name=row.display_name,
            description=row.description,
            placements=[Placement(cluster=c, namespaces=list(ns)) for c, ns in placements],
            members=[Membership(user=u, team=row.name, role=str(r)) for u, r in members],
            created_at=row.created_at,
        )


@strawberry.type
class User:
    id: int
    name: str
    email: str | None
    display_name: str
    is_active: bool
    memberships: list[Membership]
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, session: Session, row: m.User) -> User:
        rows = session.exec(select(m.Membership).where(col(m.Membership.user_id) == row.id)).all()
        assert row.id is not None
        return cls(
            id=row.id,
            name=row.name,
            email=row.email,
            display_name=row.display_name,
            is_active=row.is_active,
            memberships=[
                Membership(user=row.name, team=name_of(session, m.Team, ms.team_id), role=ms.role.value) for ms in rows
            ],
            created_at=row.created_at,
            last_login_at=row.last_login_at,
        )


@strawberry.type(description="A personal access token; its secret is shown only once, when it is created.")
class Token:
    id: int
    user: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, session: Session, row: m.PersonalAccessToken) -> Token:
        assert row.id is not None
        return cls(
            id=row.id,
            user=name_of(session, m.User, row.user_id) or "",
            name=row.name,
            prefix=row.prefix,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            last_used_at=row.last_used_at,
        )


@strawberry.type(description="A new personal access token: `token` is shown now and never again.")
class IssuedToken:
    token: str
    info: Token


@strawberry.type(description="A new user and a personal access token for them (shown now and never again).")
class CreatedUser:
    user: User
    token: str


@strawberry.type
class SyncStatus:
    cluster: str
    product: str | None
    state: str
    message: str
    observed_generation: int
    updated_at: datetime

    @classmethod
    def of(cls, session: Session, row: m.ClusterSyncStatus) -> SyncStatus:
        return cls(
            cluster=name_of(session, m.Cluster, row.cluster_id) or "",
            product=name_of(session, m.Product, row.product_id),
            state=row.state.value,
            message=row.message,
            observed_generation=row.observed_generation,
            updated_at=row.updated_at,
        )


@strawberry.type
class Cluster:
    id: int
    name: str
    region: str
    zone: str
    residency: str
    gloo: sh.GlooSettings
    allow_loopback: bool
    allowed_hosts: list[str]
    labels: list[sh.Label]
    sync_status: list[SyncStatus]

    @classmethod
    def of(cls, session: Session, row: m.Cluster) -> Cluster:
        statuses = session.exec(select(m.ClusterSyncStatus).where(col(m.ClusterSyncStatus.cluster_id) == row.id)).all()
        assert row.id is not None
        return cls(
            id=row.id,
            name=row.name,
            region=row.region,
            zone=row.zone,
            residency=row.residency,
            gloo=sh.GlooSettings.of(row.gloo),
            allow_loopback=row.allow_loopback,
            allowed_hosts=list(row.allowed_hosts),
            labels=sh.labels(row.labels),
            sync_status=[SyncStatus.of(session, s) for s in statuses],
        )


@strawberry.type(description="One immutable published schema of a service.")
class ServiceVersion:
    version: int
    schema_hash: str
    schema_text: str
    created_by: str
    created_at: datetime


@strawberry.type(description="A service in one cluster: a Kubernetes Service reference or an address.")
class Deployment:
    cluster: str
    kube_service: str | None
    kube_namespace: str | None
    kube_port: int | None
    address: str | None
    health_path: str | None


@strawberry.type
class Service:
    id: int
    name: str
    team: str
    protocol: str
    entities: list[sh.Entity]
    traffic: sh.Traffic
    description: str
    current_version: int | None
    versions: list[ServiceVersion]
    deployments: list[Deployment]

    @classmethod
    def of(cls, session: Session, row: m.Service) -> Service:
        versions = session.exec(
            select(m.ServiceVersion)
            .where(col(m.ServiceVersion.service_id) == row.id)
            .order_by(col(m.ServiceVersion.version))
        ).all()
        deployments = session.exec(
            select(m.ServiceDeployment).where(col(m.ServiceDeployment.service_id) == row.id)
        ).all()
        assert row.id is not None
        return cls(
            id=row.id,
            name=row.name,
            team=name_of(session, m.Team, row.team_id) or "",
            protocol=row.protocol.value,
            entities=sh.entities(row.entities),
            traffic=sh.Traffic.of(row.traffic),
            description=row.description,
            current_version=row.current_version,
            versions=[
                ServiceVersion(
                    version=v.version,
                    schema_hash=v.schema_hash,
                    schema_text=v.schema_text,
                    created_by=v.created_by,
                    created_at=v.created_at,
                )
                for v in versions
            ],
            deployments=[
                Deployment(
                    cluster=name_of(session, m.Cluster, d.cluster_id) or "",
                    kube_service=d.kube_service,
                    kube_namespace=d.kube_namespace,
                    kube_port=d.kube_port,
                    address=d.address,
                    health_path=d.health_path,
                )
                for d in deployments
            ],
        )


@strawberry.type
class ProductSource:
    service: str
    service_version: int | None
    position: int
    transforms: sh.Transforms


@strawberry.type
class ProductVersion:
    version: str
    lifecycle: str
    routing: sh.Routing
    rest: list[sh.RestRoute]
    composed_sdl: str | None
    sources: list[ProductSource]
    prefer: list[sh.Preference] = strawberry.field(
        description="Which source's definition wins for a type that several define."
    )
    links: list[sh.Link] = strawberry.field(description="Fields the product adds to join services.")
    created_by: str
    created_at: datetime


@strawberry.type
class Product:
    id: int
    name: str
    team: str
    display_name: str
    description: str
    tags: list[str]
    current_version: str | None
    versions: list[ProductVersion]
    plans: list[str]

    @classmethod
    def of(cls, session: Session, row: m.Product) -> Product:
        versions = session.exec(
            select(m.ProductVersion)
            .where(col(m.ProductVersion.product_id) == row.id)
            .order_by(col(m.ProductVersion.id))
        ).all()
        plans = session.exec(
            select(m.Plan.name)
            .join(m.ProductPlan, col(m.ProductPlan.plan_id) == col(m.Plan.id))
            .where(col(m.ProductPlan.product_id) == row.id)
            .order_by(col(m.Plan.name))
        ).all()
        assert row.id is not None
        return cls(
            id=row.id,
            name=row.name,
            team=name_of(session, m.Team, row.team_id) or "",
            display_name=row.display_name,
            description=row.description,
            tags=list(row.tags),
            current_version=row.current_version,
            versions=[_product_version(session, v) for v in versions],
            plans=list(plans),
        )


def _product_version(session: Session, row: m.ProductVersion) -> ProductVersion:
    sources = session.exec(
        select(m.ProductSource)
        .where(col(m.ProductSource.product_version_id) == row.id)
        .order_by(col(m.ProductSource.position))
    ).all()
    out: list[ProductSource] = []
    for s in sources:
        pinned = session.get(m.ServiceVersion, s.service_version_id) if s.service_version_id is not None else None
        out.append(
            ProductSource(
                service=name_of(session, m.Service, s.service_id) or "",
                service_version=pinned.version if pinned is not None else None,
                position=s.position,
                transforms=sh.Transforms.of(s.transforms),
            )
        )
    return ProductVersion(
        version=row.version,
        lifecycle=row.lifecycle.value,
        routing=sh.Routing.of(row.routing),
        rest=sh.rest_routes(row.rest),
        composed_sdl=row.composed_sdl,
        sources=out,
        prefer=sh.preferences(row.stitching),
        links=sh.links(row.stitching),
        created_by=row.created_by,
        created_at=row.created_at,
    )


@strawberry.type
class Plan:
    id: int
    name: str
    display_name: str
    description: str
    rate_limit_requests: int
    rate_limit_per_seconds: int
    auth_kinds: list[str]
    auto_approve: bool

    @classmethod
    def of(cls, row: m.Plan) -> Plan:
        assert row.id is not None
        return cls(
            id=row.id,
            name=row.name,
            display_name=row.display_name,
            description=row.description,
            rate_limit_requests=row.rate_limit_requests,
            rate_limit_per_seconds=row.rate_limit_per_seconds,
            auth_kinds=list(row.auth_kinds),
            auto_approve=row.auto_approve,
        )


@strawberry.type(description="An API key (prefix) or an OAuth2 client (client id). Secrets are never returned.")
class Credential:
    id: int
    application_id: int
    kind: str
    name: str
    prefix: str | None
    client_id: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, row: m.Credential) -> Credential:
        assert row.id is not None
        return cls(
            id=row.id,
            application_id=row.application_id,
            kind=row.kind.value,
            name=row.name,
            prefix=row.prefix,
            client_id=row.client_id,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            last_used_at=row.last_used_at,
        )


@strawberry.type(description="A new credential: `secret` (the API key or the client secret) is shown only now.")
class IssuedCredential:
    credential: Credential
    secret: str


@strawberry.type
class Subscription:
    id: int
    application_id: int
    application: str
    product: str
    plan: str
    state: str
    requested_by: str
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, session: Session, row: m.Subscription) -> Subscription:
        assert row.id is not None
        return cls(
            id=row.id,
            application_id=row.application_id,
            application=name_of(session, m.Application, row.application_id) or "",
            product=name_of(session, m.Product, row.product_id) or "",
            plan=name_of(session, m.Plan, row.plan_id) or "",
            state=row.state.value,
            requested_by=row.requested_by,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            created_at=row.created_at,
        )


@strawberry.type
class Application:
    id: int
    name: str
    description: str
    owner: str
    team: str | None
    credentials: list[Credential]
    subscriptions: list[Subscription]
    created_at: datetime

    @classmethod
    def of(cls, session: Session, row: m.Application) -> Application:
        creds = session.exec(
            select(m.Credential).where(col(m.Credential.application_id) == row.id).order_by(col(m.Credential.id))
        ).all()
        subs = session.exec(
            select(m.Subscription).where(col(m.Subscription.application_id) == row.id).order_by(col(m.Subscription.id))
        ).all()
        assert row.id is not None
        return cls(
            id=row.id,
            name=row.name,
            description=row.description,
            owner=name_of(session, m.User, row.owner_id) or "",
            team=name_of(session, m.Team, row.team_id),
            credentials=[Credential.of(c) for c in creds],
            subscriptions=[Subscription.of(session, s) for s in subs],
            created_at=row.created_at,
        )


@strawberry.type
class AuditEvent:
    id: int
    actor: str
    action: str
    target_kind: str
    target_name: str
    summary: list[sh.AuditDetail]
    outcome: str
    via: str
    request_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: m.AuditEvent) -> AuditEvent:
        assert row.id is not None
        return cls(
            id=row.id,
            actor=row.actor,
            action=row.action,
            target_kind=row.target_kind,
            target_name=row.target_name,
            summary=sh.audit_details(row.summary),
            outcome=row.outcome.value,
            via=row.via,
            request_id=row.request_id,
            created_at=row.created_at,
        )


@strawberry.type(description="What `apply` or `delete` changed (or, in a dry run, would change) for one resource.")
class Change:
    kind: str
    name: str
    action: str = strawberry.field(description="created, updated or unchanged")
    details: list[str]
