"""Which Gloo Gateways serve Loom's VirtualServices (portal.sync.gloo_gateways), and the kubernetes target saying
so in its observation. The Kubernetes API is the fake API server of tests/portal/sync/fake_kube.py (no real API
server can run here); the Gloo objects are the real renderer's."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from portal.sync.crd_validation import validate_set
from portal.sync.desired import DesiredState, ProductSpec
from portal.sync.gloo import INTERNAL_VIRTUAL_SERVICE, PRODUCTS_VIRTUAL_SERVICE, render
from portal.sync.gloo_gateways import listener_problems, serves
from portal.sync.model import route
from portal.sync.targets.kubernetes import KubernetesTarget
from tests.portal.sync._fleet import FLEET, SERVICES
from tests.portal.sync.fake_kube import FakeKube, write_kubeconfig

NS = "gloo-system"
LIBRARY = ProductSpec("library", ("members", "catalog"), ("us-east", "us-west", "eu-central"))


def gateway(name: str, http: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    body = {"bindAddress": "::", "bindPort": 8080, **spec}
    if http is not None:
        body["httpGateway"] = http
    return {
        "apiVersion": "gateway.solo.io/v1",
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": NS},
        "spec": body,
    }


def rendered_virtual_services() -> list[dict[str, Any]]:
    desired = DesiredState(FLEET, SERVICES, {"library": LIBRARY}, generation=1)
    objects = [dict(o) for o in render(route(desired)["us-east"])]
    for obj in objects:
        obj.setdefault("metadata", {}).setdefault("namespace", NS)
    return [o for o in objects if o["kind"] == "VirtualService"]


VIRTUAL_SERVICES = rendered_virtual_services()
PRODUCTS = next(v for v in VIRTUAL_SERVICES if v["metadata"]["name"] == PRODUCTS_VIRTUAL_SERVICE)
INTERNAL = next(v for v in VIRTUAL_SERVICES if v["metadata"]["name"] == INTERNAL_VIRTUAL_SERVICE)
PUBLIC = gateway("gateway-proxy", {"virtualServiceSelector": {"loom.dev/listener": "products"}})
PRIVATE = gateway(
    "gateway-proxy-internal", {"virtualServiceSelector": {"loom.dev/listener": "internal"}}, bindPort=8081
)


GATEWAY_CRD = (
    Path(__file__).parents[3].parent / "shared" / "reference" / "gloo-crds" / "gateway.solo.io_v1_Gateway.yaml"
)


@pytest.mark.parametrize(
    "field",
    [
        "spec.tcpGateway",
        "spec.hybridGateway.matchedGateways[].httpGateway",
        "spec.httpGateway.virtualServices[].name",
        "spec.httpGateway.virtualServices[].namespace",
        "spec.httpGateway.virtualServiceSelector",
        "spec.httpGateway.virtualServiceExpressions.expressions[].key",
        "spec.httpGateway.virtualServiceExpressions.expressions[].operator",
        "spec.httpGateway.virtualServiceExpressions.expressions[].values",
        "spec.httpGateway.virtualServiceNamespaces",
    ],
)
def test_every_field_it_reads_is_in_the_gateway_crd(field: str) -> None:
    """The Gateway CRD is not vendored (Loom reads Gateways, it never writes one): checked against the reference
    copy beside the project when it is there."""
    if not GATEWAY_CRD.is_file():
        pytest.skip(f"{GATEWAY_CRD} is absent (a clone has no ../shared): the field names were checked against it")
    crd = yaml.load(GATEWAY_CRD.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    schema = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")["schema"]["openAPIV3Schema"]
    for part in field.split("."):
        schema = schema["properties"][part.removesuffix("[]")]
        if part.endswith("[]"):
            schema = schema["items"]


@pytest.mark.parametrize(
    ("http", "products", "internal"),
    [
        ({}, True, True),  # Gloo's default gateway-proxy: every VirtualService
        ({"virtualServiceSelector": {"loom.dev/listener": "products"}}, True, False),
        ({"virtualServiceSelector": {"loom.dev/listener": "internal"}}, False, True),
        ({"virtualServices": [{"name": PRODUCTS_VIRTUAL_SERVICE}]}, True, False),  # a ref in its own namespace
        ({"virtualServices": [{"name": INTERNAL_VIRTUAL_SERVICE, "namespace": "elsewhere"}]}, False, False),
        ({"virtualServiceNamespaces": ["apps"]}, False, False),
        ({"virtualServiceNamespaces": ["*"]}, True, True),
        (
            {
                "virtualServiceExpressions": {
                    "expressions": [{"key": "loom.dev/listener", "operator": "In", "values": ["products"]}]
                }
            },
            True,
            False,
        ),
        (  # the operator as its number: 2 is NotEquals
            {
                "virtualServiceExpressions": {
                    "expressions": [{"key": "loom.dev/listener", "operator": 2, "values": ["products"]}]
                }
            },
            False,
            True,
        ),
        (  # an operator it cannot evaluate on labels: assumed to serve, so the warning errs on the safe side
            {
                "virtualServiceExpressions": {
                    "expressions": [{"key": "loom.dev/listener", "operator": "GreaterThan", "values": ["1"]}]
                }
            },
            True,
            True,
        ),
    ],
)
def test_a_gateway_serves_what_its_http_gateway_selects(http: dict[str, Any], products: bool, internal: bool) -> None:
    chosen = gateway("g", http)
    assert (serves(chosen, PRODUCTS), serves(chosen, INTERNAL)) == (products, internal)


def test_tcp_gateways_serve_none_and_hybrid_ones_what_their_http_gateways_do() -> None:
    assert not serves(gateway("failover", tcpGateway={"tcpHosts": []}), INTERNAL)
    hybrid = gateway("hybrid", hybridGateway={"matchedGateways": [{"httpGateway": {}}]})
    assert serves(hybrid, INTERNAL) and serves(hybrid, PRODUCTS)


def test_the_default_gateway_serving_the_internal_routes_publicly_is_named_with_the_fix() -> None:
    [problem] = listener_problems([gateway("gateway-proxy", {})], VIRTUAL_SERVICES)
    assert problem.startswith(f"Gateway {NS}/gateway-proxy serves both loom-products and loom-internal")
    assert "virtualServiceSelector {loom.dev/listener: products}" in problem
    assert listener_problems([PUBLIC, PRIVATE], VIRTUAL_SERVICES) == []


def test_a_cluster_whose_gateways_serve_no_loom_routes_is_told_how_to_serve_them() -> None:
    problems = listener_problems([gateway("apps", {"virtualServiceNamespaces": ["apps"]})], VIRTUAL_SERVICES)
    assert [p.split(",")[0] for p in problems] == [
        "no Gateway serves loom-internal",
        "no Gateway serves loom-products",
    ]


@pytest.fixture
def fake() -> Iterator[FakeKube]:
    fake = FakeKube()
    with fake.serving():
        yield fake


async def test_the_kubernetes_target_reports_a_gateway_that_exposes_the_internal_routes(
    fake: FakeKube, tmp_path: Path
) -> None:
    """The installation's own Gateways (not Loom's) are read back: the default one makes the cluster's observation
    carry the warning (the fleet status then says degraded, with it); selecting per listener clears it."""
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", {"us-east": fake})
    spec = dataclasses.replace(FLEET["us-east"], target="kubernetes", kube_context="us-east")
    routing = route(DesiredState({**FLEET, "us-east": spec}, SERVICES, {"library": LIBRARY}, generation=3))["us-east"]
    url = f"/apis/gateway.solo.io/v1/namespaces/{NS}/gateways"
    async with (
        httpx.AsyncClient(base_url=fake.url, headers={"Authorization": f"Bearer {fake.token}"}) as kube,
        KubernetesTarget(spec, render=render, validate=validate_set, kubeconfig=kubeconfig) as target,
    ):
        await target.apply(routing)
        assert (await kube.post(url, json=gateway("gateway-proxy", {}))).status_code == 201
        seen = await target.observe(routing)
        assert [w.split(":")[0] for w in seen.warnings] == [
            f"Gateway {NS}/gateway-proxy serves both loom-products and loom-internal"
        ]
        assert all(v.state == "Accepted" or v.state == "Pending" for v in seen.verdicts)  # Loom's own objects are fine

        fixed = {**gateway("gateway-proxy", PUBLIC["spec"]["httpGateway"])}
        current = fake.get("Gateway", NS, "gateway-proxy")
        assert current is not None
        fixed["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        assert (await kube.put(f"{url}/gateway-proxy", json=fixed)).status_code == 200
        assert (await kube.post(url, json=PRIVATE)).status_code == 201
        assert (await target.observe(routing)).warnings == ()
