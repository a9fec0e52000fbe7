"""The gateway's configuration snapshot: built from the portal's desired state, served at ``/api/gateway/snapshot``.

The shape is the stitcher's :class:`stitcher.snapshot.Snapshot`. The ETag is its content fingerprint, so any
change that matters to a gateway (a publish, a lifecycle, a deployment address, a credential, a subscription, a
plan limit) gives a new ETag, and nothing else does. ``If-None-Match`` with the current ETag gets a 304.

What is served:

* Products whose current version is ``published`` or ``deprecated`` (drafts and retired versions are not).
* Each source with the schema its product version pinned (else the service's newest), relative ``$ref`` files
  bundled into the document (the gateway has no files), and the address of its first deployment with one (else
  the Kubernetes service's cluster DNS name).
* Every plan; every application with a credential, with its credentials; every subscription to a served product.
  Applications are named ``owner/name`` (names are unique per owner only). Expired or revoked credentials are
  sent as revoked, so the gateway can say why it refuses them; requested subscriptions are sent as ``pending``.

Only a caller allowed ``gateway.snapshot`` may read it (it carries credential hashes and who may call what): a
platform admin, or a gateway robot account (``loom gateways create``) for the clusters it was granted.

``?cluster=NAME`` gives one cluster's view (``loom gateway --cluster NAME``): the products the routing model
(:mod:`portal.sync.model`) lets that cluster's gateway process, each source addressed through the cluster's own
Envoy, and the other served products in ``elsewhere`` with the reason (the gateway answers them 421).
"""

from __future__ import annotations

import copy
import json
import posixpath
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from portal import oauth
from portal.authentication import require_actor
from portal.authorization import Target, authorize
from portal.db import session_scope
from portal.errors import Forbidden, Invalid, LoomError, NotFound
from portal.gateway_checkins import EMBEDDED, gateway_version, record_checkin
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
from portal.sync.model import route
from portal.sync.reading import from_session, served_products
from stitcher import load_text
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
from stitcher.snapshot_source import SNAPSHOT_PATH, VERSION as GATEWAY_VERSION, SnapshotError

__all__ = ["SNAPSHOT_PATH", "LocalSnapshotSource", "build_snapshot", "bundle_openapi", "routes", "snapshot_endpoint"]

_AUTH_KINDS: Mapping[str, SnapshotCredentialKind] = {"apiKey": "api_key", "oauth2": "oauth2_client"}
_STATES: Mapping[SubscriptionState, SnapshotSubscriptionState] = {
    SubscriptionState.REQUESTED: "pending",
    SubscriptionState.APPROVED: "approved",
    SubscriptionState.REJECTED: "rejected",
    SubscriptionState.REVOKED: "revoked",
}
_BUNDLE_KEY = "x-loom-bundled"


# --- building -----------------------------------------------------------------------------------------------------


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
    )


# --- bundling relative $ref files -------------------------------------------------------------------------------


def _load(text: str, name: str, service: str) -> Any:
    """The stitcher's own JSON/YAML reading (no timestamps, YAML 1.2 booleans), so both see the same document."""
    try:
        return load_text(text)
    except ValueError as exc:
        raise Invalid(f"service {service!r}: schema file {name!r} is neither JSON nor YAML: {exc}") from exc


def bundle_openapi(text: str, files: Mapping[str, str], *, service: str) -> str:
    """One JSON document from an OpenAPI document and its relative ``$ref`` files.

    Each referenced part of another file is copied once under ``x-loom-bundled`` at the root and the reference is
    rewritten to point there, so recursive and shared schemas keep working. Remote references are left alone (the
    gateway refuses them itself); a file that is not among ``files`` is an error that names it.
    """
    root = _load(text, "the main document", service)
    if not isinstance(root, dict):
        raise Invalid(f"service {service!r}: the OpenAPI document is not an object")
    documents: dict[str, Any] = {}
    bundled: dict[str, Any] = {}
    names: dict[tuple[str, str], str] = {}

    def document(path: str) -> Any:
        if path not in documents:
            if path not in files:
                raise Invalid(f"service {service!r}: $ref to {path!r}, which is not among the schema's files")
            documents[path] = _load(files[path], path, service)
        return documents[path]

    def resolve(doc: Any, pointer: str, where: str) -> Any:
        node = doc
        for token in [t for t in pointer.lstrip("/").split("/") if t] if pointer else []:
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise Invalid(f"service {service!r}: $ref {where!r} points at nothing")
        return node

    def rewrite(node: Any, current: str | None) -> Any:
        """Copy ``node`` (from file ``current``; None: the main document) with file refs pointing into the bundle."""
        if isinstance(node, list):
            return [rewrite(item, current) for item in node]
        if not isinstance(node, dict):
            return node
        out = {key: rewrite(value, current) for key, value in node.items() if key != "$ref"}
        ref = node.get("$ref")
        if isinstance(ref, str):
            out["$ref"] = target(ref, current)
        elif "$ref" in node:
            out["$ref"] = node["$ref"]
        return out

    def target(ref: str, current: str | None) -> str:
        if "://" in ref:
            return ref
        file_part, _, pointer = ref.partition("#")
        if not file_part:
            if current is None:
                return ref
            path = current
        else:
            base = posixpath.dirname(current) if current else ""
            path = posixpath.normpath(posixpath.join(base, file_part))
        key = (path, pointer)
        if key not in names:
            name = f"{len(names) + 1}-{posixpath.basename(path)}{pointer}".replace("/", "_").replace("~", "_")
            names[key] = name
            bundled[name] = None  # reserve first: a recursive ref finds the name and stops
            bundled[name] = rewrite(copy.deepcopy(resolve(document(path), pointer, ref)), path)
        return f"#/{_BUNDLE_KEY}/{names[key]}"

    result = rewrite(root, None)
    if bundled:
        result[_BUNDLE_KEY] = bundled
    return json.dumps(result, sort_keys=False)


# --- the endpoint -------------------------------------------------------------------------------------------------


def _etag(snapshot: Snapshot) -> str:
    return f'"{snapshot.fingerprint()}"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {part.strip().removeprefix("W/") for part in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


def _build(engine: Engine, issuer: str, clock: Callable[[], datetime], cluster: str | None = None) -> Snapshot:
    with session_scope(engine) as session:
        return build_snapshot(session, issuer=issuer, now=clock(), cluster=cluster)


async def snapshot_endpoint(request: Request) -> Response:
    """``GET /api/gateway/snapshot[?cluster=NAME]``: the snapshot as JSON with its ETag, or 304 when
    ``If-None-Match`` matches. A platform admin may read any; a gateway robot only its own clusters' (it must name
    one)."""
    actor = await require_actor(request, robots=True)
    cluster = request.query_params.get("cluster") or None
    if actor.kind == "robot" and cluster is None:
        raise Forbidden(f"{actor.describe()} reads its own cluster's snapshot only: ask for ?cluster=NAME")
    authorize(actor, "gateway.snapshot", Target("cluster", cluster) if cluster else Target("gateway", "snapshot"))
    state = request.app.state
    clock = cast(Callable[[], datetime], getattr(state, "clock", utcnow))
    snapshot = await run_in_threadpool(_build, state.engine, oauth.issuer(state.settings), clock, cluster)
    etag = _etag(snapshot)
    if cluster is not None:  # a cluster's gateway checks in: it holds this snapshot from now on
        version = gateway_version(request.headers.get("user-agent"))
        await run_in_threadpool(
            record_checkin,
            state.engine,
            cluster=cluster,
            gateway=actor.name,
            version=version,
            snapshot_etag=etag,
            now=clock(),
        )
    headers = {"etag": etag, "cache-control": "no-cache"}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(snapshot.model_dump_json(), media_type="application/json", headers=headers)


class LocalSnapshotSource:
    """The snapshot read straight from the portal's database: the gateway that ``loom serve`` embeds uses it
    (a :class:`stitcher.snapshot_source.SnapshotSource`). ``fetch`` returns None while the content is unchanged."""

    def __init__(
        self, engine: Engine, issuer: str, *, clock: Callable[[], datetime] = utcnow, cluster: str | None = None
    ) -> None:
        self._engine = engine
        self._issuer = issuer
        self._clock = clock
        self._cluster = cluster  # LOOM_GATEWAY_CLUSTER: serve that cluster's view, as ``loom gateway --cluster``
        self._fingerprint: str | None = None

    async def fetch(self) -> Snapshot | None:
        try:
            snapshot = await run_in_threadpool(_build, self._engine, self._issuer, self._clock, self._cluster)
        except LoomError as exc:
            raise SnapshotError(f"cannot build the snapshot from the portal's database: {exc}") from exc
        fingerprint = snapshot.fingerprint()
        if self._cluster is not None:
            await run_in_threadpool(
                record_checkin,
                self._engine,
                cluster=self._cluster,
                gateway=EMBEDDED,
                version=GATEWAY_VERSION,
                snapshot_etag=_etag(snapshot),
                now=self._clock(),
            )
        if fingerprint == self._fingerprint:
            return None
        self._fingerprint = fingerprint
        return snapshot

    def load_cached(self) -> Snapshot | None:
        return None  # the database is right here: there is nothing older worth serving

    def store(self, snapshot: Snapshot) -> None:
        return None

    async def aclose(self) -> None:
        return None


routes: list[BaseRoute] = [Route(SNAPSHOT_PATH, snapshot_endpoint, methods=["GET"], name="gateway_snapshot")]
