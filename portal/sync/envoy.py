"""The Envoy renderer: a cluster's routing model as Envoy v3 configuration.

Three listeners, each with its own route configuration:

* ``loom-products`` (the cluster's entry): ``/products/<name>/...`` to the product's entry upstream (the gateways
  that may process it, by locality);
* ``loom-internal``: the gateway's way to services, ``/_loom/upstreams/<upstream>/...`` rewritten to the service's
  own path, with retries to the next priority;
* ``loom-failover`` (the cluster's failover gateway): requests addressed (Host header) to one of this cluster's
  local upstreams go there. Gloo's failover gateway matches the TLS SNI instead; locally plain HTTP and the Host
  header play that part.

:func:`render` answers an :class:`EnvoyConfig` (listeners, route configurations, clusters as plain JSON-able
dicts); :meth:`EnvoyConfig.bootstrap` makes a static bootstrap of it (``loom render --target envoy`` and
``envoy --mode validate``), :meth:`EnvoyConfig.xds_files` the files of Envoy's filesystem xDS (the local-envoy
target), where routes come through RDS so a change of routes never touches a listener or a connection.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portal.sync.desired import HostPort, TrafficPolicy
from portal.sync.model import ClusterRouting, Endpoint, InternalRoute, ProductRoute, Upstream

__all__ = [
    "FAILOVER_LISTENER",
    "INTERNAL_LISTENER",
    "PRODUCTS_LISTENER",
    "SAFE_RETRY_HEADER",
    "EnvoyConfig",
    "render",
    "route_file",
]

PRODUCTS_LISTENER = "loom-products"
INTERNAL_LISTENER = "loom-internal"
FAILOVER_LISTENER = "loom-failover"
# The gateway marks requests that are safe to repeat (queries); only those retry on 5xx and timeouts.
SAFE_RETRY_HEADER = "x-loom-retry"

_TYPES = "type.googleapis.com/envoy."
_HCM = _TYPES + "extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
_ROUTER = _TYPES + "extensions.filters.http.router.v3.Router"
_PREVIOUS_PRIORITIES = _TYPES + "extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig"
_PREVIOUS_HOSTS = _TYPES + "extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
_TLS = _TYPES + "extensions.transport_sockets.tls.v3.UpstreamTlsContext"
_RAW_BUFFER = _TYPES + "extensions.transport_sockets.raw_buffer.v3.RawBuffer"
# Nothing healthy: Envoy's plain "no healthy upstream" becomes a JSON error that names what is missing where.
_LOCAL_REPLIES = {
    "mappers": [
        {
            "filter": {"response_flag_filter": {"flags": ["UH"]}},
            "body_format_override": {
                "json_format": {
                    "errors": [{"message": "%METADATA(ROUTE:loom:unavailable)%", "extensions": {"code": "UNAVAILABLE"}}]
                }
            },
        }
    ]
}


@dataclass(frozen=True, slots=True)
class EnvoyConfig:
    """One cluster's Envoy resources. ``listeners`` name their routes (RDS) by the listener's name."""

    cluster: str
    listeners: tuple[dict[str, Any], ...]
    route_configs: tuple[dict[str, Any], ...]
    clusters: tuple[dict[str, Any], ...]
    admin: HostPort | None = None

    def bootstrap(self) -> dict[str, Any]:
        """A static bootstrap: every listener with its routes inline, every cluster."""
        routes = {r["name"]: r for r in self.route_configs}
        listeners = []
        for listener in self.listeners:
            inlined = json.loads(json.dumps(listener))
            hcm = inlined["filter_chains"][0]["filters"][0]["typed_config"]
            hcm["route_config"] = routes[hcm.pop("rds")["route_config_name"]]
            listeners.append(inlined)
        config: dict[str, Any] = {
            "node": _node(self.cluster),
            "static_resources": {"listeners": listeners, "clusters": list(self.clusters)},
            "overload_manager": _OVERLOAD,
        }
        if self.admin is not None:
            config["admin"] = {"address": _socket(self.admin)}
        return config

    def dynamic_bootstrap(self, directory: str) -> dict[str, Any]:
        """The bootstrap of an Envoy that reads its listeners, routes and clusters from files in ``directory``."""

        def source(name: str) -> dict[str, Any]:
            return {
                "path_config_source": {"path": f"{directory}/{name}", "watched_directory": {"path": directory}},
                "resource_api_version": "V3",
            }

        config: dict[str, Any] = {
            "node": _node(self.cluster),
            "dynamic_resources": {"lds_config": source("lds.json"), "cds_config": source("cds.json")},
            "overload_manager": _OVERLOAD,
        }
        if self.admin is not None:
            config["admin"] = {"address": _socket(self.admin)}
        return config

    def xds_files(self, directory: str) -> dict[str, dict[str, Any]]:
        """The contents of ``lds.json``, ``cds.json`` and one ``rds-<listener>.json`` per listener (filesystem xDS
        discovery responses). A filesystem RDS subscription takes exactly one route configuration per file (Envoy
        rejects more: "Unexpected RDS resource length")."""
        listeners = []
        for listener in self.listeners:
            linked = json.loads(json.dumps(listener))
            hcm = linked["filter_chains"][0]["filters"][0]["typed_config"]
            path = f"{directory}/{route_file(hcm['rds']['route_config_name'])}"
            hcm["rds"]["config_source"] = {
                "path_config_source": {"path": path, "watched_directory": {"path": directory}},
                "resource_api_version": "V3",
            }
            listeners.append(linked)
        files = {
            "lds.json": _discovery("listener.v3.Listener", listeners),
            "cds.json": _discovery("cluster.v3.Cluster", list(self.clusters)),
        }
        for routes in self.route_configs:
            files[route_file(routes["name"])] = _discovery("route.v3.RouteConfiguration", [routes])
        return files


def route_file(route_config: str) -> str:
    """The filesystem-xDS file of one route configuration."""
    return f"rds-{route_config}.json"


def render(model: ClusterRouting) -> EnvoyConfig:
    """The Envoy configuration of one cluster's routing model (which must have no problems)."""
    if model.problems:
        raise ValueError(f"cluster {model.cluster.name!r} has problems and must not be rendered: {model.problems[0]}")
    spec = model.cluster
    listeners: list[dict[str, Any]] = []
    route_configs: list[dict[str, Any]] = []
    by_name = {u.name: u for u in model.upstreams}
    if spec.proxy is not None:
        listeners.append(_listener(PRODUCTS_LISTENER, spec.proxy.listener))
        route_configs.append(_products_routes(model.routes, by_name))
        listeners.append(_listener(INTERNAL_LISTENER, spec.proxy.internal))
        route_configs.append(_internal_routes(model.internal_routes, by_name))
    if spec.failover_gateway is not None and model.failover_routes:
        listeners.append(_listener(FAILOVER_LISTENER, spec.failover_gateway))
        route_configs.append(_failover_routes(model))
    clusters = tuple(_cluster(u) for u in model.upstreams)
    return EnvoyConfig(
        spec.name, tuple(listeners), tuple(route_configs), clusters, spec.proxy.admin if spec.proxy else None
    )


# --- listeners and routes ------------------------------------------------------------------------------------


def _listener(name: str, address: HostPort) -> dict[str, Any]:
    return {
        "name": name,
        "address": _socket(address),
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": {
                            "@type": _HCM,
                            "stat_prefix": name,
                            "rds": {"route_config_name": name},
                            "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {"@type": _ROUTER}}],
                            "local_reply_config": _LOCAL_REPLIES,
                            # Idle keep-alive connections are closed; a slow client cannot hold a stream forever.
                            "common_http_protocol_options": {"idle_timeout": "60s"},
                            "request_headers_timeout": "10s",
                        },
                    }
                ]
            }
        ],
    }


def _products_routes(routes: Sequence[ProductRoute], upstreams: Mapping[str, Upstream]) -> dict[str, Any]:
    entries = []
    for product_route in routes:
        where = f"residency zone {product_route.zone!r}" if product_route.zone else "any of its clusters"
        unavailable = f"no gateway that may serve product {product_route.product!r} is healthy in {where}"
        entries += _retrying_routes(
            f"product-{product_route.product}",
            {"path_separated_prefix": product_route.prefix},
            # GET and HEAD are queries: safe to repeat on another gateway after a 5xx or a timeout.
            {"name": ":method", "string_match": {"safe_regex": {"regex": "GET|HEAD"}}},
            upstreams[product_route.upstream],
            rewrite=None,
            unavailable=unavailable,
        )
    return _route_config(PRODUCTS_LISTENER, entries, "no product is served at this path; see /products/<name>/graphql")


def _internal_routes(routes: Sequence[InternalRoute], upstreams: Mapping[str, Upstream]) -> dict[str, Any]:
    entries = []
    for internal in routes:
        upstream = upstreams[internal.upstream]
        where = f"residency zone {upstream.zone!r}" if upstream.zone else "any cluster"
        entries += _retrying_routes(
            upstream.name,
            {"path_separated_prefix": internal.prefix},
            {"name": SAFE_RETRY_HEADER, "string_match": {"exact": "safe"}},
            upstream,
            rewrite={"pattern": {"regex": f"^{internal.prefix}/?(.*)$"}, "substitution": "/\\1"},
            unavailable=f"no endpoint of service {upstream.service!r} is healthy in {where}",
        )
    return _route_config(INTERNAL_LISTENER, entries, "this cluster has no upstream of that name")


def _failover_routes(model: ClusterRouting) -> dict[str, Any]:
    hosts = [
        {
            "name": route.upstream,
            "domains": [route.authority],
            "routes": [{"match": {"prefix": "/"}, "route": {"cluster": route.upstream, "timeout": "0s"}}],
        }
        for route in model.failover_routes
    ]
    unknown = _not_found(f"cluster {model.cluster.name!r} exports no such upstream")
    hosts.append({"name": "unknown", "domains": ["*"], "routes": [unknown]})
    return {"name": FAILOVER_LISTENER, "virtual_hosts": hosts}


def _route_config(name: str, routes: list[dict[str, Any]], not_found: str) -> dict[str, Any]:
    return {
        "name": name,
        "virtual_hosts": [{"name": name, "domains": ["*"], "routes": [*routes, _not_found(not_found)]}],
    }


def _retrying_routes(
    name: str,
    match: dict[str, Any],
    safe: dict[str, Any],
    upstream: Upstream,
    *,
    rewrite: dict[str, Any] | None,
    unavailable: str,
) -> list[dict[str, Any]]:
    """Two routes to ``upstream``: requests that match ``safe`` retry on 5xx and timeouts, the others only when
    nothing reached the upstream (a mutation must not run twice). ``unavailable`` is the 503's message."""
    metadata = {"filter_metadata": {"loom": {"unavailable": unavailable}}}
    return [
        {
            "name": f"{name}-safe",
            "match": {**match, "headers": [safe]},
            "route": _route_action(upstream, rewrite, idempotent=True),
            "metadata": metadata,
        },
        {
            "name": name,
            "match": match,
            "route": _route_action(upstream, rewrite, idempotent=False),
            "metadata": metadata,
        },
    ]


def _route_action(upstream: Upstream, rewrite: dict[str, Any] | None, *, idempotent: bool) -> dict[str, Any]:
    traffic = upstream.traffic
    retries = traffic.retries
    action: dict[str, Any] = {
        "cluster": upstream.name,
        "timeout": _duration(traffic.request_timeout_ms),
        "auto_host_rewrite": True,  # each endpoint is addressed by its own authority (a failover gateway's upstream)
        "append_x_forwarded_host": True,
        "retry_policy": {
            "retry_on": ",".join(retries.retry_on if idempotent else retries.unsafe_retry_on),
            "num_retries": retries.num_retries,
            "retry_priority": {
                "name": "envoy.retry_priorities.previous_priorities",
                "typed_config": {"@type": _PREVIOUS_PRIORITIES, "update_frequency": 1},
            },
            "retry_host_predicate": [
                {"name": "envoy.retry_host_predicates.previous_hosts", "typed_config": {"@type": _PREVIOUS_HOSTS}}
            ],
            "host_selection_retry_max_attempts": 5,
            "retry_back_off": {
                "base_interval": _duration(retries.base_interval_ms),
                "max_interval": _duration(retries.max_interval_ms),
            },
        },
    }
    if idempotent:
        # Only a request that may be repeated gets a per-try timeout: on one that is never retried after it reached
        # the upstream (a mutation) it would only cut a slow answer short; the route's timeout bounds it.
        action["retry_policy"]["per_try_timeout"] = _duration(retries.per_try_timeout_ms)
    if rewrite is not None:
        action["regex_rewrite"] = rewrite
    return action


def _not_found(message: str) -> dict[str, Any]:
    return {
        "name": "not-found",
        "match": {"prefix": "/"},
        "direct_response": {"status": 404, "body": {"inline_string": _error_body(message, "NOT_FOUND")}},
        "response_headers_to_add": [{"header": {"key": "content-type", "value": "application/json"}}],
    }


def _error_body(message: str, code: str) -> str:
    return json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})


# --- clusters ----------------------------------------------------------------------------------------------------


def _cluster(upstream: Upstream) -> dict[str, Any]:
    traffic = upstream.traffic
    static = all(_is_ip(e.address.host) for e in upstream.endpoints)
    cluster: dict[str, Any] = {
        "name": upstream.name,
        "type": "STATIC" if static else "STRICT_DNS",
        "connect_timeout": _duration(traffic.connect_timeout_ms),
        "lb_policy": "ROUND_ROBIN",
        # No merge window: an ejection or a failed health check takes effect at once (the default waits up to 1 s).
        # No panic mode: an unhealthy endpoint is never used; nothing healthy is a fast 503.
        "common_lb_config": {"update_merge_window": "0s", "healthy_panic_threshold": {"value": 0}},
        "load_assignment": {
            "cluster_name": upstream.name,
            "endpoints": [
                {
                    "priority": priority,
                    "locality": {"region": level[0].region, "zone": level[0].zone},
                    "lb_endpoints": [_lb_endpoint(e) for e in level],
                }
                for priority, level in enumerate(upstream.priorities)
            ],
        },
        "health_checks": [_health_check(upstream.health_path, traffic)],
        "outlier_detection": _outlier_detection(traffic),
        "circuit_breakers": {
            "thresholds": [
                {
                    "priority": "DEFAULT",
                    "max_connections": traffic.circuit_breakers.max_connections,
                    "max_pending_requests": traffic.circuit_breakers.max_pending_requests,
                    "max_requests": traffic.circuit_breakers.max_requests,
                    "max_retries": traffic.circuit_breakers.max_retries,
                }
            ]
        },
        "ignore_health_on_host_removal": True,
    }
    if any(e.tls for e in upstream.endpoints):
        cluster["transport_socket_matches"] = [
            {"name": "tls", "match": {"tls": True}, "transport_socket": _tls_socket()},
            {
                "name": "plaintext",
                "match": {},
                "transport_socket": {
                    "name": "envoy.transport_sockets.raw_buffer",
                    "typed_config": {"@type": _RAW_BUFFER},
                },
            },
        ]
    return cluster


def _lb_endpoint(endpoint: Endpoint) -> dict[str, Any]:
    out: dict[str, Any] = {
        "endpoint": {
            "address": _socket(endpoint.address),
            "hostname": endpoint.authority,
            "health_check_config": {"hostname": endpoint.authority},
        },
        "metadata": {"filter_metadata": {"loom": {"cluster": endpoint.cluster, "via_failover": endpoint.via_failover}}},
    }
    if endpoint.tls:
        out["metadata"]["filter_metadata"]["envoy.transport_socket_match"] = {"tls": True}
    return out


def _health_check(path: str, traffic: TrafficPolicy) -> dict[str, Any]:
    check = traffic.health_check
    return {
        "timeout": _duration(check.timeout_ms),
        "interval": _duration(check.interval_ms),
        "no_traffic_interval": _duration(check.interval_ms),  # idle upstreams are watched as closely
        "unhealthy_threshold": check.unhealthy_threshold,
        "healthy_threshold": check.healthy_threshold,
        "http_health_check": {"path": path},
    }


def _outlier_detection(traffic: TrafficPolicy) -> dict[str, Any]:
    outlier = traffic.outlier_detection
    return {
        "consecutive_5xx": outlier.consecutive_5xx,
        "consecutive_gateway_failure": outlier.consecutive_gateway_failure,
        "enforcing_consecutive_5xx": outlier.enforcing_percent,
        "enforcing_consecutive_gateway_failure": outlier.enforcing_percent,
        "interval": _duration(outlier.interval_ms),
        "base_ejection_time": _duration(outlier.base_ejection_ms),
        "max_ejection_time": _duration(outlier.max_ejection_ms),
        "max_ejection_percent": outlier.max_ejection_percent,
    }


def _tls_socket() -> dict[str, Any]:
    return {"name": "envoy.transport_sockets.tls", "typed_config": {"@type": _TLS}}


# --- small pieces --------------------------------------------------------------------------------------------


def _node(cluster: str) -> dict[str, Any]:
    return {"id": f"loom-{cluster}", "cluster": cluster}


# A connection cap for the whole Envoy: idle sockets cannot exhaust it (Envoy warns when there is none).
_OVERLOAD = {
    "resource_monitors": [
        {
            "name": "envoy.resource_monitors.global_downstream_max_connections",
            "typed_config": {
                "@type": _TYPES + "extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
                "max_active_downstream_connections": 50_000,
            },
        }
    ]
}


def _socket(address: HostPort) -> dict[str, Any]:
    return {"socket_address": {"address": address.host, "port_value": address.port}}


def _discovery(kind: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    type_url = _TYPES + "config." + kind
    return {"version_info": "", "resources": [{"@type": type_url, **r} for r in resources]}


def _duration(ms: int) -> str:
    return f"{ms / 1000:g}s"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
