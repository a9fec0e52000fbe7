"""The gateway's configuration snapshot: everything a gateway replica needs to serve the published products.

The portal builds a :class:`Snapshot` from its desired state and serves it as JSON at ``/api/gateway/snapshot``
(``Snapshot.model_dump_json()``; ETag: :meth:`Snapshot.fingerprint`). The gateway polls it, compiles each product
and swaps them in atomically. These models are a contract between the two planes: add fields with defaults, never
rename or remove one.

Conventions:

* Credentials never carry secrets: an API key is stored as its prefix and its SHA-256 hash
  (:func:`stitcher.credentials.hash_api_key`); an OAuth2 client is known by its ``client_id`` and proves itself
  with a JWT signed by the portal (``oauth.jwks_url``).
* Only subscriptions in state ``"approved"`` are served; others are kept so the gateway can say why (403).
* Source ``url`` is the address *this* gateway uses to reach the service (through the cluster's Envoy/Gloo when
  there is one). Relative ``$ref`` files of an OpenAPI document must be bundled into ``schema_text`` by the
  portal: the gateway has no files beside the snapshot.
* A source's ``egress`` is the egress policy of the cluster its ``url`` is in (platform admins own it): the gateway
  checks every address ``url`` resolves to against it on every connection (:mod:`stitcher.egress`). ``None`` (an
  older portal, or a URL that is the cluster's own Envoy, which the platform configures) is not checked.
  ``max_response_bytes`` overrides the gateway's response cap for that source.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from stitcher.egress import EgressPolicy
from stitcher.ir import SourceKind
from stitcher.sources import EntityConfig, Link, SourceSpec, Stitching, Transforms

__all__ = [
    "ApplicationConfig",
    "CredentialConfig",
    "CredentialKind",
    "EgressConfig",
    "EntityConfigModel",
    "LinkConfig",
    "OAuthConfig",
    "PlanConfig",
    "ProductConfig",
    "RateLimitConfig",
    "RestRoute",
    "Snapshot",
    "SourceConfig",
    "SubscriptionConfig",
    "SubscriptionState",
    "TransformsConfig",
]

CredentialKind = Literal["api_key", "oauth2_client"]
SubscriptionState = Literal["pending", "approved", "rejected", "revoked"]


def _all_kinds() -> list[CredentialKind]:
    return ["api_key", "oauth2_client"]


class _Model(BaseModel):
    # Unknown fields are ignored so an older gateway can read a newer portal's snapshot.
    model_config = ConfigDict(extra="ignore", frozen=True)


class EntityConfigModel(_Model):
    """:class:`stitcher.sources.EntityConfig` as JSON: how a plain GraphQL or REST source fetches an entity."""

    key: str
    operation: str
    argument: str | None = None
    batched: bool | None = None


class TransformsConfig(_Model):
    """:class:`stitcher.sources.Transforms` as JSON: prefix, renames and hidden coordinates of one source."""

    prefix: str | None = None
    rename_types: dict[str, str] = Field(default_factory=dict)
    rename_fields: dict[str, str] = Field(default_factory=dict)
    hide: list[str] = Field(default_factory=list)
    type_patterns: dict[str, str] = Field(default_factory=dict)
    root_field_patterns: dict[str, str] = Field(default_factory=dict)


class EgressConfig(_Model):
    """A cluster's egress policy as JSON (its ``spec.introspection``): loopback allowed or not, and the private
    networks (CIDR) or host names allowed beyond public addresses."""

    allow_loopback: bool = False
    allowed_hosts: list[str] = Field(default_factory=list)

    def policy(self) -> EgressPolicy:
        return EgressPolicy.from_hosts(allow_loopback=self.allow_loopback, allowed_hosts=self.allowed_hosts)


class SourceConfig(_Model):
    """One service as a source of a product; :meth:`to_source_spec` gives what composition takes."""

    name: str
    protocol: SourceKind
    schema_text: str  # Federation/GraphQL SDL, an introspection result (JSON) or an OpenAPI document (JSON/YAML)
    url: str | None = None
    entities: dict[str, EntityConfigModel] = Field(default_factory=dict)
    transforms: TransformsConfig = Field(default_factory=TransformsConfig)
    egress: EgressConfig | None = None
    max_response_bytes: int | None = Field(default=None, gt=0)

    def to_source_spec(self) -> SourceSpec:
        return SourceSpec(
            name=self.name,
            protocol=self.protocol,
            schema=self.schema_text,
            url=self.url,
            entities={
                type_name: EntityConfig(key=e.key, operation=e.operation, argument=e.argument, batched=e.batched)
                for type_name, e in self.entities.items()
            },
            transforms=Transforms(
                prefix=self.transforms.prefix,
                rename_types=dict(self.transforms.rename_types),
                rename_fields=dict(self.transforms.rename_fields),
                hide=tuple(self.transforms.hide),
                type_patterns=dict(self.transforms.type_patterns),
                root_field_patterns=dict(self.transforms.root_field_patterns),
            ),
        )


class RestRoute(_Model):
    """A GraphQL operation served as REST: ``path`` params (``/users/{id}``) become variables of the same name."""

    method: str = "GET"
    path: str
    operation: str
    operation_name: str | None = None


class LinkConfig(_Model):
    """:class:`stitcher.sources.Link` as JSON: a field the product adds to a type, resolved by another source."""

    type_name: str
    field: str
    service: str
    operation: str
    arguments: dict[str, str]
    description: str | None = None
    returns: str | None = None


class ProductConfig(_Model):
    """A published product: its sources, the supergraph the portal composed (to check ours), REST routes."""

    name: str
    version: str = "0.0.0"
    lifecycle: str = "published"
    sources: list[SourceConfig] = Field(default_factory=list)
    supergraph_sdl: str | None = None
    rest: list[RestRoute] = Field(default_factory=list)
    residency: str | None = None
    # False: the product is served without credentials (no subscription or plan applies).
    auth_required: bool = True
    # How the sources are stitched as a whole: type -> the source whose definition wins, and links.
    prefer: dict[str, str] = Field(default_factory=dict)
    links: list[LinkConfig] = Field(default_factory=list)

    def fingerprint(self) -> str:
        """A stable hash of this product's config: the gateway recompiles a product only when it changes."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()

    def source_specs(self) -> list[SourceSpec]:
        return [s.to_source_spec() for s in self.sources]

    def stitching(self) -> Stitching:
        """What composition takes with :meth:`source_specs`: ``prefer`` and ``links``."""
        links = tuple(
            Link(k.type_name, k.field, k.service, k.operation, dict(k.arguments), k.description, k.returns)
            for k in self.links
        )
        return Stitching(prefer=dict(self.prefer), links=links)


class RateLimitConfig(_Model):
    """At most ``requests`` per ``window_seconds`` for one application on one product."""

    requests: int = Field(gt=0)
    window_seconds: float = Field(gt=0)


class PlanConfig(_Model):
    """A plan: its rate limit (None: unlimited) and the credential kinds it accepts."""

    name: str
    rate_limit: RateLimitConfig | None = None
    auth: list[CredentialKind] = Field(default_factory=lambda: _all_kinds())


class ApplicationConfig(_Model):
    """A consumer application; credentials and subscriptions refer to it by ``name``."""

    name: str
    team: str | None = None


class CredentialConfig(_Model):
    """A credential of an application. API keys: ``prefix`` + ``key_hash``; OAuth2 clients: ``client_id``."""

    id: str
    application: str
    kind: CredentialKind
    prefix: str | None = None
    key_hash: str | None = None
    client_id: str | None = None
    revoked: bool = False
    # The gateway refuses it from this instant on by itself, to the second: a portal marks it revoked only at its
    # next rebuild after the expiry (nothing commits when a credential expires).
    expires_at: AwareDatetime | None = None


class SubscriptionConfig(_Model):
    """Application ``application`` may call ``product`` under ``plan`` once ``state`` is ``"approved"``."""

    application: str
    product: str
    plan: str
    state: SubscriptionState = "approved"


class OAuthConfig(_Model):
    """Where the gateway checks OAuth2 bearer tokens (JWTs the portal's token endpoint issued)."""

    issuer: str
    audience: str
    jwks_url: str


class Snapshot(_Model):
    """Everything a gateway serves, as of ``generated_at``."""

    products: list[ProductConfig] = Field(default_factory=list)
    plans: list[PlanConfig] = Field(default_factory=list)
    applications: list[ApplicationConfig] = Field(default_factory=list)
    credentials: list[CredentialConfig] = Field(default_factory=list)
    subscriptions: list[SubscriptionConfig] = Field(default_factory=list)
    oauth: OAuthConfig | None = None
    generated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    # A cluster's snapshot (``?cluster=``): the cluster it was built for, and every other served product with why
    # this cluster's gateway must not process it (residency, not offered here). Absent: today's whole-fleet view.
    cluster: str | None = None
    elsewhere: dict[str, str] = Field(default_factory=dict)

    def fingerprint(self) -> str:
        """A stable hash of the content (``generated_at`` excluded): the portal's ETag for this snapshot."""
        body = self.model_dump_json(exclude={"generated_at"})
        return hashlib.sha256(body.encode()).hexdigest()

    def product(self, name: str) -> ProductConfig | None:
        return next((p for p in self.products if p.name == name), None)
