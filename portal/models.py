"""The control plane's data model (SQLModel tables on one MetaData with a naming convention).

Conventions every table follows:

* Primary keys are autoincrement integers named ``id``; foreign keys are ``<thing>_id`` integers.
* Names that people type (team, user, cluster, service, product, plan) are unique **globally**. A Service's YAML
  carries ``metadata.team`` too, but ``metadata.name`` alone identifies it (the same holds for products).
* Timestamps are timezone-aware UTC (:class:`UTCDateTime`), also on SQLite, which has no time zones.
* Enums are :class:`enum.StrEnum` stored as their *values* in a VARCHAR with a named CHECK constraint
  (``native_enum=False``), so SQLite and PostgreSQL hold the same text and migrations need no ``CREATE TYPE``.
* Secrets are never stored: tokens, API keys and client secrets are kept as ``prefix`` + hash; signing keys'
  private halves are encrypted (see :mod:`portal._crypto`).
* JSON columns are replaced, not mutated in place (SQLAlchemy does not track in-place changes of a JSON value):
  ``row.labels = {**row.labels, "k": "v"}``.
* Versions (:class:`ServiceVersion`) are immutable: insert a new row, never update one.
"""

import enum
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from stitcher.ir import SourceKind

__all__ = [
    "NAMING_CONVENTION",
    "Application",
    "AuditEvent",
    "AuditOutcome",
    "Cluster",
    "ClusterSyncStatus",
    "ConfigGeneration",
    "Credential",
    "CredentialKind",
    "GatewayCheckin",
    "GatewayGrant",
    "Lifecycle",
    "LoginSession",
    "LoomModel",
    "Membership",
    "PersonalAccessToken",
    "Plan",
    "Product",
    "ProductPlan",
    "ProductSource",
    "ProductVersion",
    "Role",
    "Service",
    "ServiceDeployment",
    "ServiceVersion",
    "SigningKey",
    "SourceKind",
    "Subscription",
    "SubscriptionState",
    "SyncState",
    "Team",
    "TeamPlacement",
    "UTCDateTime",
    "User",
    "metadata",
    "utcnow",
]

# Deterministic constraint names on every backend, so Alembic can drop/alter them by name.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class LoomModel(SQLModel, registry=registry(metadata=metadata)):
    """Base of every Loom table: its own MetaData (not SQLModel's global one) with :data:`NAMING_CONVENTION`."""


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL stores ``timestamptz``; SQLite stores text without an offset, so values are normalised to UTC on the
    way in and marked UTC on the way out. Naive datetimes are refused: they are always a bug here.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (e.g. portal.models.utcnow())")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# --- enums -----------------------------------------------------------------------------------------------------


class Role(enum.StrEnum):
    PLATFORM_ADMIN = "platform-admin"
    TEAM_ADMIN = "team-admin"
    TEAM_MEMBER = "team-member"
    VIEWER = "viewer"


class Lifecycle(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    DEPRECATED = "deprecated"
    RETIRED = "retired"


class CredentialKind(enum.StrEnum):
    API_KEY = "api_key"
    OAUTH2_CLIENT = "oauth2_client"


class SubscriptionState(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"


class AuditOutcome(enum.StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    FAILED = "failed"


class SyncState(enum.StrEnum):
    PENDING = "pending"
    SYNCED = "synced"
    DEGRADED = "degraded"
    FAILED = "failed"


def _enum(cls: type[enum.StrEnum], name: str) -> sa.Enum:
    """A VARCHAR holding the enum's values, checked by a CHECK constraint named ``ck_<table>_<name>``."""
    return sa.Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def _fk(target: str, *, ondelete: str = "CASCADE", nullable: bool = False, index: bool = True) -> Any:
    """A foreign key column; ``ondelete`` is enforced by the database (SQLite needs ``PRAGMA foreign_keys=ON``)."""
    return Field(
        default=None if nullable else ...,
        sa_column_args=[sa.ForeignKey(target, ondelete=ondelete)],
        nullable=nullable,
        index=index,
    )


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _when() -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=True)


def _json(default: type[dict[str, Any]] | type[list[Any]]) -> Any:
    return Field(default_factory=default, sa_type=sa.JSON, nullable=False)


# --- teams, users, roles ---------------------------------------------------------------------------------------


class Team(LoomModel, table=True):
    __tablename__ = "teams"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=63, unique=True)
    display_name: str = Field(default="", max_length=200)
    description: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = _created()
    updated_at: datetime = _created()


class TeamPlacement(LoomModel, table=True):
    """Where a team may publish deployments: one cluster and the namespaces there (``["*"]``: any)."""

    __tablename__ = "team_placements"
    __table_args__ = (sa.UniqueConstraint("team_id", "cluster_id"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = _fk("teams.id")
    cluster_id: int = _fk("clusters.id")
    namespaces: list[str] = _json(list)


class User(LoomModel, table=True):
    """A person (or a robot account). Local accounts have ``password_hash`` (argon2); OIDC ones ``oidc_subject``."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    email: str | None = Field(default=None, max_length=320)
    display_name: str = Field(default="", max_length=200)
    password_hash: str | None = Field(default=None, max_length=255)
    oidc_subject: str | None = Field(default=None, max_length=255, unique=True)
    is_active: bool = Field(default=True)
    # A robot (a gateway's account): no login, no roles; its tokens read the snapshot of its granted clusters only.
    robot: bool = Field(default=False)
    created_at: datetime = _created()
    last_login_at: datetime | None = _when()


class Membership(LoomModel, table=True):
    """A role of a user: in one team, or platform-wide when ``team_id`` is NULL (platform-admin, viewer)."""

    __tablename__ = "memberships"
    __table_args__ = (sa.UniqueConstraint("user_id", "team_id", "role"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _fk("users.id")
    team_id: int | None = _fk("teams.id", nullable=True)
    role: Role = Field(sa_type=_enum(Role, "role"), nullable=False)
    created_at: datetime = _created()


class GatewayGrant(LoomModel, table=True):
    """A cluster whose gateway snapshot a robot account may read (``loom gateways create NAME --cluster C``)."""

    __tablename__ = "gateway_grants"
    __table_args__ = (sa.UniqueConstraint("user_id", "cluster_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _fk("users.id")
    cluster_id: int = _fk("clusters.id")


class PersonalAccessToken(LoomModel, table=True):
    """A token for the CLI and the API: shown once; ``prefix`` finds the row, ``token_hash`` proves the rest."""

    __tablename__ = "personal_access_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _fk("users.id")
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=32, unique=True)
    token_hash: str = Field(max_length=255)
    created_at: datetime = _created()
    expires_at: datetime | None = _when()
    revoked_at: datetime | None = _when()
    last_used_at: datetime | None = _when()


class LoginSession(LoomModel, table=True):
    """A browser's signed-in session. The cookie carries a random id; the table keeps only its SHA-256 (as for
    PATs), so a stolen database cannot be replayed as cookies, and logout, a password change or a deactivation end
    the session here, whatever the browser still holds. Expired and revoked rows are removed at the user's logins."""

    __tablename__ = "login_sessions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _fk("users.id")
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _created()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    last_seen_at: datetime = _created()
    revoked_at: datetime | None = _when()


# --- clusters ----------------------------------------------------------------------------------------------------


class Cluster(LoomModel, table=True):
    """A Kubernetes cluster (or a simulated one). ``gloo`` is the resource's ``spec.gloo`` as written:
    ``{"target": "local-envoy"|"kubernetes"|"gitops", "namespace", "kubeContext", "failoverGateway": {host, port},
    "proxy": {listener, internal, admin}}`` (``proxy``: where a local-envoy cluster's Envoy listens).

    ``allow_loopback`` and ``allowed_hosts`` relax the SSRF guard for introspection of deployments in this cluster
    (local demo clusters reach services on 127.0.0.1).
    """

    __tablename__ = "clusters"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=63, unique=True)
    region: str = Field(default="", max_length=63)
    zone: str = Field(default="", max_length=63)
    residency: str = Field(default="", max_length=63, index=True)
    gloo: dict[str, Any] = _json(dict)
    allow_loopback: bool = Field(default=False)
    allowed_hosts: list[str] = _json(list)
    # Where the cluster's Loom gateway runs (``spec.gateway``: {"address"} or {"kube": {service, namespace, port}}).
    gateway: dict[str, Any] = _json(dict)
    labels: dict[str, str] = _json(dict)
    created_at: datetime = _created()
    updated_at: datetime = _created()


# --- services ----------------------------------------------------------------------------------------------------


class Service(LoomModel, table=True):
    """A team's upstream service. ``entities`` is the resource's ``spec.entities``; ``current_version`` is the
    number of the newest :class:`ServiceVersion` (None before the first publish)."""

    __tablename__ = "services"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = _fk("teams.id", ondelete="RESTRICT")
    name: str = Field(max_length=63, unique=True)
    protocol: SourceKind = Field(sa_type=_enum(SourceKind, "protocol"), nullable=False)
    entities: dict[str, Any] = _json(dict)
    # ``spec.traffic`` as written: per-service overrides of the sync worker's traffic defaults (timeouts, retries,
    # health checks, outlier detection, circuit breakers).
    traffic: dict[str, Any] = _json(dict)
    description: str = Field(default="", sa_type=sa.Text)
    current_version: int | None = Field(default=None)
    created_at: datetime = _created()
    updated_at: datetime = _created()


class ServiceVersion(LoomModel, table=True):
    """One published schema of a service. Immutable: a publish inserts a new row with the next ``version``.

    ``schema_files`` maps relative paths (as written in ``$ref``) to the text of files beside the main document.
    ``schema_hash`` is the sha256 hex of ``schema_text``; ``created_by`` is the actor's name (kept if they go).
    """

    __tablename__ = "service_versions"
    __table_args__ = (sa.UniqueConstraint("service_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    service_id: int = _fk("services.id")
    version: int
    schema_text: str = Field(sa_type=sa.Text)
    schema_hash: str = Field(max_length=64, index=True)
    schema_files: dict[str, str] = _json(dict)
    created_by: str = Field(max_length=100)
    created_at: datetime = _created()


class ServiceDeployment(LoomModel, table=True):
    """A service in one cluster: a Kubernetes Service reference or a plain ``address`` (URL), never neither."""

    __tablename__ = "service_deployments"
    __table_args__ = (
        sa.UniqueConstraint("service_id", "cluster_id"),
        sa.CheckConstraint("kube_service IS NOT NULL OR address IS NOT NULL", name="kube_or_address"),
    )

    id: int | None = Field(default=None, primary_key=True)
    service_id: int = _fk("services.id")
    cluster_id: int = _fk("clusters.id", ondelete="RESTRICT")
    kube_service: str | None = Field(default=None, max_length=253)
    kube_namespace: str | None = Field(default=None, max_length=63)
    kube_port: int | None = Field(default=None)
    address: str | None = Field(default=None, max_length=2048)
    health_path: str | None = Field(default=None, max_length=2048)
    created_at: datetime = _created()
    updated_at: datetime = _created()


# --- products and plans ------------------------------------------------------------------------------------------


class Product(LoomModel, table=True):
    """An API product. ``current_version`` is the semver string of the version people get by default."""

    __tablename__ = "products"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = _fk("teams.id", ondelete="RESTRICT")
    name: str = Field(max_length=63, unique=True)
    display_name: str = Field(default="", max_length=200)
    description: str = Field(default="", sa_type=sa.Text)
    tags: list[str] = _json(list)  # what the catalog filters by (``metadata.tags``)
    current_version: str | None = Field(default=None, max_length=64)
    created_at: datetime = _created()
    updated_at: datetime = _created()


class ProductVersion(LoomModel, table=True):
    """One semver version of a product. ``routing`` is ``{"clusters": [...], "residency": "eu"|None}``; ``rest``
    the list of ``{method, path, operation}``; the SDLs are filled when the version is composed."""

    __tablename__ = "product_versions"
    __table_args__ = (sa.UniqueConstraint("product_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = _fk("products.id")
    version: str = Field(max_length=64)
    lifecycle: Lifecycle = Field(default=Lifecycle.DRAFT, sa_type=_enum(Lifecycle, "lifecycle"), nullable=False)
    routing: dict[str, Any] = _json(dict)
    rest: list[dict[str, Any]] = _json(list)
    # The resource's ``prefer`` and ``links`` as written (``{"prefer": {...}, "links": [...]}``, unset ones left out).
    stitching: dict[str, Any] = _json(dict)
    composed_sdl: str | None = Field(default=None, sa_type=sa.Text)
    supergraph_sdl: str | None = Field(default=None, sa_type=sa.Text)
    created_by: str = Field(max_length=100)
    created_at: datetime = _created()
    updated_at: datetime = _created()


class ProductSource(LoomModel, table=True):
    """A service as a source of a product version, in ``position`` order. ``transforms`` holds the resource's
    transform keys (``prefix``, ``renameTypes``, ``renameFields``, ``hide``). ``service_version_id`` pins the
    schema the version was composed from (None: not composed yet)."""

    __tablename__ = "product_sources"
    __table_args__ = (sa.UniqueConstraint("product_version_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    product_version_id: int = _fk("product_versions.id")
    service_id: int = _fk("services.id", ondelete="RESTRICT")
    service_version_id: int | None = _fk("service_versions.id", ondelete="SET NULL", nullable=True)
    position: int = Field(default=0)
    transforms: dict[str, Any] = _json(dict)


class Plan(LoomModel, table=True):
    """A rate limit and the auth kinds (``"apiKey"``, ``"oauth2"``) a subscription under it may use."""

    __tablename__ = "plans"
    __table_args__ = (
        sa.CheckConstraint("rate_limit_requests > 0 AND rate_limit_per_seconds > 0", name="positive_rate_limit"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=63, unique=True)
    display_name: str = Field(default="", max_length=200)
    description: str = Field(default="", sa_type=sa.Text)
    rate_limit_requests: int
    rate_limit_per_seconds: int
    auth_kinds: list[str] = _json(list)
    auto_approve: bool = Field(default=False)
    created_at: datetime = _created()
    updated_at: datetime = _created()


class ProductPlan(LoomModel, table=True):
    """A plan that a product offers."""

    __tablename__ = "product_plans"
    __table_args__ = (sa.UniqueConstraint("product_id", "plan_id"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = _fk("products.id")
    plan_id: int = _fk("plans.id")


# --- consumers ---------------------------------------------------------------------------------------------------


class Application(LoomModel, table=True):
    """A consumer's application: it holds credentials and subscriptions. Names are unique per owner."""

    __tablename__ = "applications"
    __table_args__ = (sa.UniqueConstraint("owner_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = _fk("users.id")
    team_id: int | None = _fk("teams.id", ondelete="SET NULL", nullable=True)
    name: str = Field(max_length=100)
    description: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = _created()


class Credential(LoomModel, table=True):
    """An API key (``prefix`` + ``secret_hash``) or an OAuth2 client (``client_id`` + ``secret_hash``).

    Deleting a credential never touches subscriptions: they belong to the application.
    """

    __tablename__ = "credentials"
    __table_args__ = (
        sa.CheckConstraint(
            "(kind = 'api_key' AND prefix IS NOT NULL) OR (kind = 'oauth2_client' AND client_id IS NOT NULL)",
            name="identifier_for_kind",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = _fk("applications.id")
    kind: CredentialKind = Field(sa_type=_enum(CredentialKind, "credential_kind"), nullable=False)
    name: str = Field(default="", max_length=100)
    prefix: str | None = Field(default=None, max_length=32, unique=True)
    client_id: str | None = Field(default=None, max_length=64, unique=True)
    secret_hash: str = Field(max_length=255)
    created_at: datetime = _created()
    expires_at: datetime | None = _when()
    revoked_at: datetime | None = _when()
    last_used_at: datetime | None = _when()


# Requested and approved subscriptions are "live": one live subscription per application x product.
_LIVE_SUBSCRIPTION = sa.text("state IN ('requested', 'approved')")


class Subscription(LoomModel, table=True):
    """Application x product x plan. Legal transitions live in the service layer; the database guarantees at most
    one live (requested or approved) subscription per application and product."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        sa.Index(
            "uq_subscriptions_live_application_product",
            "application_id",
            "product_id",
            unique=True,
            sqlite_where=_LIVE_SUBSCRIPTION,
            postgresql_where=_LIVE_SUBSCRIPTION,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = _fk("applications.id")
    product_id: int = _fk("products.id")
    plan_id: int = _fk("plans.id", ondelete="RESTRICT")
    state: SubscriptionState = Field(
        default=SubscriptionState.REQUESTED, sa_type=_enum(SubscriptionState, "subscription_state"), nullable=False
    )
    requested_by: str = Field(default="", max_length=100)
    decided_by: str | None = Field(default=None, max_length=100)
    decided_at: datetime | None = _when()
    created_at: datetime = _created()
    updated_at: datetime = _created()


# --- OAuth2 signing keys -----------------------------------------------------------------------------------------


class SigningKey(LoomModel, table=True):
    """A JWT signing key. ``private_key_encrypted`` is the PEM encrypted with :func:`portal._crypto.encrypt`."""

    __tablename__ = "signing_keys"

    id: int | None = Field(default=None, primary_key=True)
    kid: str = Field(max_length=64, unique=True)
    algorithm: str = Field(default="RS256", max_length=16)
    private_key_encrypted: str = Field(sa_type=sa.Text)
    public_jwk: dict[str, Any] = _json(dict)
    active: bool = Field(default=True)
    created_at: datetime = _created()
    retired_at: datetime | None = _when()


# --- audit and sync ----------------------------------------------------------------------------------------------


class AuditEvent(LoomModel, table=True):
    """Who did what to which target, with a summary of the change (never a secret), allowed or not."""

    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_events_target", "target_kind", "target_name"),)

    id: int | None = Field(default=None, primary_key=True)
    actor: str = Field(max_length=100, index=True)
    action: str = Field(max_length=100, index=True)
    target_kind: str = Field(default="", max_length=63)
    target_name: str = Field(default="", max_length=253)
    summary: dict[str, Any] = _json(dict)
    outcome: AuditOutcome = Field(sa_type=_enum(AuditOutcome, "outcome"), nullable=False)
    via: str = Field(default="", max_length=16)  # "api", "apply", "ui", "cli"
    request_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)


class ClusterSyncStatus(LoomModel, table=True):
    """What the sync worker last saw in a cluster, for the cluster as a whole (``product_id`` NULL) or a product.

    Cluster rows: ``state`` of the last pass (synced, failed: ``message`` says why), ``reachable``, ``versions``
    (``{"envoy": "1.40.0"}``), ``last_success_at``, ``applied_generation`` (the desired-state generation the
    cluster holds) and ``upstreams`` (every upstream's live health). Product rows: ``verdict`` (Accepted, Rejected,
    Warning or Pending, as Gloo or Envoy said) with its reason in ``message``, the generation of the config that
    verdict is about, and the health of the product's own upstreams. ``upstreams`` is a list of
    ``{"upstream", "service", "serving", "endpoints": [{"cluster", "address", "priority", "healthy", "ejected"}]}``.
    """

    __tablename__ = "cluster_sync_statuses"
    __table_args__ = (sa.UniqueConstraint("cluster_id", "product_id"),)

    id: int | None = Field(default=None, primary_key=True)
    cluster_id: int = _fk("clusters.id")
    product_id: int | None = _fk("products.id", nullable=True)
    state: SyncState = Field(default=SyncState.PENDING, sa_type=_enum(SyncState, "sync_state"), nullable=False)
    message: str = Field(default="", sa_type=sa.Text)
    observed_generation: int = Field(default=0)
    applied_generation: int = Field(default=0)
    verdict: str | None = Field(default=None, max_length=16)
    reachable: bool | None = Field(default=None)
    versions: dict[str, Any] = _json(dict)
    upstreams: list[Any] = _json(list)
    last_success_at: datetime | None = _when()
    updated_at: datetime = _created()


class GatewayCheckin(LoomModel, table=True):
    """A gateway that read its cluster's snapshot: as whom, its version, the snapshot it holds and when it last
    asked (the snapshot endpoint writes it; the fleet status shows it). Gateways poll, so a gateway whose
    ``last_seen_at`` is old has stopped."""

    __tablename__ = "gateway_checkins"
    __table_args__ = (sa.UniqueConstraint("cluster_id", "gateway"),)

    id: int | None = Field(default=None, primary_key=True)
    cluster_id: int = _fk("clusters.id")
    gateway: str = Field(max_length=64)  # the account it authenticates as (a robot, or ``embedded``)
    version: str = Field(default="", max_length=64)
    snapshot_etag: str = Field(default="", max_length=80)
    last_seen_at: datetime = _created()


class ConfigGeneration(LoomModel, table=True):
    """One row (``id`` 1): a counter bumped by every change that affects gateways or clusters.

    The gateway snapshot's ETag and the sync worker's ``observed_generation`` derive from it; bump it with
    :func:`portal.db.bump_generation` in the same transaction as the change.
    """

    __tablename__ = "config_generation"

    id: int | None = Field(default=None, primary_key=True)
    generation: int = Field(default=0)
    updated_at: datetime = _created()
