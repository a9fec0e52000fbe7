"""The declarative resource schema (``apiVersion: loom.dev/v1alpha1``) and the loader for resource YAML.

Five kinds: Cluster, Team, Service, Product and Plan, in the shape of ARCHITECTURE.md. Every model forbids unknown
fields and is strict about types, so a typo is an error that names the file, the document and the field path,
e.g. ``services.yaml: document 2 (Service/catalog): spec.deployments[0].cluster: field required``.

A Service's ``schema: {file: ...}`` is read relative to the YAML file that names it; ``schema: {sdl: ...}`` and
``schema: {openapi: ...}`` carry the text inline (that is what ``loom get`` prints and what ``--server`` sends).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeAlias

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from portal.errors import Invalid
from portal.settings import DEFAULT_MAX_DOCUMENT_BYTES
from portal.sync.desired import duration_ms, host_port

__all__ = [
    "API_VERSION",
    "KINDS",
    "Cluster",
    "ClusterSpec",
    "Deployment",
    "Document",
    "EntitySpec",
    "GatewayKube",
    "GatewaySpec",
    "GlooSpec",
    "HealthCheck",
    "Introspect",
    "IntrospectionPolicy",
    "KubeRef",
    "LinkSpec",
    "Metadata",
    "Placement",
    "Plan",
    "PlanSpec",
    "Product",
    "ProductSpec",
    "ProxySpec",
    "RateLimit",
    "Resource",
    "RestRoute",
    "Routing",
    "SchemaSource",
    "Service",
    "ServiceSpec",
    "SourceRef",
    "Team",
    "TeamMetadata",
    "TeamSpec",
    "Traffic",
    "load_documents",
    "parse_documents",
    "parse_resource",
    "resource_to_dict",
]

API_VERSION = "loom.dev/v1alpha1"
DEFAULT_MAX_BYTES = DEFAULT_MAX_DOCUMENT_BYTES  # LOOM_AUTH_MAX_DOCUMENT_BYTES's default: one knob

_NAME = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
_SEMVER = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
Name = Annotated[str, Field(pattern=_NAME, description="lower-case letters, digits and '-', at most 63")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, alias_generator=to_camel, populate_by_name=True, frozen=True)


# --- metadata -------------------------------------------------------------------------------------------------


class Metadata(_Model):
    name: Name
    description: str | None = None


class TeamMetadata(_Model):
    """Metadata of team-owned kinds (Service, Product): ``team`` is the owner."""

    name: Name
    team: Name
    description: str | None = None


# --- Cluster --------------------------------------------------------------------------------------------------


class FailoverGateway(_Model):
    host: str
    port: int = Field(ge=1, le=65535)


def _host_port(value: str) -> str:
    try:
        host_port(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not host:port, e.g. 127.0.0.1:18000") from exc
    return value


HostPortText = Annotated[str, AfterValidator(_host_port)]


def _http_url(value: str | None) -> str | None:
    if value is not None and not re.match(r"^https?://[^/\s]+(/\S*)?$", value):
        raise ValueError("address must be an http:// or https:// URL, e.g. http://10.0.0.5:8080")
    return value


class ProxySpec(_Model):
    """Where a ``local-envoy`` cluster's Envoy listens (``host:port`` each): products (``listener``), the gateway's
    internal routes to services (``internal``) and its admin API (``admin``, loopback only)."""

    listener: HostPortText
    internal: HostPortText
    admin: HostPortText


class GlooSpec(_Model):
    target: Literal["local-envoy", "kubernetes", "gitops"]
    namespace: str = "gloo-system"
    kube_context: str | None = None
    failover_gateway: FailoverGateway | None = None
    proxy: ProxySpec | None = None

    @model_validator(mode="after")
    def _proxy_is_local(self) -> GlooSpec:
        if self.proxy is not None and self.target != "local-envoy":
            raise ValueError(
                f"proxy is where a local-envoy cluster's Envoy listens; a {self.target} cluster uses Gloo's "
                "gateway-proxy service (remove proxy, or set target: local-envoy)"
            )
        return self


class GatewayKube(_Model):
    service: str = "loom-gateway"
    namespace: str = "loom-system"
    port: int = Field(default=4000, ge=1, le=65535)


class GatewaySpec(_Model):
    """Where the cluster's Loom gateway runs, for its Envoy to reach: a URL (``address``) or a Kubernetes service
    (``kube``; defaults ``loom-gateway.loom-system:4000``)."""

    address: str | None = None
    kube: GatewayKube | None = None

    _address = field_validator("address")(_http_url)

    @model_validator(mode="after")
    def _address_or_kube(self) -> GatewaySpec:
        if (self.kube is None) == (self.address is None):
            raise ValueError("give exactly one of address or kube")
        return self


class IntrospectionPolicy(_Model):
    """Where the portal may connect when it fetches a schema from a deployment of this cluster (the SSRF guard).

    Link-local and cloud-metadata addresses are always refused. Loopback is refused unless ``allowLoopback``;
    unset means allowed for the ``local-envoy`` target (the embedded demo) only. Private addresses are refused
    unless listed in ``allowedHosts`` (networks in CIDR notation, or host names).
    """

    allow_loopback: bool | None = None
    allowed_hosts: list[str] = Field(default_factory=list)

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        for item in value:
            if "/" in item:
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError as exc:
                    raise ValueError(f"{item!r} is not a network in CIDR notation (e.g. 10.20.0.0/16)") from exc
            elif not re.match(r"^[A-Za-z0-9.:-]+$", item):
                raise ValueError(f"{item!r} is neither a host name, an address nor a CIDR network")
        return value


class ClusterSpec(_Model):
    region: str
    zone: str | None = None
    residency: str
    gloo: GlooSpec
    gateway: GatewaySpec | None = None
    introspection: IntrospectionPolicy | None = None


class Cluster(_Model):
    api_version: Literal["loom.dev/v1alpha1"]
    kind: Literal["Cluster"]
    metadata: Metadata
    spec: ClusterSpec


# --- Team -----------------------------------------------------------------------------------------------------


class Placement(_Model):
    cluster: Name
    namespaces: list[str] = Field(default_factory=lambda: ["*"])

    @field_validator("namespaces")
    @classmethod
    def _not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError('list at least one namespace, or ["*"] for any')
        return value


class TeamSpec(_Model):
    placements: list[Placement] = Field(default_factory=list)


class Team(_Model):
    api_version: Literal["loom.dev/v1alpha1"]
    kind: Literal["Team"]
    metadata: Metadata
    spec: TeamSpec = Field(default_factory=TeamSpec)


# --- Service --------------------------------------------------------------------------------------------------


class Introspect(_Model):
    """Fetch the schema from the service's deployment in ``cluster`` (its address, or its Kubernetes service), at
    ``path``: a GraphQL endpoint (introspection; ``_service { sdl }`` for Federation) or an OpenAPI document.
    The fetch goes through the SSRF guard with that cluster's ``spec.introspection`` policy."""

    cluster: Name
    path: str = "/graphql"

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("the path must start with '/'")
        return value


class SchemaSource(_Model):
    """Exactly one of: ``file`` (relative to the YAML file), ``sdl`` (inline GraphQL SDL), ``openapi`` (inline
    OpenAPI text, JSON or YAML), ``introspect`` (fetched from a deployment). ``files`` carries an inline OpenAPI
    document's relative ``$ref`` files (path -> text), which is how ``loom get`` prints a schema that was split
    over several files."""

    file: str | None = None
    sdl: str | None = None
    openapi: str | None = None
    introspect: Introspect | None = None
    files: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _exactly_one(self) -> SchemaSource:
        given = [k for k in ("file", "sdl", "openapi", "introspect") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of file, sdl, openapi or introspect (got {', '.join(given) or 'none'})")
        if self.files and self.openapi is None:
            raise ValueError("files go with an inline openapi document; with a file, $ref files are read beside it")
        return self


class EntitySpec(_Model):
    key: str
    operation: str
    argument: str | None = None
    batched: bool | None = None


class KubeRef(_Model):
    service: str
    namespace: str
    port: int = Field(ge=1, le=65535)


class HealthCheck(_Model):
    path: str = "/healthz"

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("the health check path must start with '/'")
        return value


class Deployment(_Model):
    """Where one service runs in one cluster: a Kubernetes service (``kube``) or a plain URL (``address``)."""

    cluster: Name
    kube: KubeRef | None = None
    address: str | None = None
    health_check: HealthCheck | None = None

    _address = field_validator("address")(_http_url)

    @model_validator(mode="after")
    def _kube_or_address(self) -> Deployment:
        if (self.kube is None) == (self.address is None):
            raise ValueError("give exactly one of kube or address")
        return self


def _duration(value: str | int) -> str | int:
    try:
        milliseconds = duration_ms(value)
    except ValueError as exc:
        raise ValueError(str(exc)) from exc
    if milliseconds <= 0:
        raise ValueError(f"{value!r}: a duration must be positive")
    return value


Duration = Annotated[str | int, AfterValidator(_duration)]
Count = Annotated[int, Field(ge=1)]
MAX_RESPONSE_BYTES = 1024**3  # a service's own response cap may not pass 1 GiB
Percent = Annotated[int, Field(ge=0, le=100)]


class TrafficHealthCheck(_Model):
    path: str | None = None
    interval: Duration | None = None
    timeout: Duration | None = None
    unhealthy_threshold: Count | None = None
    healthy_threshold: Count | None = None

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError("the health check path must start with '/'")
        return value


class TrafficOutlierDetection(_Model):
    consecutive_5xx: Count | None = Field(default=None, alias="consecutive5xx")
    consecutive_gateway_failure: Count | None = None
    enforcing_percent: Percent | None = None
    interval: Duration | None = None
    base_ejection_time: Duration | None = None
    max_ejection_time: Duration | None = None
    max_ejection_percent: Percent | None = None


class TrafficRetries(_Model):
    attempts: Annotated[int, Field(ge=0, le=10)] | None = None
    per_try_timeout: Duration | None = None


class TrafficCircuitBreakers(_Model):
    max_connections: Count | None = None
    max_pending_requests: Count | None = None
    max_requests: Count | None = None
    max_retries: Annotated[int, Field(ge=0)] | None = None


class Traffic(_Model):
    """Per-service overrides of the sync worker's traffic defaults (:mod:`portal.sync.desired`); durations are
    written like ``250ms``, ``1s`` or ``2m``."""

    connect_timeout: Duration | None = None
    request_timeout: Duration | None = None
    health_check: TrafficHealthCheck | None = None
    outlier_detection: TrafficOutlierDetection | None = None
    retries: TrafficRetries | None = None
    circuit_breakers: TrafficCircuitBreakers | None = None
    # The largest answer the gateway reads from this service (the gateway's LOOM_GATEWAY_MAX_RESPONSE_BYTES, 10 MiB,
    # otherwise): a service that answers big documents raises it, one that never should lowers it.
    max_response_bytes: Annotated[int, Field(ge=1024, le=MAX_RESPONSE_BYTES)] | None = None

    def stored(self) -> dict[str, Any]:
        """As written (camelCase keys, unset ones left out): what the database keeps and ``get`` prints."""
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return {key: value for key, value in data.items() if value != {}}


class ServiceSpec(_Model):
    protocol: Literal["federation", "graphql", "openapi"]
    schema_: SchemaSource = Field(alias="schema")
    entities: dict[str, EntitySpec] = Field(default_factory=dict)
    deployments: list[Deployment] = Field(default_factory=list)
    traffic: Traffic | None = None

    @model_validator(mode="after")
    def _schema_matches_protocol(self) -> ServiceSpec:
        if self.protocol == "openapi" and self.schema_.sdl is not None:
            raise ValueError("an openapi service takes schema.openapi or schema.file, not schema.sdl")
        if self.protocol != "openapi" and self.schema_.openapi is not None:
            raise ValueError(f"a {self.protocol} service takes schema.sdl or schema.file, not schema.openapi")
        return self


class Service(_Model):
    api_version: Literal["loom.dev/v1alpha1"]
    kind: Literal["Service"]
    metadata: TeamMetadata
    spec: ServiceSpec


# --- Product --------------------------------------------------------------------------------------------------


_GROUP_REFERENCE = re.compile(r"\\g<([^>]*)>|\\(\d+)")


def _patterns(value: dict[str, str]) -> dict[str, str]:
    """Each key a regular expression, each value a replacement that names only groups the pattern has; the error
    names the pattern."""
    for pattern, replacement in value.items():
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from exc
        for match in _GROUP_REFERENCE.finditer(replacement):
            group = match.group(1) if match.group(1) is not None else match.group(2)
            known = int(group) <= compiled.groups if group.isdigit() else group in compiled.groupindex
            if not known:
                raise ValueError(
                    f"{pattern!r}: the replacement {replacement!r} refers to group {group}, which the pattern does "
                    f"not have (it has {compiled.groups})"
                )
    return value


Patterns = Annotated[dict[str, str], AfterValidator(_patterns)]


class SourceRef(_Model):
    """One service as a source of a product, with its transforms (in the service's own names): ``prefix`` for its
    types, ``renameTypes``/``renameFields`` one by one, ``typePatterns``/``rootFieldPatterns`` by regular
    expression (matching the whole name; the replacement may use ``\\1``; the first matching pattern wins, an
    explicit rename wins over a pattern), and ``hide`` (``Type`` or ``Type.field``)."""

    service: Name
    prefix: str | None = None
    rename_types: dict[str, str] = Field(default_factory=dict)
    rename_fields: dict[str, str] = Field(default_factory=dict)
    type_patterns: Patterns = Field(default_factory=dict)
    root_field_patterns: Patterns = Field(default_factory=dict)
    hide: list[str] = Field(default_factory=list)


_GRAPHQL_NAME = r"^[_A-Za-z][_0-9A-Za-z]*$"
GraphQLName = Annotated[str, Field(pattern=_GRAPHQL_NAME, description="a GraphQL name, e.g. Loan or memberId")]


class LinkSpec(_Model):
    """A field the product adds to a type, resolved by another source's operation, joining two services that share
    no entity without changing either: ``{type: Loan, field: member, service: members, operation: member,
    arguments: {id: memberId}}`` resolves ``Loan.member`` with ``member(id: <the loan's memberId>)``.

    Names are the product's (after the sources' transforms). ``operation`` is a Query field of ``service`` (for an
    OpenAPI service, its operationId or the field bound to it); ``arguments`` maps each argument of the operation
    to the field of ``type`` that gives its value. One list argument means one batched call for all the objects,
    the results in the same order."""

    type: GraphQLName
    field: GraphQLName
    service: Name
    operation: str
    arguments: dict[str, str]
    description: str | None = None
    # The named type the new field returns (``Member``): when given, the operation must return it.
    returns: GraphQLName | None = None

    @field_validator("arguments")
    @classmethod
    def _arguments(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("map at least one argument of the operation to a field of the type, e.g. {id: memberId}")
        for argument, source in value.items():
            for name in (argument, source):
                if not re.match(_GRAPHQL_NAME, name):
                    raise ValueError(f"{name!r} is not a GraphQL name")
        return value


class RestRoute(_Model):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str
    operation: str

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("a REST path must start with '/'")
        return value


class Routing(_Model):
    clusters: list[Name] = Field(default_factory=list)
    residency: str | None = None


class ProductSpec(_Model):
    version: Annotated[str, Field(pattern=_SEMVER, description="semantic version, e.g. 1.2.0")]
    lifecycle: Literal["draft", "published", "deprecated", "retired"] = "draft"
    sources: list[SourceRef]
    rest: list[RestRoute] = Field(default_factory=list)
    routing: Routing = Field(default_factory=Routing)
    plans: list[Name] = Field(default_factory=list)
    # Type (product name) -> the source whose definition of that shared type wins.
    prefer: dict[GraphQLName, Name] = Field(default_factory=dict)
    links: list[LinkSpec] = Field(default_factory=list)

    def stitching(self) -> dict[str, Any]:
        """``prefer`` and ``links`` as written (unset ones left out): what the database keeps per version."""
        out: dict[str, Any] = {}
        if self.prefer:
            out["prefer"] = dict(self.prefer)
        if self.links:
            out["links"] = [link.model_dump(mode="json", by_alias=True, exclude_none=True) for link in self.links]
        return out

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: list[SourceRef]) -> list[SourceRef]:
        if not value:
            raise ValueError("a product needs at least one source")
        seen: set[str] = set()
        for ref in value:
            if ref.service in seen:
                raise ValueError(f"service {ref.service!r} is listed twice")
            seen.add(ref.service)
        return value


_TAG = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")


class ProductMetadata(TeamMetadata):
    """A product's metadata: the catalog shows ``displayName`` (the name when empty) and filters by ``tags``."""

    display_name: Annotated[str, Field(max_length=200)] | None = None
    tags: Annotated[list[str], Field(max_length=20)] = Field(default_factory=list)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        for tag in value:
            if not _TAG.match(tag):
                raise ValueError(f"tag {tag!r}: use lower-case letters, digits and '-' (at most 40), e.g. payments")
        if len(set(value)) != len(value):
            raise ValueError("a tag is listed twice")
        return value


class Product(_Model):
    api_version: Literal["loom.dev/v1alpha1"]
    kind: Literal["Product"]
    metadata: ProductMetadata
    spec: ProductSpec


# --- Plan -----------------------------------------------------------------------------------------------------


class RateLimit(_Model):
    requests: int = Field(gt=0)
    per: Literal["second", "minute", "hour", "day"]


AuthMethod: TypeAlias = Literal["apiKey", "oauth2"]


class PlanSpec(_Model):
    rate_limit: RateLimit
    auth: list[AuthMethod] = Field(default_factory=lambda: list[AuthMethod](["apiKey"]))
    approval: Literal["automatic", "manual"] = "manual"

    @field_validator("auth")
    @classmethod
    def _auth(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("list at least one of apiKey, oauth2")
        return value


class Plan(_Model):
    api_version: Literal["loom.dev/v1alpha1"]
    kind: Literal["Plan"]
    metadata: Metadata
    spec: PlanSpec


Resource: TypeAlias = Cluster | Team | Service | Product | Plan
KINDS: dict[str, type[Resource]] = {
    "Cluster": Cluster,
    "Team": Team,
    "Service": Service,
    "Product": Product,
    "Plan": Plan,
}
# Apply order: what a document may reference comes first.
KIND_ORDER: tuple[str, ...] = ("Cluster", "Team", "Plan", "Service", "Product")


@dataclass(frozen=True, slots=True)
class Document:
    """One validated resource and where it came from (for error messages).

    ``schema_text`` is the Service's schema text (read from ``schema.file`` or inline); ``schema_path`` is the
    schema file (relative OpenAPI ``$ref`` files are read beside it), None for inline schemas.
    """

    resource: Resource
    source: str
    index: int
    schema_text: str | None = None
    schema_path: Path | None = None

    @property
    def kind(self) -> str:
        return self.resource.kind

    @property
    def name(self) -> str:
        return self.resource.metadata.name

    def where(self) -> str:
        return f"{self.source}: document {self.index} ({self.kind}/{self.name})"

    def error(self, field: str, message: str) -> Invalid:
        """An Invalid naming this document and ``field`` (a path like ``spec.deployments[0].cluster``)."""
        return Invalid(message, path=f"{self.where()}: {field}" if field else self.where())


def _loc_to_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


# What each pattern of these models means, said in words in an error.
_PATTERN_WORDS = {
    _SEMVER: "a semantic version such as 1.2.0 or 2.0.0-beta.1",
    _NAME: "lower-case letters, digits and '-' (at most 63, starting and ending with a letter or digit)",
    _GRAPHQL_NAME: "a GraphQL name such as Loan or memberId",
}


def _describe(error: Mapping[str, Any]) -> str:
    kind = error.get("type")
    if kind == "extra_forbidden":
        return "unknown field; remove it or check its spelling"
    if kind == "missing":
        return "field required"
    if kind == "string_pattern_mismatch":  # pydantic would print the regular expression itself
        words = _PATTERN_WORDS.get(str((error.get("ctx") or {}).get("pattern")))
        if words is not None:
            return f"must be {words} (got {error.get('input')!r})"
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ")
    if kind in {"literal_error", "enum"} or (kind and str(kind).endswith("_type")):
        value = error.get("input")
        if not isinstance(value, (dict, list)):
            message = f"{message} (got {value!r})"
    return message


def _check_size(label: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise Invalid(
            f"{label} is {size} bytes, over the limit of {max_bytes} bytes (LOOM_AUTH_MAX_DOCUMENT_BYTES); "
            "split it or shrink it"
        )


def parse_resource(raw: Any, *, source: str = "request", index: int = 1) -> Resource:
    """Validate one resource's shape only (a Service's schema file is not read): what needs no schema, such as the
    sync worker's desired state from files. Raises :class:`Invalid` naming the source, the document and the field."""
    where = f"{source}: document {index}"
    if not isinstance(raw, Mapping):
        raise Invalid(
            f"a resource must be a mapping with apiVersion, kind, metadata and spec (got {type(raw).__name__})",
            path=where,
        )
    kind = raw.get("kind")
    name = raw.get("metadata", {}).get("name") if isinstance(raw.get("metadata"), Mapping) else None
    if name is not None:
        where = f"{where} ({kind}/{name})"
    if raw.get("apiVersion") != API_VERSION:
        raise Invalid(
            f"apiVersion must be {API_VERSION!r} (got {raw.get('apiVersion')!r})", path=f"{where}: apiVersion"
        )
    if kind not in KINDS:
        raise Invalid(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}", path=f"{where}: kind")
    try:
        resource = KINDS[kind].model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise Invalid(_describe(first) + more, path=f"{where}: {_loc_to_path(first['loc'])}") from exc
    return resource


def _parse_one(raw: Any, *, source: str, index: int, base_dir: Path | None, max_bytes: int) -> Document:
    resource = parse_resource(raw, source=source, index=index)
    doc = Document(resource=resource, source=source, index=index)
    if isinstance(resource, Service):
        return _with_schema(doc, resource, base_dir=base_dir, max_bytes=max_bytes)
    return doc


def _with_schema(doc: Document, service: Service, *, base_dir: Path | None, max_bytes: int) -> Document:
    schema = service.spec.schema_
    if schema.introspect is not None:
        return doc  # fetched by ``apply`` through the SSRF guard, after authorization
    if schema.file is None:
        text = schema.sdl if schema.sdl is not None else schema.openapi
        assert text is not None  # SchemaSource guarantees exactly one
        try:
            _check_size("the inline schema", len(text.encode()), max_bytes)
        except Invalid as exc:
            raise doc.error("spec.schema", exc.message) from exc
        return Document(service, doc.source, doc.index, schema_text=text)
    if base_dir is None:
        raise doc.error(
            "spec.schema.file", "schema files cannot be read here; inline the schema with schema.sdl or schema.openapi"
        )
    path = (base_dir / schema.file).resolve()
    try:
        size = path.stat().st_size
        _check_size(f"schema file {schema.file}", size, max_bytes)
        text = path.read_text(encoding="utf-8")
    except Invalid as exc:
        raise doc.error("spec.schema.file", exc.message) from exc
    except FileNotFoundError as exc:
        raise doc.error("spec.schema.file", f"{schema.file} not found (read relative to {base_dir})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise doc.error("spec.schema.file", f"cannot read {schema.file}: {exc}") from exc
    return Document(service, doc.source, doc.index, schema_text=text, schema_path=path)


def _check_duplicates(documents: Sequence[Document]) -> None:
    seen: dict[tuple[str, str], Document] = {}
    for doc in documents:
        key = (doc.kind, doc.name)
        if key in seen:
            first = seen[key]
            raise doc.error("metadata.name", f"duplicate {doc.kind} {doc.name!r}; already defined in {first.where()}")
        seen[key] = doc


def parse_documents(
    items: Iterable[Any], *, source: str = "request", base_dir: Path | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> list[Document]:
    """Validate already-parsed resources (e.g. JSON sent to the admin API). Raises :class:`Invalid`."""
    documents = []
    for index, raw in enumerate(items, start=1):
        try:
            size = len(json.dumps(raw, default=str).encode())
        except (TypeError, ValueError) as exc:
            raise Invalid(f"document {index} is not plain data: {exc}", path=source) from exc
        _check_size(f"{source}: document {index}", size, max_bytes)
        documents.append(_parse_one(raw, source=source, index=index, base_dir=base_dir, max_bytes=max_bytes))
    _check_duplicates(documents)
    return documents


def load_documents(paths: Iterable[str | Path], *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Document]:
    """Read resource YAML files (each may hold several ``---``-separated documents) and validate every document.

    A directory means every ``*.yaml``/``*.yml`` file in it, in name order. A file or a directory that holds no
    resource is an error (a wrong path given to ``loom apply`` must not look like success). Raises :class:`Invalid`
    naming the file, the document (1-based) and the field path.
    """
    documents: list[Document] = []
    for path in _expand(paths):
        label = path.name
        try:
            _check_size(label, path.stat().st_size, max_bytes)
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise Invalid(f"{path} not found") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise Invalid(f"cannot read {path}: {exc}") from exc
        try:
            raws = [raw for raw in yaml.safe_load_all(text) if raw is not None]
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise Invalid(f"malformed YAML{at}: {problem}", path=label) from exc
        if not raws:
            raise Invalid(f"{path} holds no resources (an empty file, or only comments); check the file name")
        for index, raw in enumerate(raws, start=1):
            documents.append(
                _parse_one(raw, source=label, index=index, base_dir=path.parent.resolve(), max_bytes=max_bytes)
            )
    _check_duplicates(documents)
    return documents


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml"} and _is_resource_file(p))
            if not found:
                raise Invalid(f"{path} holds no resources (no .yaml file in it declares apiVersion {API_VERSION})")
            out.extend(found)
        else:
            out.append(path)
    return out


def _is_resource_file(path: Path) -> bool:
    # A directory may hold OpenAPI YAML beside the resources; only files that declare our apiVersion are resources.
    try:
        return API_VERSION in path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return False


def resource_to_dict(resource: Resource) -> dict[str, Any]:
    """The resource as plain data in its YAML shape (camelCase, unset optional fields left out)."""
    data: dict[str, Any] = resource.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
    data["apiVersion"], data["kind"] = resource.api_version, resource.kind
    return data
