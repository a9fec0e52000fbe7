"""The Gloo renderer: a cluster's routing model as Gloo Edge objects (``gloo.solo.io/v1``, ``gateway.solo.io/v1``).

It renders the same :class:`~portal.sync.model.ClusterRouting` as :mod:`portal.sync.envoy`; what Envoy gets from
that renderer, Gloo builds from these objects.

**Layout.** For one cluster, in the Gloo namespace of the cluster (``ClusterSpec.namespace``):

* One **Upstream** per upstream of the model (``loom-entry-<product>``, ``loom-svc-<service>[-in-<zone>]``,
  ``loom-local-<service>``, ``loom-local-gateway``). Always ``static``: the model gives addresses, a Kubernetes
  service as its cluster-local DNS name, and one Upstream kind keeps SNI, health checks and failover uniform (a
  ``kube`` Upstream would balance over pods, but an ejection of the one endpoint is what fails over to the next
  priority anyway). The model's first priority is the Upstream's own hosts; the other priorities are
  ``failover.prioritizedLocalities`` in order (Gloo numbers the own hosts 0 and the list from 1, gloo-notes §1.2),
  one ``localityEndpoints`` per (region, zone) of a level. A remote endpoint is that cluster's failover gateway,
  reached with mutual TLS (the client certificate in the Secret ``failover-upstream`` of the Gloo namespace,
  the name Gloo's failover examples use; it must exist in every cluster that fails over, gloo-notes §1.7, §6.5) and
  the SNI ``<upstream>_<namespace>`` that the failover gateway forwards to the Envoy
  cluster of that name: the remote cluster's *local* upstream (``loom-local-*``), which never fails over again. A
  cluster's failover gateway itself is Gloo Enterprise's (Helm ``gatewayProxies.<proxy>.failover.enabled``), so the
  model's ``failover_routes`` need no object here: the local upstreams they name are rendered, and their names are
  the SNI. Every Upstream has an active HTTP health check (failover needs one, §1.2), outlier detection, circuit
  breakers sized for retries, a connect timeout, no update merge window and no panic mode (``healthyPanicThreshold:
  0``: nothing healthy is a fast 503, never an out-of-zone endpoint, since no failover list leaves the zone).
* One **VirtualService per domain**, as Gloo requires a domain to be owned by one virtual service on a gateway
  (gloo-notes §6.4): ``loom-products`` (domain ``*``, the cluster's entry) and ``loom-internal`` (the domain of the
  gateway's internal address, ``ClusterSpec.internal_url``). ``loom-products`` holds one route per product, a
  ``prefix: /products/<name>`` that **delegates by reference** to the product's **RouteTable**
  ``loom-product-<name>``. By reference, not by label selector: each prefix goes to exactly one table, so route
  order never depends on how Gloo sorts several selected tables (kgateway#9830), a change to a product's routes
  rewrites only its own table, and a missing table is a Gloo error rather than a silent gap.
* Each **RouteTable** has two routes to the product's entry upstream, matching ``/products/<name>`` and
  ``/products/<name>/...`` (the child matchers begin with the parent's prefix, §1.5): ``GET``/``HEAD`` (queries,
  safe to repeat) retry on 5xx and timeouts; everything else retries only when nothing reached a gateway (a
  mutation must not run twice). ``loom-internal`` has the same pair per service upstream at
  ``/_loom/upstreams/<upstream>``, the safe one selected by the gateway's ``x-loom-retry: safe`` header, rewritten
  to the service's own path. Route options: the request timeout, retries to the next priority
  (``previousPriorities``) with a per-try timeout and back-off, ``autoHostRewrite``. CORS: the routing model has no
  CORS policy (browsers talk to the Loom gateway, which answers CORS itself), so none is rendered.

Every object carries ``app.kubernetes.io/managed-by: loom``, ``loom.dev/cluster``, ``loom.dev/generation`` and,
when it belongs to one product (its entry upstream, its route table), ``loom.dev/product``. Upstreams of services
are shared by the products that use them and carry no product label. The output is sorted (dependency order:
Upstreams, RouteTables, VirtualServices; then by name) and equal models render equal objects.

**What Gloo cannot say that Envoy can** (the Envoy renderer has these): outlier detection has no
``maxEjectionTime`` (a host's ejection time is the base time times its ejections, up to Envoy's default cap, so
fail-back after repeated faults can be slower than with the Envoy renderer's one-second cap), retries have no
``previous_hosts`` predicate and no host-selection attempts, and there is no
per-route local reply, so "nothing healthy" is Gloo's plain 503 ``no healthy upstream`` rather than a message
naming the service and zone.

**Installation requirement.** A Gateway without a selector serves every VirtualService, and a Host header is easy
to forge, so ``loom-internal``'s domain alone does not keep its routes private: select VirtualServices by the
label ``loom.dev/listener`` (``products`` on the public gateway-proxy, ``internal`` on ``gateway-proxy-internal``)
with the Gateways' ``virtualServiceSelector``, so that no one outside the cluster reaches a service past the Loom
gateway. The products VirtualService claims the domain ``*``, which only one VirtualService per Gateway may.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from portal.sync.desired import TrafficPolicy
from portal.sync.errors import InvalidDesiredState
from portal.sync.model import ClusterRouting, Endpoint, InternalRoute, ProductRoute, Upstream

__all__ = [
    "CLUSTER_LABEL",
    "FAILOVER_CLIENT_SECRET",
    "GENERATION_LABEL",
    "INTERNAL_VIRTUAL_SERVICE",
    "KIND_ORDER",
    "LISTENER_LABEL",
    "MANAGED_BY_LABEL",
    "PRODUCTS_VIRTUAL_SERVICE",
    "PRODUCT_LABEL",
    "SAFE_RETRY_HEADER",
    "object_name",
    "product_route_table",
    "render",
]

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
CLUSTER_LABEL = "loom.dev/cluster"
PRODUCT_LABEL = "loom.dev/product"
GENERATION_LABEL = "loom.dev/generation"
LISTENER_LABEL = "loom.dev/listener"  # products | internal: which gateway-proxy a VirtualService belongs on
PRODUCTS_VIRTUAL_SERVICE = "loom-products"
INTERNAL_VIRTUAL_SERVICE = "loom-internal"
# The name of the Secret with the client certificate of Gloo's cross-cluster failover (mutual TLS).
FAILOVER_CLIENT_SECRET = "failover-upstream"  # noqa: S105 (a name, not a secret)
# The gateway marks requests that are safe to repeat (queries); only those retry on 5xx and timeouts. The same
# header as portal.sync.envoy.SAFE_RETRY_HEADER (a renderer imports no other renderer; a test keeps them equal).
SAFE_RETRY_HEADER = "x-loom-retry"

_UPSTREAM = ("gloo.solo.io/v1", "Upstream")
_ROUTE_TABLE = ("gateway.solo.io/v1", "RouteTable")
_VIRTUAL_SERVICE = ("gateway.solo.io/v1", "VirtualService")
# Dependency order: what an object names comes before it.
KIND_ORDER = ("Upstream", "UpstreamGroup", "RouteTable", "VirtualService", "Gateway")
_SAFE_METHODS = ("GET", "HEAD")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_UNSAFE = re.compile(r"[^a-z0-9-]+")


def render(routing: ClusterRouting) -> list[dict[str, Any]]:
    """The Gloo objects of one cluster's routing model (which must have no problems), in dependency order."""
    if routing.problems:
        raise InvalidDesiredState(
            f"cluster {routing.cluster.name!r} has problems and must not be rendered: {routing.problems[0]}"
        )
    context = _Context(routing)
    products = {r.upstream: r.product for r in routing.routes}
    objects = [context.upstream(u, products.get(u.name)) for u in routing.upstreams]
    by_name = {u.name: u for u in routing.upstreams}
    objects += [context.route_table(r, by_name[r.upstream]) for r in routing.routes]
    if routing.routes:
        objects.append(context.products_virtual_service(routing.routes))
    if routing.internal_routes:
        objects.append(context.internal_virtual_service(routing.internal_routes, by_name))
    return sorted(objects, key=lambda o: (KIND_ORDER.index(o["kind"]), o["metadata"]["name"]))


def object_name(value: str) -> str:
    """``value`` when it is a DNS-1123 label (what Gloo and Kubernetes accept everywhere, Envoy cluster names
    included), else a label made of it with a hash that keeps different values apart."""
    if _DNS_LABEL.match(value):
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:8]
    slug = _UNSAFE.sub("-", value.lower()).strip("-")[:50].strip("-")
    return f"{slug}-{digest}" if slug else f"loom-{digest}"


def product_route_table(product: str) -> str:
    """The name of a product's RouteTable."""
    return object_name(f"loom-product-{product}")


class _Context:
    """What every object of one cluster shares: its namespace and labels."""

    def __init__(self, routing: ClusterRouting) -> None:
        self.routing = routing
        self.namespace = routing.cluster.namespace
        self.labels = {
            MANAGED_BY_LABEL: "loom",
            CLUSTER_LABEL: routing.cluster.name,
            GENERATION_LABEL: str(routing.generation),
        }

    def _object(
        self, kind: tuple[str, str], name: str, spec: dict[str, Any], labels: dict[str, str] | None = None
    ) -> dict[str, Any]:
        return {
            "apiVersion": kind[0],
            "kind": kind[1],
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "labels": {**self.labels, **(labels or {})},
            },
            "spec": spec,
        }

    def _ref(self, name: str) -> dict[str, str]:
        return {"name": object_name(name), "namespace": self.namespace}

    # -- upstreams -------------------------------------------------------------------------------------------

    def upstream(self, upstream: Upstream, product: str | None) -> dict[str, Any]:
        if not upstream.priorities or not upstream.priorities[0]:
            raise InvalidDesiredState(
                f"cluster {self.routing.cluster.name!r}: upstream {upstream.name!r} has no endpoint to render"
            )
        traffic = upstream.traffic
        primary = upstream.priorities[0]
        spec: dict[str, Any] = {"static": self._static(upstream.name, primary)}
        ssl = self._primary_ssl(upstream.name, primary)
        if ssl is not None:
            spec["sslConfig"] = ssl
        spec["connectionConfig"] = {"connectTimeout": _duration(traffic.connect_timeout_ms)}
        spec["healthChecks"] = [_health_check(upstream.health_path, traffic)]
        spec["outlierDetection"] = _outlier_detection(traffic)
        breakers = traffic.circuit_breakers
        spec["circuitBreakers"] = {
            "maxConnections": breakers.max_connections,
            "maxPendingRequests": breakers.max_pending_requests,
            "maxRequests": breakers.max_requests,
            "maxRetries": breakers.max_retries,
        }
        # No merge window: an ejection or a failed health check takes effect at once. No panic mode: an unhealthy
        # endpoint is never used, so nothing healthy in the zone is a fast 503.
        spec["loadBalancerConfig"] = {"healthyPanicThreshold": 0, "updateMergeWindow": "0s"}
        spec["ignoreHealthOnHostRemoval"] = True
        if len(upstream.priorities) > 1:
            spec["failover"] = {
                "prioritizedLocalities": [
                    {"localityEndpoints": self._localities(level)} for level in upstream.priorities[1:]
                ]
            }
        labels = {PRODUCT_LABEL: product} if product is not None else None
        return self._object(_UPSTREAM, object_name(upstream.name), spec, labels)

    def _static(self, name: str, endpoints: Sequence[Endpoint]) -> dict[str, Any]:
        hosts = []
        for endpoint in endpoints:
            host: dict[str, Any] = {"addr": endpoint.address.host, "port": endpoint.address.port}
            if endpoint.via_failover:
                host["sniAddr"] = self._failover_sni(endpoint)
            hosts.append(host)
        return {"hosts": hosts, "useTls": self._primary_tls(name, endpoints)}

    def _primary_tls(self, name: str, endpoints: Sequence[Endpoint]) -> bool:
        modes = {_uses_tls(e) for e in endpoints}
        if len(modes) > 1:
            raise InvalidDesiredState(
                f"cluster {self.routing.cluster.name!r}: upstream {name!r} mixes TLS and plain endpoints in its "
                "first priority, which one Gloo Upstream cannot express"
            )
        return modes.pop()

    def _primary_ssl(self, name: str, endpoints: Sequence[Endpoint]) -> dict[str, Any] | None:
        if not self._primary_tls(name, endpoints):
            return None
        if any(e.via_failover for e in endpoints):
            # each host's SNI is its sniAddr (the remote upstream); the client certificate is the failover secret
            return {"secretRef": self._ref(FAILOVER_CLIENT_SECRET)}
        return {"sni": endpoints[0].address.host}

    def _localities(self, level: Iterable[Endpoint]) -> list[dict[str, Any]]:
        grouped: dict[tuple[str, str], list[Endpoint]] = {}
        for endpoint in level:
            grouped.setdefault((endpoint.region, endpoint.zone), []).append(endpoint)
        localities = []
        for (region, zone), endpoints in sorted(grouped.items()):
            locality = {"region": region, "zone": zone} if zone else {"region": region}
            localities.append({"locality": locality, "lbEndpoints": [self._lb_endpoint(e) for e in endpoints]})
        return localities

    def _lb_endpoint(self, endpoint: Endpoint) -> dict[str, Any]:
        out: dict[str, Any] = {"address": endpoint.address.host, "port": endpoint.address.port}
        if endpoint.via_failover:
            out["upstreamSslConfig"] = {
                "secretRef": self._ref(FAILOVER_CLIENT_SECRET),
                "sni": self._failover_sni(endpoint),
            }
        elif endpoint.tls:
            out["upstreamSslConfig"] = {"sni": endpoint.address.host}
        return out

    def _failover_sni(self, endpoint: Endpoint) -> str:
        """``<upstream>_<namespace>``: the Envoy cluster the remote failover gateway forwards to, by Gloo's naming,
        with the upstream's name as this renderer makes it there."""
        upstream, sep, namespace = endpoint.authority.rpartition("_")
        if not sep:
            raise InvalidDesiredState(
                f"cluster {self.routing.cluster.name!r}: the failover endpoint in cluster {endpoint.cluster!r} is "
                f"addressed as {endpoint.authority!r}, not as <upstream>_<namespace>"
            )
        return f"{object_name(upstream)}_{namespace}"

    # -- routes ----------------------------------------------------------------------------------------------

    def route_table(self, product_route: ProductRoute, upstream: Upstream) -> dict[str, Any]:
        prefix = product_route.prefix.rstrip("/")
        base = [{"exact": prefix}, {"prefix": prefix + "/"}]
        routes = self._retrying_routes(
            f"product-{product_route.product}",
            [{**m, "methods": list(_SAFE_METHODS)} for m in base],
            base,
            upstream,
            rewrite=None,
        )
        return self._object(
            _ROUTE_TABLE,
            product_route_table(product_route.product),
            {"routes": routes},
            {PRODUCT_LABEL: product_route.product},
        )

    def products_virtual_service(self, routes: Sequence[ProductRoute]) -> dict[str, Any]:
        delegating = [
            {
                "name": f"product-{r.product}",
                "matchers": [{"prefix": r.prefix.rstrip("/")}],
                "delegateAction": {"ref": self._ref(product_route_table(r.product))},
            }
            for r in sorted(routes, key=lambda r: r.prefix)
        ]
        spec = {"virtualHost": {"domains": ["*"], "routes": delegating}}
        return self._object(_VIRTUAL_SERVICE, PRODUCTS_VIRTUAL_SERVICE, spec, {LISTENER_LABEL: "products"})

    def internal_virtual_service(
        self, routes: Sequence[InternalRoute], upstreams: Mapping[str, Upstream]
    ) -> dict[str, Any]:
        out: list[dict[str, Any]] = []
        for internal in sorted(routes, key=lambda r: r.prefix):
            upstream = upstreams[internal.upstream]
            prefix = internal.prefix.rstrip("/")  # the gateway's URLs name the model's upstream
            base: list[dict[str, Any]] = [{"exact": prefix}, {"prefix": prefix + "/"}]
            safe_header = {"headers": [{"name": SAFE_RETRY_HEADER, "value": "safe"}]}
            out += self._retrying_routes(
                object_name(upstream.name),
                [{**m, **safe_header} for m in base],
                base,
                upstream,
                rewrite={"pattern": {"regex": f"^{re.escape(prefix)}/?(.*)$"}, "substitution": "/\\1"},
            )
        parts = urlsplit(self.routing.cluster.internal_url)
        host = parts.hostname or ""
        domains = sorted({host, f"{host}:{parts.port}"} if parts.port else {host})
        spec = {"virtualHost": {"domains": domains, "routes": out}}
        return self._object(_VIRTUAL_SERVICE, INTERNAL_VIRTUAL_SERVICE, spec, {LISTENER_LABEL: "internal"})

    def _retrying_routes(
        self,
        name: str,
        safe: list[dict[str, Any]],
        unsafe: list[dict[str, Any]],
        upstream: Upstream,
        *,
        rewrite: dict[str, Any] | None,
    ) -> list[dict[str, Any]]:
        """Two routes to ``upstream``: requests matching ``safe`` retry on 5xx and timeouts, the others
        (``unsafe``) only when nothing reached the upstream."""
        return [
            {
                "name": f"{name}-safe",
                "matchers": safe,
                "routeAction": {"single": {"upstream": self._ref(upstream.name)}},
                "options": _route_options(upstream.traffic, rewrite, idempotent=True),
            },
            {
                "name": name,
                "matchers": unsafe,
                "routeAction": {"single": {"upstream": self._ref(upstream.name)}},
                "options": _route_options(upstream.traffic, rewrite, idempotent=False),
            },
        ]


def _route_options(traffic: TrafficPolicy, rewrite: dict[str, Any] | None, *, idempotent: bool) -> dict[str, Any]:
    retries = traffic.retries
    options: dict[str, Any] = {
        "timeout": _duration(traffic.request_timeout_ms),
        "retries": {
            "retryOn": ",".join(retries.retry_on if idempotent else retries.unsafe_retry_on),
            "numRetries": retries.num_retries,
            "retryBackOff": {
                "baseInterval": _duration(max(retries.base_interval_ms, 1)),
                "maxInterval": _duration(max(retries.max_interval_ms, retries.base_interval_ms, 1)),
            },
            "previousPriorities": {"updateFrequency": 1},
        },
        # each endpoint is addressed by its own host name; the original host goes along as X-Forwarded-Host
        "autoHostRewrite": True,
        "appendXForwardedHost": True,
    }
    if idempotent:  # a per-try timeout on a request never repeated would only cut a slow mutation short
        options["retries"]["perTryTimeout"] = _duration(retries.per_try_timeout_ms)
    if rewrite is not None:
        options["regexRewrite"] = rewrite
    return options


def _health_check(path: str, traffic: TrafficPolicy) -> dict[str, Any]:
    check = traffic.health_check
    return {
        "timeout": _duration(check.timeout_ms),
        "interval": _duration(check.interval_ms),
        "noTrafficInterval": _duration(check.interval_ms),  # idle upstreams are watched as closely
        "unhealthyThreshold": check.unhealthy_threshold,
        "healthyThreshold": check.healthy_threshold,
        "httpHealthCheck": {"path": path},
    }


def _outlier_detection(traffic: TrafficPolicy) -> dict[str, Any]:
    outlier = traffic.outlier_detection
    return {
        "consecutive5xx": outlier.consecutive_5xx,
        "consecutiveGatewayFailure": outlier.consecutive_gateway_failure,
        "enforcingConsecutive5xx": outlier.enforcing_percent,
        "enforcingConsecutiveGatewayFailure": outlier.enforcing_percent,
        "interval": _duration(outlier.interval_ms),
        "baseEjectionTime": _duration(outlier.base_ejection_ms),
        "maxEjectionPercent": outlier.max_ejection_percent,
    }


def _uses_tls(endpoint: Endpoint) -> bool:
    """Failover gateways are always reached with mutual TLS (their SNI picks the upstream)."""
    return endpoint.tls or endpoint.via_failover


def _duration(ms: int) -> str:
    """A protobuf JSON duration (``0.25s``), the only form Gloo reads."""
    seconds, millis = divmod(ms, 1000)
    return f"{seconds}s" if millis == 0 else f"{seconds}.{millis:03d}".rstrip("0") + "s"
