"""What ``apply`` refuses beyond a document's own shape, through a real database (SQLite and PostgreSQL): deployment
addresses outside the cluster's egress policy, routings that cannot be served, and the Cluster/Service settings the
sync worker reads (``spec.gateway``, ``spec.gloo.proxy``, ``spec.traffic``) stored and printed back."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from portal.db import session_scope
from portal.errors import Conflict, Invalid
from portal.manifests import Document, load_documents, parse_documents
from portal.models import AuditEvent, Cluster, Service
from portal.resources import apply, get
from portal.resources.egress import IPAddress
from portal.ssrf import RefusedTarget
from tests.portal._apply import ADMIN, counts, library_copy, run

pytestmark = pytest.mark.postgres

API = "loom.dev/v1alpha1"
SDL = "type Query { hello: String }"


def cluster(name: str, *, residency: str = "eu", **spec: Any) -> dict[str, Any]:
    gloo = spec.pop("gloo", {"target": "gitops"})
    return {
        "apiVersion": API,
        "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {"region": "r1", "residency": residency, "gloo": gloo, **spec},
    }


def team(name: str, *clusters: str) -> dict[str, Any]:
    placements = [{"cluster": c} for c in clusters]
    return {"apiVersion": API, "kind": "Team", "metadata": {"name": name}, "spec": {"placements": placements}}


def service(name: str, *deployments: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "Service",
        "metadata": {"name": name, "team": "hello"},
        "spec": {"protocol": "graphql", "schema": {"sdl": SDL}, "deployments": list(deployments), **spec},
    }


def resolver(table: dict[str, str]) -> Any:
    """A resolver over a fixed table (what this machine's DNS answers must not decide a test); None: unknown."""

    def resolve(host: str, port: int) -> list[IPAddress] | None:
        return [ipaddress.ip_address(table[host])] if host in table else None

    return resolve


NAMES = resolver({"localhost": "127.0.0.1", "internal.example": "10.9.8.7", "public.example": "93.184.216.34"})


def apply_docs(engine: Engine, documents: list[Document]) -> list[str]:
    with session_scope(engine) as session:
        return [c.line() for c in apply(session, ADMIN, documents, resolve=NAMES)]


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("http://169.254.169.254/latest", "169.254.169.254 is a cloud metadata address"),
        ("http://169.254.10.1:8080", "is link-local"),
        ("http://metadata.google.internal/", "metadata.google.internal is a cloud metadata host"),
        ("http://127.0.0.1:7301", "127.0.0.1 is a loopback address"),
        ("http://localhost:7301", r"localhost \(127.0.0.1\) is a loopback address"),
        ("http://[::ffff:127.0.0.1]:80", "is a loopback address"),
        ("http://10.1.2.3:8080", "10.1.2.3 is a private or reserved address"),
        ("http://internal.example:8080", r"internal.example \(10.9.8.7\) is a private or reserved address"),
    ],
)
def test_a_deployment_address_outside_the_egress_policy_is_refused(engine: Engine, address: str, reason: str) -> None:
    documents = parse_documents(
        [cluster("prod"), team("hello", "prod"), service("greeter", {"cluster": "prod", "address": address})]
    )
    before = counts(engine)
    with pytest.raises(RefusedTarget, match=reason) as info:
        apply_docs(engine, documents)
    message = str(info.value)
    assert message.startswith("request: document 3 (Service/greeter): spec.deployments[0].address: "), message
    assert "cluster 'prod''s egress policy" in message
    assert counts(engine) == before, "a refused apply must store nothing"


def test_the_cluster_policy_lets_addresses_through(engine: Engine) -> None:
    """allowedHosts and allowLoopback open what they name; public and unresolvable names pass (the gateway checks
    again where it connects)."""
    lab = cluster("lab", introspection={"allowLoopback": True, "allowedHosts": ["10.0.0.0/8"]})
    documents = parse_documents(
        [
            lab,
            team("hello", "lab"),
            service("a", {"cluster": "lab", "address": "http://10.1.2.3:8080"}),
            service("b", {"cluster": "lab", "address": "http://localhost:7301/graphql"}),
            service("c", {"cluster": "lab", "address": "https://public.example"}),
            service("d", {"cluster": "lab", "address": "http://only-the-cluster-knows.svc:80"}),
        ]
    )
    assert apply_docs(engine, documents)[-1] == "service/d created (version 1)"


def test_a_private_address_is_refused_in_a_cluster_that_lists_another_network(engine: Engine) -> None:
    documents = parse_documents(
        [
            cluster("lab", introspection={"allowedHosts": ["10.0.0.0/16"]}),
            team("hello", "lab"),
            service("a", {"cluster": "lab", "address": "http://10.1.2.3:8080"}),
        ]
    )
    with pytest.raises(RefusedTarget, match="allowedHosts"):
        apply_docs(engine, documents)


# --- spec.gateway, spec.gloo.proxy, spec.traffic ---------------------------------------------------------------------

PROXY = {"listener": "127.0.0.1:18000", "internal": "127.0.0.1:18001", "admin": "127.0.0.1:18002"}
TRAFFIC = {
    "connectTimeout": "1s",
    "requestTimeout": 5000,
    "healthCheck": {"path": "/ready", "interval": "100ms", "unhealthyThreshold": 2},
    "outlierDetection": {"consecutive5xx": 3, "enforcingPercent": 50, "baseEjectionTime": "1s"},
    "retries": {"attempts": 2, "perTryTimeout": "100ms"},
    "circuitBreakers": {"maxRetries": 64},
}


def settings_documents(traffic: dict[str, Any]) -> list[Document]:
    return parse_documents(
        [
            cluster(
                "local", gloo={"target": "local-envoy", "proxy": PROXY}, gateway={"address": "http://127.0.0.1:4101"}
            ),
            cluster("kube", gateway={"kube": {"service": "gw", "port": 8080}}),
            team("hello", "local", "kube"),
            service("greeter", {"cluster": "local", "address": "http://127.0.0.1:7301"}, traffic=traffic),
        ]
    )


def test_gateway_proxy_and_traffic_are_stored_and_printed_back(engine: Engine) -> None:
    assert apply_docs(engine, settings_documents(TRAFFIC))[-1] == "service/greeter created (version 1)"
    with Session(engine) as session:
        local = session.exec(select(Cluster).where(Cluster.name == "local")).one()
        assert local.gloo["proxy"] == PROXY and local.gateway == {"address": "http://127.0.0.1:4101"}
        greeter = session.exec(select(Service).where(Service.name == "greeter")).one()
        assert greeter.traffic == TRAFFIC
    with session_scope(engine) as session:
        printed = get(session, ADMIN, "clusters") + get(session, ADMIN, "teams") + get(session, ADMIN, "services")
    by_name = {r["metadata"]["name"]: r for r in printed}
    assert by_name["local"]["spec"]["gloo"]["proxy"] == PROXY
    assert by_name["kube"]["spec"]["gateway"] == {"kube": {"service": "gw", "port": 8080}}  # defaults left out
    assert by_name["greeter"]["spec"]["traffic"] == TRAFFIC
    assert all(line.endswith(" unchanged") for line in apply_docs(engine, parse_documents(printed)))

    changed = apply_docs(engine, settings_documents({"connectTimeout": "2s"}))
    assert changed[-1] == "service/greeter updated (traffic)"
    assert apply_docs(engine, settings_documents({}))[-1] == "service/greeter updated (traffic)"
    with Session(engine) as session:
        assert session.exec(select(Service).where(Service.name == "greeter")).one().traffic == {}


@pytest.mark.parametrize(
    ("document", "field", "reason"),
    [
        (
            cluster("c", gloo={"target": "gitops", "proxy": PROXY}),
            "spec.gloo",
            "proxy is where a local-envoy cluster's Envoy listens; a gitops cluster uses Gloo's gateway-proxy",
        ),
        (
            cluster("c", gloo={"target": "local-envoy", "proxy": {**PROXY, "admin": "18002"}}),
            "spec.gloo.proxy.admin",
            "'18002' is not host:port",
        ),
        (
            cluster("c", gateway={"address": "http://a:1", "kube": {"service": "gw"}}),
            "spec.gateway",
            "give exactly one of address or kube",
        ),
        (cluster("c", gateway={"address": "ftp://a"}), "spec.gateway.address", "must be an http:// or https:// URL"),
        (cluster("c", gateway={"kube": {"port": 0}}), "spec.gateway.kube.port", "greater than or equal to 1"),
        (service("s", traffic={"connectTimeout": "soon"}), "spec.traffic.connectTimeout", "'soon' is not a duration"),
        (service("s", traffic={"requestTimeout": "0ms"}), "spec.traffic.requestTimeout", "must be positive"),
        (service("s", traffic={"retries": {"tries": 2}}), "spec.traffic.retries.tries", "unknown field"),
        (
            service("s", traffic={"outlierDetection": {"enforcingPercent": 101}}),
            "spec.traffic.outlierDetection.enforcingPercent",
            "less than or equal to 100",
        ),
        (
            service("s", traffic={"healthCheck": {"path": "ready"}}),
            "spec.traffic.healthCheck.path",
            "must start with '/'",
        ),
    ],
)
def test_bad_settings_name_the_field(document: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(Invalid) as info:
        parse_documents([document])
    assert f": {field}: " in str(info.value) and reason in str(info.value), str(info.value)


# --- routing ------------------------------------------------------------------------------------------------------


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def refused(engine: Engine, documents: list[Document], match: str) -> str:
    before = counts(engine)
    with pytest.raises(Invalid, match=match) as info:
        run(engine, documents)
    assert counts(engine) == before, "a refused apply must change nothing"
    return str(info.value)


def test_a_residency_that_no_routed_cluster_has_is_refused(engine: Engine, tmp_path: Path) -> None:
    library = library_copy(tmp_path / "library")
    edit(
        library / "product.yaml",
        "routing: {clusters: [eu-central], residency: eu}",
        "routing: {clusters: [us-east], residency: eu}",
    )
    message = refused(engine, load_documents([library]), "residency 'eu' is in none of the routed clusters")
    assert "(Product/library-eu): spec.routing.residency: " in message and "us-east (us)" in message


def test_a_cluster_without_a_reachable_deployment_is_refused(engine: Engine, tmp_path: Path) -> None:
    """us-west has no loans deployment; without failover gateways elsewhere it could not reach one."""
    library = library_copy(tmp_path / "library")
    for name in ("11", "12", "13"):
        edit(library / "clusters.yaml", f", failoverGateway: {{host: 127.0.0.{name}, port: 15443}}", "")
    message = refused(engine, load_documents([library]), "routed to cluster 'us-west', where service 'loans'")
    assert "(Product/library): spec.routing.clusters[1]: " in message
    assert "no cluster that has one (eu-central, us-east) has a failover gateway" in message


def test_removing_the_deployments_a_published_product_needs_is_refused(engine: Engine, tmp_path: Path) -> None:
    library = library_copy(tmp_path / "library")
    run(engine, load_documents([library]))
    edit(
        library / "services.yaml",
        '    - {cluster: eu-central, address: "http://127.0.0.1:7303", healthCheck: {path: /healthz}}\n',
        "",
    )
    message = refused(
        engine,
        load_documents([library / "services.yaml"]),
        "service 'members' has no deployment in residency zone 'eu'",
    )
    assert message.startswith("product 'library-eu': ")


def test_a_narrower_egress_policy_must_not_strand_stored_deployments(engine: Engine) -> None:
    lab = cluster("lab", introspection={"allowLoopback": True})
    apply_docs(
        engine,
        parse_documents([lab, team("hello", "lab"), service("a", {"cluster": "lab", "address": "http://127.0.0.1:9"})]),
    )
    before = counts(engine)
    with pytest.raises(RefusedTarget) as info:
        apply_docs(engine, parse_documents([cluster("lab")]))
    message = str(info.value)
    assert message.startswith("request: document 1 (Cluster/lab): spec.introspection: the deployment of service 'a'")
    assert "127.0.0.1 is a loopback address" in message
    assert counts(engine) == before
    # Moving the deployment in the same apply is fine.
    moved = service("a", {"cluster": "lab", "address": "https://public.example"})
    assert apply_docs(engine, parse_documents([cluster("lab"), moved])) == [
        "cluster/lab updated (allow_loopback)",
        "service/a updated (deployments)",
    ]


def test_a_draft_version_may_not_silently_replace_the_published_one(engine: Engine, tmp_path: Path) -> None:
    library = library_copy(tmp_path / "library")
    run(engine, load_documents([library]))
    sources = "sources: [{service: members}, {service: loans}"
    edit(library / "product.yaml", f"version: 1.0.0\n  lifecycle: published\n  {sources}",
         f"version: 2.0.0\n  lifecycle: draft\n  {sources}")  # fmt: skip
    before = counts(engine)
    with pytest.raises(Conflict, match="would stop serving published product 'library': its current version would"):
        run(engine, load_documents([library]))
    assert counts(engine) == before
    assert "product/library updated (version 2.0.0)" in run(engine, load_documents([library]), force=True)
    with Session(engine) as session:
        forced = session.exec(select(AuditEvent).where(AuditEvent.action == "service.publish.force")).one()
        assert forced.summary == {"breaking": ["the product is no longer served (version 2.0.0 is a draft)"]}
