"""The Gloo renderer and the strict CRD validator: every rendered object of a realistic fleet passes the vendored
CRDs' ``openAPIV3Schema`` strictly and the rules the CRDs do not encode; the validator refuses what the API server
(or Gloo) would, with the path of each problem; and the kubernetes target applies the real rendering to the fake
API server."""

from __future__ import annotations

import copy
import dataclasses
import importlib.resources
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from portal.sync import envoy
from portal.sync.crd_validation import CRD_FILES, schema_of, validate, validate_set
from portal.sync.desired import DeploymentSpec, DesiredState, ProductSpec, ServiceSpec, traffic_policy
from portal.sync.errors import ConfigRejected, InvalidDesiredState
from portal.sync.gloo import (
    CLUSTER_LABEL,
    FAILOVER_CLIENT_SECRET,
    GENERATION_LABEL,
    MANAGED_BY_LABEL,
    PRODUCT_LABEL,
    SAFE_RETRY_HEADER,
    object_name,
    render,
)
from portal.sync.model import route
from portal.sync.targets import kubernetes
from tests.portal.sync._fleet import FLEET, SERVICES, cluster, deployment, fleets, state
from tests.portal.sync.fake_kube import FakeKube, write_kubeconfig

LIBRARY = ProductSpec("library", ("members", "catalog"), ("us-east", "us-west", "eu-central"))
PINNED = ProductSpec("library-eu", ("members", "catalog"), ("us-east", "eu-central"), residency="eu")
SHOP = ProductSpec("shop", ("members",), ("us-east", "us-east-b"))
NS = "gloo-system"


def objects(*products: ProductSpec, cluster_name: str = "us-east") -> dict[str, dict[str, Any]]:
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in render(route(state(*products))[cluster_name])}


def rejected(obj: dict[str, Any]) -> str:
    with pytest.raises(ConfigRejected) as info:
        validate(obj)
    return info.value.message


# -- the renderer --------------------------------------------------------------------------------------------


def test_every_object_of_every_cluster_of_the_fleet_passes_strict_validation() -> None:
    model = route(state(LIBRARY, PINNED, SHOP))
    rendered = {name: render(routing) for name, routing in model.items()}
    assert all(rendered.values())
    for items in rendered.values():
        for obj in items:
            validate(obj)
        validate_set(items)
    kinds = {o["kind"] for items in rendered.values() for o in items}
    assert kinds == {"Upstream", "RouteTable", "VirtualService"}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets(healthy=True))
def test_any_healthy_fleet_renders_valid_objects(desired: DesiredState) -> None:
    for routing in route(desired).values():
        if routing.problems:
            continue
        items = render(routing)
        validate_set(items)
        assert render(routing) == items  # the same model, the same objects


def test_the_layout_of_a_cluster_upstreams_first_then_route_tables_then_virtual_services() -> None:
    east = render(route(state(LIBRARY, PINNED))["us-east"])
    assert [f"{o['kind']}/{o['metadata']['name']}" for o in east] == [
        "Upstream/loom-entry-library",
        "Upstream/loom-entry-library-eu",
        "Upstream/loom-local-gateway",
        "Upstream/loom-local-members",
        "Upstream/loom-svc-catalog",
        "Upstream/loom-svc-members",
        "RouteTable/loom-product-library",
        "RouteTable/loom-product-library-eu",
        "VirtualService/loom-internal",
        "VirtualService/loom-products",
    ]
    assert {o["metadata"]["namespace"] for o in east} == {NS}


def test_everything_is_labelled_and_per_product_objects_name_their_product() -> None:
    east = objects(LIBRARY, PINNED)
    for obj in east.values():
        labels = obj["metadata"]["labels"]
        assert labels[MANAGED_BY_LABEL] == "loom"
        assert labels[CLUSTER_LABEL] == "us-east"
        assert labels[GENERATION_LABEL] == "7"
    assert east["Upstream/loom-entry-library"]["metadata"]["labels"][PRODUCT_LABEL] == "library"
    assert east["RouteTable/loom-product-library-eu"]["metadata"]["labels"][PRODUCT_LABEL] == "library-eu"
    # a service's upstream is shared by the products that use it
    assert PRODUCT_LABEL not in east["Upstream/loom-svc-members"]["metadata"]["labels"]
    # the same label names as the kubernetes target reads
    assert (MANAGED_BY_LABEL, CLUSTER_LABEL, PRODUCT_LABEL, GENERATION_LABEL) == (
        kubernetes.MANAGED_BY_LABEL,
        kubernetes.CLUSTER_LABEL,
        kubernetes.PRODUCT_LABEL,
        kubernetes.GENERATION_LABEL,
    )


def test_an_upstream_fails_over_by_locality_through_the_other_clusters_failover_gateways() -> None:
    members = objects(LIBRARY)["Upstream/loom-svc-members"]["spec"]
    assert members["static"] == {"hosts": [{"addr": "127.0.0.1", "port": 7301}], "useTls": False}
    assert "sslConfig" not in members
    priorities = members["failover"]["prioritizedLocalities"]
    localities = [[group["locality"] for group in p["localityEndpoints"]] for p in priorities]
    assert localities == [
        [{"region": "us-east-1", "zone": "us-east-1b"}],  # the same region (another zone)
        [{"region": "us-west-2", "zone": "us-west-2a"}],  # another region of the same residency
        [{"region": "eu-central-1", "zone": "eu-central-1a"}],  # abroad last
    ]
    endpoint = priorities[0]["localityEndpoints"][0]["lbEndpoints"][0]
    assert endpoint == {
        "address": "127.0.0.12",  # us-east-b's failover gateway
        "port": 15443,
        "upstreamSslConfig": {
            "secretRef": {"name": FAILOVER_CLIENT_SECRET, "namespace": NS},
            "sni": "loom-local-members_gloo-system",  # its local upstream, by Gloo's cluster naming
        },
    }
    # failover needs health checking: active and passive, with the model's defaults
    [check] = members["healthChecks"]
    assert check["httpHealthCheck"] == {"path": "/healthz"}
    assert (check["timeout"], check["interval"]) == ("0.25s", "0.25s")
    assert members["outlierDetection"]["consecutive5xx"] == 1
    assert members["circuitBreakers"]["maxRetries"] == 1024
    assert members["connectionConfig"] == {"connectTimeout": "0.25s"}
    assert members["loadBalancerConfig"] == {"healthyPanicThreshold": 0, "updateMergeWindow": "0s"}


def test_a_primary_through_a_failover_gateway_uses_mutual_tls_and_the_remote_upstream_as_sni() -> None:
    catalog = objects(LIBRARY)["Upstream/loom-svc-catalog"]["spec"]  # not deployed in us-east
    assert catalog["static"] == {
        "hosts": [{"addr": "127.0.0.13", "port": 15443, "sniAddr": "loom-local-catalog_gloo-system"}],
        "useTls": True,
    }  # us-west (same residency) first; eu-central is the next priority
    assert catalog["sslConfig"] == {"secretRef": {"name": FAILOVER_CLIENT_SECRET, "namespace": NS}}
    [abroad] = catalog["failover"]["prioritizedLocalities"]
    assert [g["locality"]["region"] for g in abroad["localityEndpoints"]] == ["eu-central-1"]


def test_failover_localities_never_leave_the_residency_zone() -> None:
    clusters = {**FLEET, "eu-west": cluster("eu-west", "eu-west-1", "eu-west-1a", "eu", 5)}
    services = {
        **SERVICES,
        "members": ServiceSpec("members", (*SERVICES["members"].deployments, deployment("eu-west", 7305))),
    }
    pinned = dataclasses.replace(PINNED, clusters=(*PINNED.clusters, "eu-west"))
    desired = DesiredState(clusters, services, {pinned.name: pinned}, generation=3)
    model = route(desired)
    eu = {f"{o['kind']}/{o['metadata']['name']}": o for o in render(model["eu-central"])}
    members = eu["Upstream/loom-svc-members-in-eu"]["spec"]
    regions = [
        group["locality"]["region"]
        for priority in members["failover"]["prioritizedLocalities"]
        for group in priority["localityEndpoints"]
    ]
    assert regions == ["eu-west-1"]  # eu-west only: us-east, us-east-b and us-west hold members but are not "eu"
    assert members["static"]["hosts"] == [{"addr": "127.0.0.1", "port": 7304}]
    # entered in us-east, the pinned product goes to the eu gateways only, never to a US one
    east = {f"{o['kind']}/{o['metadata']['name']}": o for o in render(model["us-east"])}
    entry = east["Upstream/loom-entry-library-eu"]["spec"]
    addresses = [h["addr"] for h in entry["static"]["hosts"]] + [
        e["address"]
        for p in entry.get("failover", {}).get("prioritizedLocalities", [])
        for g in p["localityEndpoints"]
        for e in g["lbEndpoints"]
    ]
    assert sorted(addresses) == ["127.0.0.14", "127.0.0.15"]  # eu-central's and eu-west's failover gateways
    assert {h.get("sniAddr") for h in entry["static"]["hosts"]} == {"loom-local-gateway_gloo-system"}
    assert not [o for o in east.values() if o["metadata"]["name"].startswith("loom-svc-")]


def test_products_are_delegated_per_product_by_reference_with_retries_and_timeouts() -> None:
    east = objects(LIBRARY, PINNED)
    products = east["VirtualService/loom-products"]["spec"]["virtualHost"]
    assert products["domains"] == ["*"]
    assert products["routes"] == [
        {
            "name": "product-library",
            "matchers": [{"prefix": "/products/library"}],
            "delegateAction": {"ref": {"name": "loom-product-library", "namespace": NS}},
        },
        {
            "name": "product-library-eu",
            "matchers": [{"prefix": "/products/library-eu"}],
            "delegateAction": {"ref": {"name": "loom-product-library-eu", "namespace": NS}},
        },
    ]
    safe, unsafe = east["RouteTable/loom-product-library"]["spec"]["routes"]
    assert safe["matchers"] == [
        {"exact": "/products/library", "methods": ["GET", "HEAD"]},
        {"prefix": "/products/library/", "methods": ["GET", "HEAD"]},
    ]
    assert unsafe["matchers"] == [{"exact": "/products/library"}, {"prefix": "/products/library/"}]
    assert safe["routeAction"] == {"single": {"upstream": {"name": "loom-entry-library", "namespace": NS}}}
    assert safe["options"]["retries"]["retryOn"] == "5xx,reset,connect-failure,refused-stream"
    assert unsafe["options"]["retries"]["retryOn"] == "connect-failure,refused-stream"  # a mutation runs once
    assert safe["options"]["retries"]["previousPriorities"] == {"updateFrequency": 1}
    assert safe["options"]["retries"]["perTryTimeout"] == "5s"  # a gateway's: it retries its own calls within
    assert "perTryTimeout" not in unsafe["options"]["retries"]  # never cut short what is not repeated
    assert safe["options"]["timeout"] == "10s"


def test_internal_routes_reach_each_service_upstream_at_its_own_path() -> None:
    east = objects(LIBRARY)
    internal = east["VirtualService/loom-internal"]["spec"]["virtualHost"]
    assert internal["domains"] == ["127.0.0.1", "127.0.0.1:18011"]  # us-east's internal address (FLEET)
    kube = dataclasses.replace(FLEET["us-east"], target="kubernetes", proxy=None)
    in_kube = render(route(state(LIBRARY, clusters={**FLEET, "us-east": kube}))["us-east"])
    [kube_internal] = [o for o in in_kube if o["metadata"]["name"] == "loom-internal"]
    assert kube_internal["spec"]["virtualHost"]["domains"] == [
        "gateway-proxy-internal.gloo-system.svc.cluster.local",
        "gateway-proxy-internal.gloo-system.svc.cluster.local:8090",
    ]
    by_name = {r["name"]: r for r in internal["routes"]}
    assert set(by_name) == {"loom-svc-catalog", "loom-svc-catalog-safe", "loom-svc-members", "loom-svc-members-safe"}
    safe = by_name["loom-svc-members-safe"]
    assert safe["matchers"][1] == {
        "prefix": "/_loom/upstreams/loom-svc-members/",
        "headers": [{"name": SAFE_RETRY_HEADER, "value": "safe"}],
    }
    assert safe["options"]["regexRewrite"] == {
        "pattern": {"regex": "^/_loom/upstreams/loom\\-svc\\-members/?(.*)$"},
        "substitution": "/\\1",
    }
    assert SAFE_RETRY_HEADER == envoy.SAFE_RETRY_HEADER  # the gateway sends one header to either renderer


def test_per_service_traffic_overrides_and_tls_deployments_are_rendered() -> None:
    traffic = traffic_policy(
        {"connectTimeout": "1s", "retries": {"attempts": 5, "perTryTimeout": "100ms"}, "healthCheck": {"path": "/up"}}
    )
    secure = ServiceSpec(
        "secure",
        (DeploymentSpec("us-east", address="https://secure.example.com/v1", health_path="/up"),),
        traffic=traffic,
    )
    product = ProductSpec("vault", ("secure",), ("us-east",))
    desired = DesiredState(FLEET, {**SERVICES, "secure": secure}, {"vault": product}, generation=1)
    east = {f"{o['kind']}/{o['metadata']['name']}": o for o in render(route(desired)["us-east"])}
    upstream = east["Upstream/loom-svc-secure"]["spec"]
    assert upstream["static"] == {"hosts": [{"addr": "secure.example.com", "port": 443}], "useTls": True}
    assert upstream["sslConfig"] == {"sni": "secure.example.com"}
    assert upstream["connectionConfig"] == {"connectTimeout": "1s"}
    assert upstream["healthChecks"][0]["httpHealthCheck"] == {"path": "/up"}
    routes = {r["name"]: r for r in east["VirtualService/loom-internal"]["spec"]["virtualHost"]["routes"]}
    assert routes["loom-svc-secure-safe"]["options"]["retries"]["numRetries"] == 5
    assert routes["loom-svc-secure-safe"]["options"]["retries"]["perTryTimeout"] == "0.1s"
    validate_set(east.values())


def test_the_output_does_not_depend_on_the_order_of_the_desired_state() -> None:
    forward = DesiredState(FLEET, SERVICES, {p.name: p for p in (LIBRARY, PINNED, SHOP)}, generation=7)
    backward = DesiredState(
        dict(reversed(list(FLEET.items()))),
        dict(reversed(list(SERVICES.items()))),
        {p.name: p for p in (SHOP, PINNED, LIBRARY)},
        generation=7,
    )
    for name in FLEET:
        assert json.dumps(render(route(forward)[name])) == json.dumps(render(route(backward)[name]))


def test_a_model_with_problems_is_not_rendered() -> None:
    nowhere = ProductSpec("nowhere", ("members",), ("us-east",), residency="mars")
    with pytest.raises(InvalidDesiredState, match="nowhere"):
        render(route(state(nowhere))["us-east"])


def test_names_are_dns_labels() -> None:
    assert object_name("loom-svc-members") == "loom-svc-members"
    odd = object_name("loom-svc-Members_v2")
    assert odd != object_name("loom-svc-members_v2")
    assert len(object_name("x" * 100)) <= 63
    for name in (odd, object_name("x" * 100), object_name("___")):
        assert name[0].isalnum() and name[-1].isalnum() and name == name.lower()


# -- the validator: the schema ------------------------------------------------------------------------------


@pytest.fixture
def upstream() -> dict[str, Any]:
    return copy.deepcopy(objects(LIBRARY)["Upstream/loom-svc-members"])


@pytest.fixture
def route_table() -> dict[str, Any]:
    return copy.deepcopy(objects(LIBRARY)["RouteTable/loom-product-library"])


def test_an_unknown_field_is_an_error_with_its_path_and_a_hint(upstream: dict[str, Any]) -> None:
    upstream["spec"]["healthChecks"][0]["tiemout"] = "1s"
    message = rejected(upstream)
    assert "Upstream/gloo-system/loom-svc-members" in message
    assert "spec.healthChecks[0].tiemout: unknown field" in message
    assert "did you mean 'timeout'" in message


def test_an_unknown_top_level_or_metadata_field_is_an_error(upstream: dict[str, Any]) -> None:
    upstream["specs"] = {}
    upstream["metadata"]["lables"] = {}
    message = rejected(upstream)
    assert "specs: unknown field" in message
    assert "metadata.lables: unknown field" in message


def test_a_field_of_an_object_without_properties_is_unknown(upstream: dict[str, Any]) -> None:
    upstream["spec"]["loadBalancerConfig"]["localityWeightedLbConfig"] = {"anything": 1}
    assert "spec.loadBalancerConfig.localityWeightedLbConfig: at most 0 fields" in rejected(upstream)


def test_a_wrong_type_is_an_error(upstream: dict[str, Any]) -> None:
    upstream["spec"]["static"]["hosts"][0]["port"] = "7301"
    upstream["spec"]["ignoreHealthOnHostRemoval"] = "yes"
    message = rejected(upstream)
    assert "spec.static.hosts[0].port: must be an integer, not a string" in message
    assert "spec.ignoreHealthOnHostRemoval: must be true or false, not a string" in message


def test_a_number_out_of_range_is_an_error(upstream: dict[str, Any]) -> None:
    upstream["spec"]["circuitBreakers"]["maxRetries"] = 2**32
    assert "spec.circuitBreakers.maxRetries: 4294967296 is above the maximum 4294967295" in rejected(upstream)


def test_null_only_where_the_field_is_nullable(upstream: dict[str, Any]) -> None:
    upstream["spec"]["outlierDetection"]["consecutive5xx"] = None  # nullable in the CRD
    validate(upstream)
    upstream["spec"]["outlierDetection"]["interval"] = None  # not nullable
    assert "spec.outlierDetection.interval: null is not allowed" in rejected(upstream)


def test_int_or_string_takes_either_and_nothing_else(route_table: dict[str, Any]) -> None:
    check: dict[str, Any] = {"path": "/healthz", "method": "GET"}
    upstream = copy.deepcopy(objects(LIBRARY)["Upstream/loom-svc-members"])
    upstream["spec"]["healthChecks"][0]["httpHealthCheck"] = check
    validate(upstream)
    check["method"] = 1
    validate(upstream)
    check["method"] = ["GET"]
    assert "httpHealthCheck.method: must be an integer or a string, not a list" in rejected(upstream)


def test_preserve_unknown_fields_keeps_anything_there(upstream: dict[str, Any]) -> None:
    upstream["status"] = {"statuses": {NS: {"state": 1, "anything": {"goes": ["here"]}}}}
    upstream["spec"]["static"]["hosts"][0]["metadata"] = {"filter": {"free": {"form": True}}}
    validate(upstream)


def test_a_missing_required_field_is_an_error(upstream: dict[str, Any]) -> None:
    del upstream["spec"]["healthChecks"][0]["timeout"]
    del upstream["spec"]["healthChecks"][0]["httpHealthCheck"]
    message = rejected(upstream)
    assert "spec.healthChecks[0].timeout: required" in message
    assert "spec.healthChecks[0]: a health check needs exactly one of httpHealthCheck" in message


def test_an_upstream_needs_exactly_one_type(upstream: dict[str, Any]) -> None:
    upstream["spec"]["kube"] = {"serviceName": "members", "serviceNamespace": "default", "servicePort": 80}
    assert "spec: sets kube, static; an Upstream takes exactly one of them" in rejected(upstream)
    del upstream["spec"]["kube"], upstream["spec"]["static"]
    assert "spec: an Upstream needs exactly one of kube, static" in rejected(upstream)


def test_failover_needs_health_checking_and_endpoints(upstream: dict[str, Any]) -> None:
    del upstream["spec"]["healthChecks"], upstream["spec"]["outlierDetection"]
    upstream["spec"]["failover"]["prioritizedLocalities"][0]["localityEndpoints"][0]["lbEndpoints"] = []
    message = rejected(upstream)
    assert "spec.failover: failover needs active (healthChecks) or passive (outlierDetection)" in message
    assert "spec.failover.prioritizedLocalities[0].localityEndpoints[0].lbEndpoints: a locality needs" in message


def test_durations_must_be_protobuf_durations(upstream: dict[str, Any]) -> None:
    upstream["spec"]["connectionConfig"]["connectTimeout"] = "250ms"
    assert "spec.connectionConfig.connectTimeout: '250ms' is not a protobuf duration" in rejected(upstream)


def test_metadata_names_and_labels_must_be_valid(upstream: dict[str, Any]) -> None:
    upstream["metadata"]["name"] = "Loom_Members"
    upstream["metadata"]["labels"]["loom.dev/product"] = "x" * 64
    upstream["metadata"]["labels"]["loom.dev/generation"] = 7
    message = rejected(upstream)
    assert "metadata.name: 'Loom_Members' is not a DNS-1123 name" in message
    assert "not a valid label value" in message
    assert "must be a string, not an integer (quote it)" in message


def test_a_kind_without_a_vendored_crd_is_refused(upstream: dict[str, Any]) -> None:
    upstream["kind"] = "UpstreamGroup"
    assert "has no vendored CRD schema" in rejected(upstream)


# -- the validator: routes and the set ----------------------------------------------------------------------


def test_a_route_needs_exactly_one_action(route_table: dict[str, Any]) -> None:
    route_table["spec"]["routes"][0]["directResponseAction"] = {"status": 503}
    assert "spec.routes[0]: sets routeAction, directResponseAction; a route takes exactly one" in rejected(route_table)


def test_a_delegating_route_matches_by_prefix_only() -> None:
    service = copy.deepcopy(objects(LIBRARY)["VirtualService/loom-products"])
    service["spec"]["virtualHost"]["routes"][0]["matchers"] = [{"exact": "/products/library", "methods": ["GET"]}]
    message = rejected(service)
    assert "spec.virtualHost.routes[0].matchers[0]: a delegating route must match with prefix" in message
    assert "spec.virtualHost.routes[0].matchers[0].methods: a delegating route cannot match methods" in message


def test_the_set_child_routes_must_begin_with_the_parents_prefix() -> None:
    items = copy.deepcopy(list(objects(LIBRARY).values()))
    table = next(o for o in items if o["kind"] == "RouteTable")
    table["spec"]["routes"][1]["matchers"] = [{"prefix": "/library/"}]
    with pytest.raises(ConfigRejected) as info:
        validate_set(items)
    assert "'/library/' does not begin with the parent's prefix '/products/library'" in info.value.message
    assert info.value.object == "VirtualService/gloo-system/loom-products"


def test_the_set_every_named_upstream_and_route_table_must_be_in_it() -> None:
    items = [o for o in copy.deepcopy(list(objects(LIBRARY).values())) if o["metadata"]["name"] != "loom-svc-members"]
    with pytest.raises(ConfigRejected, match="Upstream gloo-system/loom-svc-members is not among the objects"):
        validate_set(items)
    items = [o for o in copy.deepcopy(list(objects(LIBRARY).values())) if o["kind"] != "RouteTable"]
    with pytest.raises(ConfigRejected, match="RouteTable gloo-system/loom-product-library is not among"):
        validate_set(items)


def test_the_set_a_route_table_nothing_delegates_to_is_refused() -> None:
    items = [o for o in copy.deepcopy(list(objects(LIBRARY).values())) if o["metadata"]["name"] != "loom-products"]
    with pytest.raises(ConfigRejected, match="no route delegates to it") as info:
        validate_set(items)
    assert info.value.object == "RouteTable/gloo-system/loom-product-library"


def test_the_set_a_delegation_cycle_is_refused() -> None:
    items = copy.deepcopy(list(objects(LIBRARY).values()))
    table = next(o for o in items if o["kind"] == "RouteTable")
    table["spec"]["routes"].append(
        {
            "matchers": [{"prefix": "/products/library/again"}],
            "delegateAction": {"ref": {"name": "loom-product-library", "namespace": NS}},
        }
    )
    with pytest.raises(ConfigRejected, match="delegation cycle"):
        validate_set(items)


def test_the_set_one_domain_one_virtual_service_and_no_object_twice() -> None:
    items = copy.deepcopy(list(objects(LIBRARY).values()))
    internal = next(o for o in items if o["metadata"]["name"] == "loom-internal")
    internal["spec"]["virtualHost"]["domains"] = ["*"]
    with pytest.raises(ConfigRejected, match="'\\*' is also claimed by VirtualService/gloo-system/loom-"):
        validate_set(items)
    items = copy.deepcopy(list(objects(LIBRARY).values()))
    with pytest.raises(ConfigRejected, match="made twice"):
        validate_set([*items, items[0]])


def test_the_vendored_crds_are_package_data_with_their_license() -> None:
    crds = importlib.resources.files("portal.sync").joinpath("crds")
    for api_version, kind in CRD_FILES:
        assert schema_of(api_version, kind)["type"] == "object"
    assert "Apache License" in crds.joinpath("LICENSE-Apache-2.0.txt").read_text(encoding="utf-8")
    assert "solo-io/gloo" in crds.joinpath("README.md").read_text(encoding="utf-8")


# -- the kubernetes target with the real renderer and validator ------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeKube]:
    fake = FakeKube()
    with fake.serving():
        yield fake


async def test_the_kubernetes_target_applies_the_real_rendering_to_an_api_server(
    fake: FakeKube, tmp_path: Path
) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", {"us-east": fake})
    spec = dataclasses.replace(FLEET["us-east"], target="kubernetes", kube_context="us-east")
    clusters = {**FLEET, "us-east": spec}
    desired = DesiredState(clusters, SERVICES, {p.name: p for p in (LIBRARY, PINNED)}, generation=7)
    routing = route(desired)["us-east"]
    async with kubernetes.KubernetesTarget(spec, render=render, validate=validate_set, kubeconfig=kubeconfig) as target:
        report = await target.apply(routing)
        expected = {f"{o['kind']}/{NS}/{o['metadata']['name']}" for o in render(routing)}
        assert report.created == len(expected) == 10
        assert [r.object for r in fake.write_log] == [
            f"{o['kind']}/{NS}/{o['metadata']['name']}" for o in render(routing)
        ]  # the renderer's order is the dependency order the target applies in
        stored = fake.get("Upstream", NS, "loom-svc-members")
        assert stored is not None
        [members] = [o for o in render(routing) if o["metadata"]["name"] == "loom-svc-members"]
        assert stored["spec"]["failover"] == members["spec"]["failover"]
        fake.clear_writes()
        again = await target.apply(dataclasses.replace(routing, generation=8))
        assert again.writes == 0 and fake.write_log == []

        # an object the strict validator refuses reaches no cluster
        def broken(model: Any) -> list[dict[str, Any]]:
            out = render(model)
            out[0]["spec"]["static"]["hosts"][0]["prot"] = 1
            return out

    async with kubernetes.KubernetesTarget(spec, render=broken, validate=validate_set, kubeconfig=kubeconfig) as target:
        with pytest.raises(ConfigRejected, match=r"spec\.static\.hosts\[0\]\.prot: unknown field"):
            await target.apply(dataclasses.replace(routing, generation=9))
        assert fake.write_log == []

    # so does a set whose objects are each valid but do not fit together: a route to an Upstream left out
    def without_upstream(model: Any) -> list[dict[str, Any]]:
        return [o for o in render(model) if o["metadata"]["name"] != "loom-svc-members"]

    target = kubernetes.KubernetesTarget(spec, render=without_upstream, validate=validate_set, kubeconfig=kubeconfig)
    async with target:
        with pytest.raises(ConfigRejected, match=r"Upstream gloo-system/loom-svc-members is not among the objects"):
            await target.apply(dataclasses.replace(routing, generation=10))
        assert fake.write_log == []
        assert fake.get("Upstream", NS, "loom-svc-members") is not None  # the last good set keeps serving


def test_a_hand_written_kube_upstream_with_failover_passes() -> None:
    """The shape of gloo-notes §1.7 (a kube Upstream failing over to two other clusters): the validator is not
    tuned to the renderer's output only."""
    validate(
        yaml.safe_load(
            """
            apiVersion: gloo.solo.io/v1
            kind: Upstream
            metadata: {name: products-catalog-8080, namespace: gloo-system}
            spec:
              kube: {serviceName: catalog, serviceNamespace: products, servicePort: 8080}
              healthChecks:
              - timeout: 1s
                interval: 5s
                unhealthyThreshold: 2
                httpHealthCheck: {path: /healthz}
              outlierDetection: {consecutive5xx: 3, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 100}
              failover:
                policy: {overprovisioningFactor: 140}
                prioritizedLocalities:
                - localityEndpoints:
                  - locality: {region: us-east-1, zone: us-east-1b}
                    lbEndpoints:
                    - address: failover-gw.cluster-b.example.com
                      port: 15443
                      upstreamSslConfig:
                        secretRef: {name: failover-upstream, namespace: gloo-system}
                        sni: products-catalog-8080_gloo-system
                      healthCheckConfig: {path: /healthz}
            """
        )
    )
