"""Real types for what the tables keep as JSON (labels, Gloo settings, entities, transforms, routing, REST routes,
endpoints, versions, audit summaries), so a client selects fields the schema names instead of parsing free JSON.

Each ``of`` reads the stored value defensively: rows written by older versions may lack keys, and a value of the
wrong shape becomes the type's empty value rather than an internal error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import strawberry

__all__ = [
    "AuditDetail",
    "ComponentVersion",
    "CompositionPreview",
    "Endpoint",
    "Entity",
    "GlooProxy",
    "GlooSettings",
    "HostPort",
    "Label",
    "Link",
    "LinkArgument",
    "Pattern",
    "Preference",
    "Rename",
    "RestRoute",
    "Routing",
    "Traffic",
    "Transforms",
    "audit_details",
    "component_versions",
    "entities",
    "labels",
    "links",
    "preferences",
    "rest_routes",
]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


@strawberry.type(description="A label of a cluster.")
class Label:
    key: str
    value: str


def labels(value: Any) -> list[Label]:
    return [Label(key=str(k), value=str(v)) for k, v in sorted(_mapping(value).items())]


@strawberry.type(description="A host and a port.")
class HostPort:
    host: str
    port: int


@strawberry.type(description="Where a local-envoy cluster's Envoy listens (host:port each).")
class GlooProxy:
    listener: str | None
    internal: str | None
    admin: str | None


@strawberry.type(description="A cluster's spec.gloo: how the sync worker reaches its gateway.")
class GlooSettings:
    target: str = strawberry.field(description="local-envoy, kubernetes or gitops.")
    namespace: str | None
    kube_context: str | None
    failover_gateway: HostPort | None
    proxy: GlooProxy | None

    @classmethod
    def of(cls, value: Any) -> GlooSettings:
        gloo = _mapping(value)
        failover = _mapping(gloo.get("failoverGateway"))
        proxy = gloo.get("proxy")
        host, port = _str(failover.get("host")), _int(failover.get("port"))
        return cls(
            target=_str(gloo.get("target")) or "",
            namespace=_str(gloo.get("namespace")),
            kube_context=_str(gloo.get("kubeContext")),
            failover_gateway=HostPort(host=host, port=port) if host is not None and port is not None else None,
            proxy=(
                GlooProxy(
                    listener=_str(_mapping(proxy).get("listener")),
                    internal=_str(_mapping(proxy).get("internal")),
                    admin=_str(_mapping(proxy).get("admin")),
                )
                if isinstance(proxy, Mapping)
                else None
            ),
        )


@strawberry.type(description="How the gateway fetches one entity type from a service (spec.entities).")
class Entity:
    type: str
    key: str
    operation: str
    argument: str | None
    batched: bool | None


def entities(value: Any) -> list[Entity]:
    out: list[Entity] = []
    for name, spec in sorted(_mapping(value).items()):
        entity = _mapping(spec)
        batched = entity.get("batched")
        out.append(
            Entity(
                type=str(name),
                key=_str(entity.get("key")) or "",
                operation=_str(entity.get("operation")) or "",
                argument=_str(entity.get("argument")),
                batched=batched if isinstance(batched, bool) else None,
            )
        )
    return out


def _duration(value: Any) -> str | None:
    """A duration as written (``250ms``, ``1s``); a bare number is milliseconds, said so."""
    if isinstance(value, str):
        return value
    number = _int(value)
    return f"{number}ms" if number is not None else None


@strawberry.type(description="How the gateway checks a service's endpoints (spec.traffic.healthCheck).")
class TrafficHealthCheck:
    path: str | None
    interval: str | None
    timeout: str | None
    unhealthy_threshold: int | None
    healthy_threshold: int | None


@strawberry.type(description="When an endpoint is taken out of the pool for a while (spec.traffic.outlierDetection).")
class TrafficOutlierDetection:
    consecutive_5xx: int | None = strawberry.field(name="consecutive5xx")
    consecutive_gateway_failure: int | None
    enforcing_percent: int | None
    interval: str | None
    base_ejection_time: str | None
    max_ejection_time: str | None
    max_ejection_percent: int | None


@strawberry.type(description="Retries of a failed request (spec.traffic.retries).")
class TrafficRetries:
    attempts: int | None
    per_try_timeout: str | None


@strawberry.type(description="Limits on what is in flight to a service at once (spec.traffic.circuitBreakers).")
class TrafficCircuitBreakers:
    max_connections: int | None
    max_pending_requests: int | None
    max_requests: int | None
    max_retries: int | None


@strawberry.type(
    description="A service's overrides of the platform's traffic defaults (spec.traffic); null: the default. "
    "Durations are written like 250ms, 1s or 2m."
)
class Traffic:
    connect_timeout: str | None
    request_timeout: str | None
    max_response_bytes: int | None
    health_check: TrafficHealthCheck | None
    outlier_detection: TrafficOutlierDetection | None
    retries: TrafficRetries | None
    circuit_breakers: TrafficCircuitBreakers | None

    @classmethod
    def of(cls, value: Any) -> Traffic:
        traffic = _mapping(value)
        health, outlier = traffic.get("healthCheck"), traffic.get("outlierDetection")
        retries, breakers = traffic.get("retries"), traffic.get("circuitBreakers")
        h, o, r, b = _mapping(health), _mapping(outlier), _mapping(retries), _mapping(breakers)
        return cls(
            connect_timeout=_duration(traffic.get("connectTimeout")),
            request_timeout=_duration(traffic.get("requestTimeout")),
            max_response_bytes=_int(traffic.get("maxResponseBytes")),
            health_check=TrafficHealthCheck(
                path=_str(h.get("path")),
                interval=_duration(h.get("interval")),
                timeout=_duration(h.get("timeout")),
                unhealthy_threshold=_int(h.get("unhealthyThreshold")),
                healthy_threshold=_int(h.get("healthyThreshold")),
            )
            if isinstance(health, Mapping)
            else None,
            outlier_detection=TrafficOutlierDetection(
                consecutive_5xx=_int(o.get("consecutive5xx")),
                consecutive_gateway_failure=_int(o.get("consecutiveGatewayFailure")),
                enforcing_percent=_int(o.get("enforcingPercent")),
                interval=_duration(o.get("interval")),
                base_ejection_time=_duration(o.get("baseEjectionTime")),
                max_ejection_time=_duration(o.get("maxEjectionTime")),
                max_ejection_percent=_int(o.get("maxEjectionPercent")),
            )
            if isinstance(outlier, Mapping)
            else None,
            retries=TrafficRetries(attempts=_int(r.get("attempts")), per_try_timeout=_duration(r.get("perTryTimeout")))
            if isinstance(retries, Mapping)
            else None,
            circuit_breakers=TrafficCircuitBreakers(
                max_connections=_int(b.get("maxConnections")),
                max_pending_requests=_int(b.get("maxPendingRequests")),
                max_requests=_int(b.get("maxRequests")),
                max_retries=_int(b.get("maxRetries")),
            )
            if isinstance(breakers, Mapping)
            else None,
        )


@strawberry.type(description="A rename: `from` becomes `to`.")
class Rename:
    from_: str = strawberry.field(name="from")
    to: str


def _renames(value: Any) -> list[Rename]:
    return [Rename(from_=str(k), to=str(v)) for k, v in _mapping(value).items()]


@strawberry.type(
    description="A rename by regular expression: a name that `pattern` matches whole becomes `replacement` (which "
    "may use the pattern's groups, `\\1`). The first matching pattern wins; an explicit rename wins over a pattern."
)
class Pattern:
    pattern: str
    replacement: str


def _patterns(value: Any) -> list[Pattern]:
    return [Pattern(pattern=str(k), replacement=str(v)) for k, v in _mapping(value).items()]


@strawberry.type(description="What a product does to one source's schema before composing it.")
class Transforms:
    prefix: str | None = strawberry.field(description="Put before each of the source's type names.")
    rename_types: list[Rename]
    rename_fields: list[Rename] = strawberry.field(description="`Type.field` to a new field name.")
    hide: list[str] = strawberry.field(description="`Type` or `Type.field`, left out of the product.")
    type_patterns: list[Pattern] = strawberry.field(description="Renames of the source's types by pattern.")
    root_field_patterns: list[Pattern] = strawberry.field(
        description="Renames of the source's Query, Mutation and Subscription fields by pattern."
    )

    @classmethod
    def of(cls, value: Any) -> Transforms:
        transforms = _mapping(value)
        return cls(
            prefix=_str(transforms.get("prefix")),
            rename_types=_renames(transforms.get("renameTypes")),
            rename_fields=_renames(transforms.get("renameFields")),
            hide=_strings(transforms.get("hide")),
            type_patterns=_patterns(transforms.get("typePatterns")),
            root_field_patterns=_patterns(transforms.get("rootFieldPatterns")),
        )


@strawberry.type(description="A type that several sources define, and the source whose definition the product keeps.")
class Preference:
    type: str = strawberry.field(description="The type, as the product names it.")
    service: str


def preferences(stitching: Any) -> list[Preference]:
    """A product version's ``prefer`` (from its stored ``stitching``), by type name."""
    prefer = _mapping(_mapping(stitching).get("prefer"))
    return [Preference(type=str(k), service=str(v)) for k, v in sorted(prefer.items())]


@strawberry.type(description="An argument of a link's operation and the field of the linked type that gives its value.")
class LinkArgument:
    argument: str
    from_: str = strawberry.field(name="from", description="A field of the link's type, e.g. memberId.")


@strawberry.type(
    description="A field the product adds to a type, resolved by another source's operation with values of the "
    "object it is on: `type.field` is `operation(argument: <from>)` of `service` (e.g. Loan.member is "
    "member(id: memberId) of members)."
)
class Link:
    type: str
    field: str
    service: str
    operation: str = strawberry.field(description="A Query field of the service (an OpenAPI operationId too).")
    arguments: list[LinkArgument]
    description: str | None
    returns: str | None = strawberry.field(description="The named type the field returns, when the link says so.")


def links(stitching: Any) -> list[Link]:
    """A product version's ``links`` (from its stored ``stitching``), in their order."""
    items = _mapping(stitching).get("links")
    out: list[Link] = []
    for link in (_mapping(item) for item in (items if isinstance(items, list) else [])):
        out.append(
            Link(
                type=_str(link.get("type")) or "",
                field=_str(link.get("field")) or "",
                service=_str(link.get("service")) or "",
                operation=_str(link.get("operation")) or "",
                arguments=[
                    LinkArgument(argument=str(k), from_=str(v)) for k, v in _mapping(link.get("arguments")).items()
                ],
                description=_str(link.get("description")),
                returns=_str(link.get("returns")),
            )
        )
    return out


@strawberry.type(description="Where a product version is served: its clusters, and the residency they must have.")
class Routing:
    clusters: list[str]
    residency: str | None

    @classmethod
    def of(cls, value: Any) -> Routing:
        routing = _mapping(value)
        return cls(clusters=_strings(routing.get("clusters")), residency=_str(routing.get("residency")) or None)


@strawberry.type(description="A REST route of a product: METHOD path runs a GraphQL operation.")
class RestRoute:
    method: str
    path: str
    operation: str


def rest_routes(value: Any) -> list[RestRoute]:
    items = value if isinstance(value, list) else []
    return [
        RestRoute(
            method=_str(route.get("method")) or "",
            path=_str(route.get("path")) or "",
            operation=_str(route.get("operation")) or "",
        )
        for route in (_mapping(item) for item in items)
    ]


@strawberry.type(description="One endpoint of an upstream, as the gateway's health checks see it.")
class Endpoint:
    cluster: str
    address: str
    priority: int = strawberry.field(description="0 takes traffic first; higher ones are failover.")
    healthy: bool
    ejected: bool = strawberry.field(description="Outlier detection took it out of the pool for now.")

    @classmethod
    def of(cls, value: Any) -> Endpoint:
        endpoint = _mapping(value)
        return cls(
            cluster=_str(endpoint.get("cluster")) or "",
            address=_str(endpoint.get("address")) or "",
            priority=_int(endpoint.get("priority")) or 0,
            healthy=endpoint.get("healthy") is True,
            ejected=endpoint.get("ejected") is True,
        )


@strawberry.type(description="The version of one component of a cluster's gateway (e.g. envoy 1.40.0).")
class ComponentVersion:
    component: str
    version: str


def component_versions(value: Any) -> list[ComponentVersion]:
    return [ComponentVersion(component=str(k), version=str(v)) for k, v in sorted(_mapping(value).items())]


@strawberry.type(
    description="One entry of an audit event's summary: `value` is the text, or compact JSON for a list or mapping."
)
class AuditDetail:
    key: str
    value: str


def audit_details(value: Any) -> list[AuditDetail]:
    out: list[AuditDetail] = []
    for key, item in _mapping(value).items():
        if item is None or item == "":
            continue
        text = item if isinstance(item, str) else json.dumps(item, separators=(",", ":"), sort_keys=True, default=str)
        out.append(AuditDetail(key=str(key), value=text))
    return out


@strawberry.type(
    description="A product's composition before it is saved: the schema consumers would see, or the conflicts that "
    "stop it (each naming both services, the type and the field)."
)
class CompositionPreview:
    composes: bool
    sdl: str | None = strawberry.field(description="The product's schema when it composes.")
    conflicts: list[str]
    unpublished: list[str] = strawberry.field(description="Sources whose service has no published schema yet.")
