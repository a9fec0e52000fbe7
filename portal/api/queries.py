"""The admin API's queries. Every query needs a signed-in caller; what is private is filtered by the actor:
applications, credentials and subscriptions are visible to their owner, to the product's or application's team and
to platform admins; the audit log shows a platform admin everything and anybody else their own events."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, TypeVar

import strawberry
from sqlalchemy import or_
from sqlmodel import Session, col, select
from strawberry.scalars import JSON
from strawberry.types import Info

from portal import models as m
from portal.api import fleet, shapes as sh, types as t, usage
from portal.api.context import Context, run
from portal.authorization import Actor, Target, is_allowed
from portal.db import find_by_name
from portal.errors import Forbidden, Invalid, NotFound, Unauthenticated

__all__ = ["Query", "visible_subscriptions"]

_MAX_PAGE = 500
E = TypeVar("E", bound=enum.StrEnum)


def _signed_in(actor: Actor) -> None:
    if not actor.is_authenticated:
        raise Unauthenticated("the admin API requires signing in: pass 'Authorization: Bearer <personal access token>'")


def _is_consumer(actor: Actor) -> bool:
    """A signed-in user with no role: sees the catalog (products, plans) and their own things, not the platform."""
    return actor.kind == "user" and not (actor.platform_admin or actor.read_only or actor.team_roles)


def _staff_only(actor: Actor, what: str) -> None:
    _signed_in(actor)
    if _is_consumer(actor):
        raise Forbidden(
            f"{what} is for platform staff and team members (it names deployment addresses and cluster settings); "
            "the catalog is in products and plans"
        )


def _enum_value(enum_type: type[E], value: str, argument: str) -> E:
    try:
        return enum_type(value)
    except ValueError as exc:
        allowed = ", ".join(v.value for v in enum_type)
        raise Invalid(f"'{value}' is not a valid {argument}: use one of {allowed}", path=argument) from exc


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _page(limit: int) -> int:
    return max(1, min(limit, _MAX_PAGE))


def _team_ids(session: Session, actor: Actor) -> list[int]:
    if not actor.team_roles:
        return []
    return [
        team_id
        for team_id in session.exec(select(m.Team.id).where(col(m.Team.name).in_(list(actor.team_roles)))).all()
        if team_id is not None
    ]


def _visible_applications(session: Session, actor: Actor) -> Any:
    query = select(m.Application).order_by(col(m.Application.id))
    if actor.platform_admin:
        return query
    return query.where(
        or_(col(m.Application.owner_id) == actor.user_id, col(m.Application.team_id).in_(_team_ids(session, actor)))
    )


def _application(session: Session, actor: Actor, application_id: int) -> m.Application:
    row = session.exec(_visible_applications(session, actor).where(col(m.Application.id) == application_id)).first()
    if row is None:  # invisible and missing look the same, so ids reveal nothing
        raise NotFound(f"application {application_id} does not exist or is not yours")
    assert isinstance(row, m.Application)
    return row


def visible_subscriptions(session: Session, actor: Actor) -> Any:
    """Subscriptions the actor may see, by id: their own applications' and their teams' products' (all: platform
    admin)."""
    _signed_in(actor)
    query = select(m.Subscription).order_by(col(m.Subscription.id))
    if actor.platform_admin:
        return query
    own_apps = select(m.Application.id).where(col(m.Application.owner_id) == actor.user_id)
    team_products = select(m.Product.id).where(col(m.Product.team_id).in_(_team_ids(session, actor)))
    return query.where(
        or_(col(m.Subscription.application_id).in_(own_apps), col(m.Subscription.product_id).in_(team_products))
    )


@strawberry.type
class Query:
    subscription_usage: usage.PlanUsage = strawberry.field(
        resolver=usage.subscription_usage,
        description="A subscription's use of its plan's rate limit in the current window, as the gateway counts it.",
    )
    fleet_status: list[fleet.ClusterStatus] = strawberry.field(
        resolver=fleet.fleet_status,
        description="What the sync worker last saw in each cluster (or one), with each product's (or one's) verdict.",
    )

    @t.described("The signed-in user (null for the local system actor).")
    async def me(self, info: Info[Context, None]) -> t.User | None:
        def work(session: Session, actor: Actor) -> t.User | None:
            _signed_in(actor)
            user = session.get(m.User, actor.user_id) if actor.user_id is not None else None
            return t.User.of(session, user) if user is not None else None

        return await run(info, work)

    @t.described(
        "Declarative resources of a kind (Cluster, Team, Service, Product, Plan), optionally one by name, in the "
        "shape `loom apply` reads: applying them back changes nothing."
    )
    async def resources(self, info: Info[Context, None], kind: str, name: str | None = None) -> JSON:
        from portal import resources

        def work(session: Session, actor: Actor) -> JSON:
            _signed_in(actor)
            if kind.lower().rstrip("s") not in ("product", "plan"):
                _staff_only(actor, f"reading {kind[:40]} resources")
            return JSON(resources.get(session, actor, kind, name))

        return await run(info, work)

    @strawberry.field
    async def teams(self, info: Info[Context, None]) -> list[t.Team]:
        def work(session: Session, actor: Actor) -> list[t.Team]:
            _signed_in(actor)
            return [t.Team.of(session, r) for r in session.exec(select(m.Team).order_by(col(m.Team.name)))]

        return await run(info, work)

    @strawberry.field
    async def team(self, info: Info[Context, None], name: str) -> t.Team:
        def work(session: Session, actor: Actor) -> t.Team:
            _signed_in(actor)
            return t.Team.of(session, find_by_name(session, m.Team, "team", name))

        return await run(info, work)

    @strawberry.field
    async def users(self, info: Info[Context, None]) -> list[t.User]:
        def work(session: Session, actor: Actor) -> list[t.User]:
            _signed_in(actor)
            query = select(m.User).order_by(col(m.User.name))
            if _is_consumer(actor):  # a consumer sees themselves, not every user's roles and email
                query = query.where(col(m.User.id) == actor.user_id)
            return [t.User.of(session, r) for r in session.exec(query)]

        return await run(info, work)

    @strawberry.field
    async def user(self, info: Info[Context, None], name: str) -> t.User:
        def work(session: Session, actor: Actor) -> t.User:
            _signed_in(actor)
            if _is_consumer(actor) and name != actor.name:  # answered like a user that does not exist
                raise NotFound(f"no user named {name[:100]!r}")
            return t.User.of(session, find_by_name(session, m.User, "user", name))

        return await run(info, work)

    @t.described("Personal access tokens: one's own; a platform admin may name another user.")
    async def tokens(self, info: Info[Context, None], user: str | None = None) -> list[t.Token]:
        def work(session: Session, actor: Actor) -> list[t.Token]:
            _signed_in(actor)
            user_id = actor.user_id
            if user is not None and user != actor.name:
                if not actor.platform_admin:
                    raise Forbidden(f"{actor.describe()} may list only their own tokens, not those of '{user}'")
                user_id = find_by_name(session, m.User, "user", user).id
            query = select(m.PersonalAccessToken).where(col(m.PersonalAccessToken.user_id) == user_id)
            return [t.Token.of(session, r) for r in session.exec(query.order_by(col(m.PersonalAccessToken.id)))]

        return await run(info, work)

    @strawberry.field
    async def clusters(self, info: Info[Context, None]) -> list[t.Cluster]:
        def work(session: Session, actor: Actor) -> list[t.Cluster]:
            _staff_only(actor, "the cluster list")
            return [t.Cluster.of(session, r) for r in session.exec(select(m.Cluster).order_by(col(m.Cluster.name)))]

        return await run(info, work)

    @strawberry.field
    async def cluster(self, info: Info[Context, None], name: str) -> t.Cluster:
        def work(session: Session, actor: Actor) -> t.Cluster:
            _staff_only(actor, "a cluster's settings")
            return t.Cluster.of(session, find_by_name(session, m.Cluster, "cluster", name))

        return await run(info, work)

    @t.described("Sync status per cluster (and per product in it), optionally of one cluster.")
    async def sync_status(self, info: Info[Context, None], cluster: str | None = None) -> list[t.SyncStatus]:
        def work(session: Session, actor: Actor) -> list[t.SyncStatus]:
            _staff_only(actor, "the sync status")
            query = select(m.ClusterSyncStatus).order_by(col(m.ClusterSyncStatus.id))
            if cluster is not None:
                query = query.where(
                    col(m.ClusterSyncStatus.cluster_id) == find_by_name(session, m.Cluster, "cluster", cluster).id
                )
            return [t.SyncStatus.of(session, r) for r in session.exec(query)]

        return await run(info, work)

    @strawberry.field
    async def services(self, info: Info[Context, None], team: str | None = None) -> list[t.Service]:
        def work(session: Session, actor: Actor) -> list[t.Service]:
            _staff_only(actor, "the service list")
            query = select(m.Service).order_by(col(m.Service.name))
            if team is not None:
                query = query.where(col(m.Service.team_id) == find_by_name(session, m.Team, "team", team).id)
            return [t.Service.of(session, r) for r in session.exec(query)]

        return await run(info, work)

    @strawberry.field
    async def service(self, info: Info[Context, None], name: str) -> t.Service:
        def work(session: Session, actor: Actor) -> t.Service:
            _staff_only(actor, "a service's deployments")
            return t.Service.of(session, find_by_name(session, m.Service, "service", name))

        return await run(info, work)

    @strawberry.field
    async def products(
        self, info: Info[Context, None], team: str | None = None, tag: str | None = None
    ) -> list[t.Product]:
        """Every product (of ``team``; carrying ``tag``), by name."""

        def work(session: Session, actor: Actor) -> list[t.Product]:
            _signed_in(actor)
            query = select(m.Product).order_by(col(m.Product.name))
            if team is not None:
                query = query.where(col(m.Product.team_id) == find_by_name(session, m.Team, "team", team).id)
            rows = session.exec(query).all()
            return [t.Product.of(session, r) for r in rows if tag is None or tag in r.tags]

        return await run(info, work)

    @strawberry.field
    async def product(self, info: Info[Context, None], name: str) -> t.Product:
        def work(session: Session, actor: Actor) -> t.Product:
            _signed_in(actor)
            return t.Product.of(session, find_by_name(session, m.Product, "product", name))

        return await run(info, work)

    @t.described(
        "Compose a Product resource (as `apply` takes it) from its services' published schemas, without saving "
        "anything: the schema it would serve, or its conflicts. A wrong document is refused with its location."
    )
    async def compose_preview(self, info: Info[Context, None], document: JSON) -> sh.CompositionPreview:
        from portal import resources
        from portal.composer import CompositionFailed, compose_specs, print_product, stitching_from
        from portal.manifests import Product
        from portal.publishing import latest_version
        from portal.resources.composition import spec_of, stitching_problem
        from portal.resources.product import check_stitching_names, source_dict
        from portal.resources.world import missing

        max_bytes = info.context.settings.auth.max_document_bytes

        def work(session: Session, actor: Actor) -> sh.CompositionPreview:
            _staff_only(actor, "a composition preview (it shows services' schemas)")
            doc = resources.parse_json([document], max_bytes=max_bytes)[0]
            product = doc.resource
            if not isinstance(product, Product):
                raise doc.error("kind", f"a composition preview takes a Product, not a {doc.kind}")
            sources, unpublished = [], []
            for index, source in enumerate(product.spec.sources):
                service = session.exec(select(m.Service).where(col(m.Service.name) == source.service)).first()
                if service is None:
                    known = dict.fromkeys(session.exec(select(m.Service.name)).all())
                    raise doc.error(f"spec.sources[{index}].service", missing("Service", source.service, known))
                version = latest_version(session, service)
                if version is None:
                    unpublished.append(source.service)
                    continue
                inputs = {
                    "protocol": service.protocol.value,
                    "schema": version.schema_text,
                    "files": dict(version.schema_files),
                    "entities": dict(service.entities),
                }
                sources.append(spec_of(source_dict(source), inputs))
            check_stitching_names(doc)  # after the sources, in the order apply checks them
            if not sources:
                return sh.CompositionPreview(composes=False, sdl=None, conflicts=[], unpublished=unpublished)
            # prefer and links as apply checks them: only once every source has a schema to check them against
            stitching = stitching_from({} if unpublished else product.spec.stitching())
            try:
                supergraph = compose_specs(doc.name, sources, stitching)
            except CompositionFailed as exc:
                problem = stitching_problem(doc, exc)
                if problem is not None:  # prefer or links name something wrong: beside its field, as apply says it
                    raise problem from exc
                return sh.CompositionPreview(
                    composes=False, sdl=None, conflicts=list(exc.conflicts), unpublished=unpublished
                )
            sdl = print_product(supergraph)
            return sh.CompositionPreview(composes=not unpublished, sdl=sdl, conflicts=[], unpublished=unpublished)

        return await run(info, work)

    @strawberry.field
    async def plans(self, info: Info[Context, None]) -> list[t.Plan]:
        def work(session: Session, actor: Actor) -> list[t.Plan]:
            _signed_in(actor)
            return [t.Plan.of(r) for r in session.exec(select(m.Plan).order_by(col(m.Plan.name)))]

        return await run(info, work)

    @strawberry.field
    async def plan(self, info: Info[Context, None], name: str) -> t.Plan:
        def work(session: Session, actor: Actor) -> t.Plan:
            _signed_in(actor)
            return t.Plan.of(find_by_name(session, m.Plan, "plan", name))

        return await run(info, work)

    @t.described("Applications the caller owns or whose team they belong to (all: platform admin).")
    async def applications(self, info: Info[Context, None]) -> list[t.Application]:
        def work(session: Session, actor: Actor) -> list[t.Application]:
            _signed_in(actor)
            return [t.Application.of(session, r) for r in session.exec(_visible_applications(session, actor))]

        return await run(info, work)

    @strawberry.field
    async def application(self, info: Info[Context, None], id: int) -> t.Application:
        def work(session: Session, actor: Actor) -> t.Application:
            _signed_in(actor)
            return t.Application.of(session, _application(session, actor, id))

        return await run(info, work)

    @t.described("An application's credentials (never their secrets).")
    async def credentials(self, info: Info[Context, None], application_id: int) -> list[t.Credential]:
        def work(session: Session, actor: Actor) -> list[t.Credential]:
            _signed_in(actor)
            app = _application(session, actor, application_id)
            query = select(m.Credential).where(col(m.Credential.application_id) == app.id)
            return [t.Credential.of(r) for r in session.exec(query.order_by(col(m.Credential.id)))]

        return await run(info, work)

    @t.described("Subscriptions of the caller's applications and to their teams' products (all: platform admin).")
    async def subscriptions(
        self,
        info: Info[Context, None],
        product: str | None = None,
        state: str | None = None,
        application_id: int | None = None,
    ) -> list[t.Subscription]:
        def work(session: Session, actor: Actor) -> list[t.Subscription]:
            query = visible_subscriptions(session, actor)
            if product is not None:
                product_id = find_by_name(session, m.Product, "product", product).id
                query = query.where(col(m.Subscription.product_id) == product_id)
            if state is not None:
                query = query.where(col(m.Subscription.state) == _enum_value(m.SubscriptionState, state, "state"))
            if application_id is not None:
                query = query.where(col(m.Subscription.application_id) == application_id)
            return [t.Subscription.of(session, r) for r in session.exec(query)]

        return await run(info, work)

    @t.described(
        "The audit log, newest first: everything for a platform admin, else one's own; since and until bound the "
        "time (since inclusive, until exclusive; a time without a zone is UTC)."
    )
    async def audit_events(
        self,
        info: Info[Context, None],
        limit: int = 100,
        offset: int = 0,
        action: str | None = None,
        target_kind: str | None = None,
        target_name: str | None = None,
        actor: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[t.AuditEvent]:
        since, until = _utc(since), _utc(until)
        if since is not None and until is not None and until <= since:
            raise Invalid(f"until ({until.isoformat()}) must be later than since ({since.isoformat()})", path="until")

        def work(session: Session, who: Actor) -> list[t.AuditEvent]:
            _signed_in(who)
            query = select(m.AuditEvent).order_by(col(m.AuditEvent.id).desc())
            if not is_allowed(who, "audit.read", Target("audit", "log")):  # the whole log; else one's own events
                query = query.where(col(m.AuditEvent.actor) == who.name)
            if outcome is not None:
                query = query.where(col(m.AuditEvent.outcome) == _enum_value(m.AuditOutcome, outcome, "outcome"))
            for column, value in (
                (m.AuditEvent.action, action),
                (m.AuditEvent.target_kind, target_kind),
                (m.AuditEvent.target_name, target_name),
                (m.AuditEvent.actor, actor),
            ):
                if value is not None:
                    query = query.where(col(column) == value)
            if since is not None:
                query = query.where(col(m.AuditEvent.created_at) >= since)
            if until is not None:
                query = query.where(col(m.AuditEvent.created_at) < until)
            rows = session.exec(query.offset(max(0, offset)).limit(_page(limit)))
            return [t.AuditEvent.of(r) for r in rows]

        return await run(info, work)
