"""What a gateway serves, built from the portal's desired state (see :mod:`portal.snapshot`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlmodel import Session, col, select

from portal import oauth
from portal.errors import Invalid, NotFound
from portal.models import (
    Application,
    Cluster,
    Credential,
    CredentialKind,
    Plan,
    Product,
    ProductSource,
    ProductVersion,
    Service,
    ServiceDeployment,
    ServiceVersion,
    Subscription,
    SubscriptionState,
    User,
    utcnow,
)
from portal.publishing import latest_version
from portal.snapshot.bundling import bundle_openapi
from portal.sync.model import route
from portal.sync.reading import from_session, served_products
from stitcher.ir import SourceKind
from stitcher.snapshot import (
    ApplicationConfig,
    CredentialConfig,
    CredentialKind as SnapshotCredentialKind,
    EgressConfig,
    EntityConfigModel,
    LinkConfig,
    OAuthConfig,
    PlanConfig,
    ProductConfig,
    RateLimitConfig,
    RestRoute,
    Snapshot,
    SourceConfig,
    SubscriptionConfig,
    SubscriptionState as SnapshotSubscriptionState,
    TransformsConfig,
)

__all__ = ["build_snapshot"]

_AUTH_KINDS: Mapping[str, SnapshotCredentialKind] = {"apiKey": "api_key", "oauth2": "oauth2_client"}
_STATES: Mapping[SubscriptionState, SnapshotSubscriptionState] = {
    SubscriptionState.REQUESTED: "pending",
    SubscriptionState.APPROVED: "approved",
    SubscriptionState.REJECTED: "rejected",
    SubscriptionState.REVOKED: "revoked",
}


def build_snapshot(
    session: Session, *, issuer: str, now: datetime | None = None, cluster: str | None = None
) -> Snapshot:
    """The snapshot of what gateways serve now. ``issuer`` is the portal's public URL (OAuth2 ``iss``).

    With ``cluster``, what that cluster's gateway serves: only the products the routing model lets it process, each
    source addressed through the cluster's own Envoy (so failover happens there), and every other served product
    in ``elsewhere`` with the reason this gateway must refuse it."""
    now = now or utcnow()
    products = served_products(session)
    urls: Mapping[str, Mapping[str, str]] | None = None
    elsewhere: dict[str, str] = {}
    if cluster is not None:
        urls, elsewhere = _cluster_view(session, cluster)
        products = [(product, version) for product, version in products if product.name in urls]
    product_ids = {product.id for product, _version in products}
    plans = session.exec(select(Plan).order_by(col(Plan.name))).all()
    subscriptions = [
        s
        for s in session.exec(select(Subscription).order_by(col(Subscription.id))).all()
        if s.product_id in product_ids
    ]
    # Every application with a credential, subscribed or not: a valid key without a subscription must be told so
    # (403, naming the product and how to subscribe), not taken for an unknown key (401).
    app_ids = {s.application_id for s in subscriptions} | set(
        session.exec(select(Credential.application_id).distinct()).all()
    )
    applications = {
        a.id: a for a in session.exec(select(Application).where(col(Application.id).in_(app_ids))).all() if a.id
    }
    owners = {
        u.id: u.name
        for u in session.exec(select(User).where(col(User.id).in_({a.owner_id for a in applications.values()}))).all()
    }
    app_names = {app_id: f"{owners.get(a.owner_id, '?')}/{a.name}" for app_id, a in applications.items()}
    product_names = {product.id: product.name for product, _version in products}
    plan_names = {plan.id: plan.name for plan in plans}
    credentials = session.exec(
        select(Credential).where(col(Credential.application_id).in_(app_ids)).order_by(col(Credential.id))
    ).all()
    return Snapshot(
        products=[
            _product_config(session, product, version, None if urls is None else urls[product.name])
            for product, version in products
        ],
        plans=[_plan_config(plan) for plan in plans],
        applications=[ApplicationConfig(name=app_names[app_id]) for app_id in sorted(app_names)],
        credentials=[_credential_config(c, app_names[c.application_id], now) for c in credentials],
        subscriptions=[
            SubscriptionConfig(
                application=app_names[s.application_id],
                product=product_names[s.product_id],
                plan=plan_names[s.plan_id],
                state=_STATES[s.state],
            )
            for s in subscriptions
        ],
        oauth=OAuthConfig(
            issuer=issuer.rstrip("/"),
            audience=oauth.GATEWAY_AUDIENCE,
            jwks_url=issuer.rstrip("/") + oauth.JWKS_PATH,
        ),
        generated_at=now,
        cluster=cluster,
        elsewhere=elsewhere,
    )


def _cluster_view(session: Session, cluster: str) -> tuple[dict[str, Mapping[str, str]], dict[str, str]]:
    """The service URLs of each product ``cluster``'s gateway processes, and why it must not process the others."""
    desired = from_session(session)
    if cluster not in desired.clusters:
        raise NotFound(f"cluster {cluster!r} does not exist; `loom get clusters` lists them")
    here = desired.clusters[cluster]
    routing = route(desired)[cluster]
    urls = {p.product: p.service_urls for p in routing.gateway_products}
    elsewhere: dict[str, str] = {}
    for name, spec in desired.products.items():
        if name in urls:
            continue
        if cluster not in spec.clusters:
            offered = ", ".join(spec.clusters) or "none"
            elsewhere[name] = f"product {name!r} is not offered in cluster {cluster!r} (its clusters: {offered})"
        elif spec.residency and here.residency != spec.residency:
            elsewhere[name] = (
                f"product {name!r} is kept in residency zone {spec.residency!r} and cluster {cluster!r} is in "
                f"{here.residency or 'no zone'!r}: send requests through this cluster's Envoy, which forwards them "
                "into the zone"
            )
        else:
            problems = "; ".join(p.message for p in routing.problems if p.product == name) or "it cannot be routed"
            elsewhere[name] = f"product {name!r} cannot be processed in cluster {cluster!r}: {problems}"
    return urls, elsewhere


def _product_config(
    session: Session, product: Product, version: ProductVersion, urls: Mapping[str, str] | None = None
) -> ProductConfig:
    sources = session.exec(
        select(ProductSource)
        .where(col(ProductSource.product_version_id) == version.id)
        .order_by(col(ProductSource.position))
    ).all()
    routing = version.routing or {}
    return ProductConfig(
        name=product.name,
        version=version.version,
        lifecycle=version.lifecycle.value,
        sources=[_source_config(session, product, source, urls) for source in sources],
        supergraph_sdl=version.supergraph_sdl,
        rest=[
            RestRoute(
                method=str(route.get("method", "GET")).upper(),
                path=str(route["path"]),
                operation=str(route["operation"]),
                operation_name=route.get("operationName"),
            )
            for route in version.rest
        ],
        residency=routing.get("residency"),
        prefer=dict((version.stitching or {}).get("prefer") or {}),
        links=[
            LinkConfig(
                type_name=link["type"],
                field=link["field"],
                service=link["service"],
                operation=link["operation"],
                arguments=dict(link.get("arguments") or {}),
                description=link.get("description"),
                returns=link.get("returns"),
            )
            for link in (version.stitching or {}).get("links") or ()
        ],
    )


def _source_config(
    session: Session, product: Product, source: ProductSource, urls: Mapping[str, str] | None = None
) -> SourceConfig:
    service = session.get(Service, source.service_id)
    if service is None:  # the foreign key forbids it
        raise Invalid(f"product {product.name!r} refers to service id {source.service_id}, which is gone")
    schema = (
        session.get(ServiceVersion, source.service_version_id)
        if source.service_version_id is not None
        else latest_version(session, service)
    )
    if schema is None:
        raise Invalid(f"service {service.name!r} of product {product.name!r} has no published schema")
    text = schema.schema_text
    if schema.schema_files and service.protocol is SourceKind.OPENAPI:
        text = bundle_openapi(text, schema.schema_files, service=service.name)
    transforms = source.transforms or {}
    url, egress = _service_url(session, service) if urls is None else (urls.get(service.name), None)
    return SourceConfig(
        name=service.name,
        protocol=service.protocol,
        schema_text=text,
        # Through the cluster's Envoy when the snapshot is a cluster's (None there: the routing model found no way).
        url=url,
        # A deployment address a team admin chose: the gateway checks it against its cluster's egress policy on every
        # connection. The cluster's Envoy (a cluster's snapshot) and a Kubernetes Service name are the platform's.
        egress=egress,
        max_response_bytes=(service.traffic or {}).get("maxResponseBytes"),
        entities={
            type_name: EntityConfigModel(
                key=str(entity["key"]),
                operation=str(entity["operation"]),
                argument=entity.get("argument"),
                batched=entity.get("batched"),
            )
            for type_name, entity in (service.entities or {}).items()
        },
        transforms=TransformsConfig(
            prefix=transforms.get("prefix"),
            rename_types=dict(transforms.get("renameTypes") or {}),
            rename_fields=dict(transforms.get("renameFields") or {}),
            hide=list(transforms.get("hide") or []),
            type_patterns=dict(transforms.get("typePatterns") or {}),
            root_field_patterns=dict(transforms.get("rootFieldPatterns") or {}),
        ),
    )


def _service_url(session: Session, service: Service) -> tuple[str | None, EgressConfig | None]:
    """The URL the whole-fleet gateway uses for ``service``, and the egress policy it must check it against."""
    deployments = session.exec(
        select(ServiceDeployment)
        .where(col(ServiceDeployment.service_id) == service.id)
        .order_by(col(ServiceDeployment.id))
    ).all()
    for deployment in deployments:
        if deployment.address:
            cluster = session.get(Cluster, deployment.cluster_id)
            egress = (
                EgressConfig(allow_loopback=cluster.allow_loopback, allowed_hosts=list(cluster.allowed_hosts or ()))
                if cluster is not None
                else EgressConfig()  # the foreign key forbids it; the strict policy if it ever happens
            )
            return deployment.address, egress
    for deployment in deployments:
        if deployment.kube_service:
            namespace = deployment.kube_namespace or "default"
            port = f":{deployment.kube_port}" if deployment.kube_port else ""
            return f"http://{deployment.kube_service}.{namespace}.svc.cluster.local{port}", None
    return None, None


def _plan_config(plan: Plan) -> PlanConfig:
    kinds = [_AUTH_KINDS[kind] for kind in plan.auth_kinds if kind in _AUTH_KINDS]
    return PlanConfig(
        name=plan.name,
        rate_limit=RateLimitConfig(requests=plan.rate_limit_requests, window_seconds=plan.rate_limit_per_seconds),
        auth=kinds or ["api_key", "oauth2_client"],
    )


def _credential_config(credential: Credential, application: str, now: datetime) -> CredentialConfig:
    expired = credential.expires_at is not None and credential.expires_at <= now
    api_key = credential.kind is CredentialKind.API_KEY
    return CredentialConfig(
        id=str(credential.id),
        application=application,
        kind="api_key" if api_key else "oauth2_client",
        prefix=credential.prefix if api_key else None,
        key_hash=credential.secret_hash if api_key else None,  # SHA-256 of the key; OAuth2 secrets stay home
        client_id=None if api_key else credential.client_id,
        revoked=credential.revoked_at is not None or expired,
        expires_at=credential.expires_at,
    )
